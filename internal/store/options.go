package store

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/quiver-mq/quiver/internal/store/commitlog"
	"github.com/quiver-mq/quiver/internal/store/consumequeue"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// FlushDiskType selects when an append is acknowledged.
type FlushDiskType int

const (
	// AsyncFlush acknowledges once the record is in the page cache; a
	// background loop flushes on an interval (RocketMQ ASYNC_FLUSH).
	AsyncFlush FlushDiskType = iota
	// SyncFlush acknowledges only after an fdatasync covers the record;
	// concurrent appenders share syncs (group commit) (SYNC_FLUSH).
	SyncFlush
)

func (t FlushDiskType) String() string {
	if t == SyncFlush {
		return "SYNC_FLUSH"
	}
	return "ASYNC_FLUSH"
}

// ParseFlushDiskType parses RocketMQ's flushDiskType values.
func ParseFlushDiskType(s string) (FlushDiskType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ASYNC_FLUSH":
		return AsyncFlush, nil
	case "SYNC_FLUSH":
		return SyncFlush, nil
	}
	return 0, fmt.Errorf("store: flushDiskType %q: want ASYNC_FLUSH or SYNC_FLUSH", s)
}

// Options configure a Store. Zero values take the defaults of
// DefaultOptions; RocketMQ's config key is named next to each field.
type Options struct {
	// Dir is the store root (storePathRootDir).
	Dir string
	// CommitLogDir overrides Dir/commitlog (storePathCommitLog).
	CommitLogDir string
	// FS is the file system; nil means the operating system's.
	FS vfs.FS
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger

	// SegmentSize is the commit-log segment size in bytes
	// (mappedFileSizeCommitLog, default 1 GiB).
	SegmentSize int
	// ConsumeQueueUnits is the number of 20-byte units per consume-queue
	// segment (mappedFileSizeConsumeQueue / 20, default 300,000).
	ConsumeQueueUnits int
	// IndexSlots and IndexEntries size an index file (maxHashSlotNum 5M,
	// maxIndexNum 20M).
	IndexSlots   int
	IndexEntries int
	// WarmSegments pre-faults new commit-log segments (warmMapedFileEnable,
	// false): appends then skip page faults, but warming writes the whole
	// segment once, and an append that needs the segment being warmed
	// waits for it.
	WarmSegments bool

	// FlushDiskType is ASYNC_FLUSH or SYNC_FLUSH (flushDiskType).
	FlushDiskType FlushDiskType
	// FlushInterval is the async flush period (flushIntervalCommitLog, 500 ms).
	FlushInterval time.Duration
	// FlushConsumeQueueInterval is the period at which consume queues, the
	// index and the checkpoint are made durable (flushIntervalConsumeQueue, 1 s).
	FlushConsumeQueueInterval time.Duration
	// SyncFlushTimeout bounds the wait for a sync flush (syncFlushTimeout, 5 s).
	SyncFlushTimeout time.Duration

	// MaxMessageSize is the largest body accepted (maxMessageSize, 4 MiB).
	MaxMessageSize int
	// StoreHost is written into every record and offset message id.
	StoreHost netip.AddrPort

	// FileReservedTime is how long commit-log segments are kept
	// (fileReservedTime, 72 h).
	FileReservedTime time.Duration
	// DeleteWhen lists the hours of the day at which expired segments are
	// deleted, "04" or "04;05" (deleteWhen).
	DeleteWhen string
	// DiskMaxUsedSpaceRatio: above this share of the disk in use, appends are
	// refused (diskMaxUsedSpaceRatio, 0.75).
	DiskMaxUsedSpaceRatio float64
	// DiskCleanRatio: above this share, expired segments are deleted at once
	// instead of waiting for DeleteWhen (0.70).
	DiskCleanRatio float64
	// CleanForcibly deletes the oldest segments even before they expire while
	// appends are refused for lack of disk (cleanFileForciblyEnable, true).
	CleanForcibly bool
	// CleanInterval is how often disk usage and retention are checked (10 s).
	CleanInterval time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TagsCode, if set, may replace the consume-queue tag code computed from
	// TAGS: when it returns ok, its code is written instead (delay levels
	// store their deliver time there). It runs on the dispatcher and in
	// recovery and must be pure.
	TagsCode func(topic string, properties []byte, storeTimestamp int64) (code int64, ok bool)
	// OnDispatch, if set, is called by the dispatcher after a message becomes
	// readable in a consume queue (long polling hooks in here). It must not
	// block.
	OnDispatch func(topic string, queueID int32, queueOffset int64)
}

// DefaultOptions returns RocketMQ's defaults for a store rooted at dir.
func DefaultOptions(dir string) Options {
	return Options{
		Dir:                       dir,
		SegmentSize:               commitlog.DefaultSegmentSize,
		ConsumeQueueUnits:         consumequeue.DefaultUnitsPerSegment,
		IndexSlots:                5_000_000,
		IndexEntries:              20_000_000,
		FlushDiskType:             AsyncFlush,
		FlushInterval:             500 * time.Millisecond,
		FlushConsumeQueueInterval: time.Second,
		SyncFlushTimeout:          5 * time.Second,
		MaxMessageSize:            4 << 20,
		StoreHost:                 netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 10911),
		FileReservedTime:          72 * time.Hour,
		DeleteWhen:                "04",
		DiskMaxUsedSpaceRatio:     0.75,
		DiskCleanRatio:            0.70,
		CleanForcibly:             true,
		CleanInterval:             10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions(o.Dir)
	if o.CommitLogDir == "" {
		o.CommitLogDir = o.Dir + "/commitlog"
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	setZero(&o.SegmentSize, d.SegmentSize)
	setZero(&o.ConsumeQueueUnits, d.ConsumeQueueUnits)
	setZero(&o.IndexSlots, d.IndexSlots)
	setZero(&o.IndexEntries, d.IndexEntries)
	setZero(&o.FlushInterval, d.FlushInterval)
	setZero(&o.FlushConsumeQueueInterval, d.FlushConsumeQueueInterval)
	setZero(&o.SyncFlushTimeout, d.SyncFlushTimeout)
	setZero(&o.MaxMessageSize, d.MaxMessageSize)
	setZero(&o.FileReservedTime, d.FileReservedTime)
	setZero(&o.DeleteWhen, d.DeleteWhen)
	setZero(&o.DiskMaxUsedSpaceRatio, d.DiskMaxUsedSpaceRatio)
	setZero(&o.DiskCleanRatio, d.DiskCleanRatio)
	setZero(&o.CleanInterval, d.CleanInterval)
	if !o.StoreHost.IsValid() {
		o.StoreHost = d.StoreHost
	}
	return o
}

func setZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first invalid setting, naming RocketMQ's key.
func (o Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("storePathRootDir: must be set"))
	}
	if o.SegmentSize != 0 && o.SegmentSize < 64<<10 {
		errs = append(errs, fmt.Errorf("mappedFileSizeCommitLog: %d is below 65536", o.SegmentSize))
	}
	if o.MaxMessageSize < 0 || (o.SegmentSize != 0 && o.MaxMessageSize+(64<<10) > o.SegmentSize) {
		errs = append(errs, fmt.Errorf("maxMessageSize: %d does not fit a %d-byte commit-log segment", o.MaxMessageSize, o.SegmentSize))
	}
	if o.DiskMaxUsedSpaceRatio < 0 || o.DiskMaxUsedSpaceRatio > 1 {
		errs = append(errs, fmt.Errorf("diskMaxUsedSpaceRatio: %v is not in [0, 1]", o.DiskMaxUsedSpaceRatio))
	}
	if o.DiskCleanRatio < 0 || o.DiskCleanRatio > 1 {
		errs = append(errs, fmt.Errorf("diskCleanRatio: %v is not in [0, 1]", o.DiskCleanRatio))
	}
	if o.FileReservedTime < 0 {
		errs = append(errs, fmt.Errorf("fileReservedTime: %v is negative", o.FileReservedTime))
	}
	if o.DeleteWhen != "" {
		if _, err := ParseDeleteWhen(o.DeleteWhen); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: invalid options: %w", err)
	}
	return nil
}

// ParseDeleteWhen parses deleteWhen: hours of the day separated by ';'.
func ParseDeleteWhen(s string) ([]int, error) {
	var hours []int
	for _, p := range strings.Split(s, ";") {
		h, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || h < 0 || h > 23 {
			return nil, fmt.Errorf("deleteWhen: %q is not a list of hours 0-23 separated by ';'", s)
		}
		hours = append(hours, h)
	}
	return hours, nil
}
