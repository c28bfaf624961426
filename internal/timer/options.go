package timer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// Defaults of Options (RocketMQ's names in parentheses).
const (
	DefaultPrecisionMs   = 1000                // timerPrecisionMs
	MinPrecisionMs       = 100                 // the finest slot we accept
	DefaultMaxDelay      = 40 * 24 * time.Hour // timerMaxDelaySec (RocketMQ: 3 days)
	MaxMaxDelay          = 365 * 24 * time.Hour
	DefaultRollWindow    = 2 * 24 * time.Hour // timerRollWindowSlot × timerPrecisionMs
	DefaultFlushInterval = time.Second        // timerFlushIntervalMs
	DefaultRetryInterval = time.Second
	DefaultSegmentUnits  = 1 << 20 // units per timer-log segment (72 MiB)
)

// Options configure a Service. Zero fields take the defaults above.
type Options struct {
	// Dir is the store's root (storePathRootDir): the wheel is Dir/timerwheel,
	// the log Dir/timerlog/, the checkpoint Dir/config/timercheck.json.
	Dir string
	// FS is the file system of Dir; nil means the operating system's.
	FS vfs.FS
	// Disabled refuses timer messages (timerWheelEnable=false).
	Disabled bool
	// PrecisionMs is the slot length in ms (timerPrecisionMs, 1000; at
	// least 100). Timers are delivered at their exact time all the same;
	// the precision sets the wheel's granularity and how early a slot is
	// read.
	PrecisionMs int64
	// MaxDelay is the longest delay accepted (timerMaxDelaySec, 40 days;
	// at most a year).
	MaxDelay time.Duration
	// RollWindow is how far ahead the wheel reaches (timerRollWindowSlot ×
	// precision, 2 days): a timer further out is parked at the window's end
	// and stored again there ("rolled"), as often as needed.
	RollWindow time.Duration
	// FlushInterval is the checkpoint period (timerFlushIntervalMs, 1 s).
	FlushInterval time.Duration
	// RetryInterval is the wait after a delivery the store refused for a
	// reason that may pass, such as a full disk (1 s).
	RetryInterval time.Duration
	// SegmentUnits is the number of units per timer-log segment.
	SegmentUnits int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.PrecisionMs == 0 {
		o.PrecisionMs = DefaultPrecisionMs
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.RollWindow == 0 {
		o.RollWindow = DefaultRollWindow
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.SegmentUnits == 0 {
		o.SegmentUnits = DefaultSegmentUnits
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports every invalid setting, by RocketMQ's key.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("timer: Dir must be set"))
	}
	if o.PrecisionMs < MinPrecisionMs || o.PrecisionMs > 60_000 {
		errs = append(errs, fmt.Errorf("timerPrecisionMs: %d is outside [%d, 60000]", o.PrecisionMs, MinPrecisionMs))
	}
	if o.MaxDelay < 0 || o.MaxDelay > MaxMaxDelay {
		errs = append(errs, fmt.Errorf("timerMaxDelaySec: %d is outside [1, %d]", int64(o.MaxDelay/time.Second), int64(MaxMaxDelay/time.Second)))
	}
	if o.PrecisionMs > 0 && o.RollWindow.Milliseconds() < 4*o.PrecisionMs {
		errs = append(errs, fmt.Errorf("timerRollWindowSlot: the roll window %v must span at least 4 slots", o.RollWindow))
	}
	if o.PrecisionMs > 0 && o.RollWindow.Milliseconds()/o.PrecisionMs > 1<<30 {
		errs = append(errs, fmt.Errorf("timerRollWindowSlot: the roll window %v is over 2^30 slots", o.RollWindow))
	}
	if o.FlushInterval < 0 || o.RetryInterval < 0 || o.SegmentUnits < 0 {
		errs = append(errs, errors.New("timer: negative interval or segment size"))
	}
	return errors.Join(errs...)
}
