package namesrv

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	// DefaultAddr is RocketMQ's name server port.
	DefaultAddr = ":9876"
	// DefaultScanInterval is scanNotActiveBrokerInterval.
	DefaultScanInterval = 5 * time.Second
)

// Options configure a Server. Zero fields take their defaults.
type Options struct {
	// Addr is the TCP address to listen on (default ":9876"; use
	// "127.0.0.1:0" for a free port).
	Addr string
	// ScanInterval is how often brokers are checked for expiry (default
	// 5 s). The first check runs one interval after Start.
	ScanInterval time.Duration
	// Logger receives the name server's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock that stamps registrations and heartbeats (default
	// time.Now).
	Now func() time.Time
}

// DefaultOptions returns the options of a stand-alone name server.
func DefaultOptions() Options {
	return Options{Addr: DefaultAddr, ScanInterval: DefaultScanInterval}
}

// Validate reports an option that cannot work.
func (o Options) Validate() error {
	if o.ScanInterval < 0 {
		return fmt.Errorf("namesrv: negative ScanInterval %v", o.ScanInterval)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.ScanInterval == 0 {
		o.ScanInterval = DefaultScanInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
