// Package commitlog holds the commit log: every message of every topic, as
// RocketMQ records (package message), appended to fixed-size mapped segments
// (package segment) named by the offset of their first byte.
//
// A record never spans two segments: when the next record does not fit, the
// rest of the segment is declared blank with an 8-byte BLANK marker and the
// record goes to the start of the next segment, which was created and warmed
// ahead of need.
//
// Concurrency: Append, Roll and Truncate belong to one goroutine (the store's
// appender). Read and ReadRecord may run concurrently with them and with each
// other; they only see bytes below the published write offset. Sync belongs
// to one goroutine (the flusher) and may run concurrently with Append.
package commitlog

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/segment"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// DefaultSegmentSize is RocketMQ's mappedFileSizeCommitLog, 1 GiB.
const DefaultSegmentSize = 1 << 30

// Errors returned by Log methods.
var (
	// ErrTooLarge: the record does not fit in an empty segment (Append).
	ErrTooLarge = errors.New("commitlog: record larger than a segment")
	// ErrNotFound: no record is stored at the offset (Read, ReadRecord).
	ErrNotFound = errors.New("commitlog: offset not stored")
)

// CorruptionError reports a damaged record: recovery and reads return it, and
// the record is never served.
type CorruptionError struct {
	Segment string // segment file path
	Offset  int64  // commit-log offset of the record
	Err     error  // what is wrong, wraps message.ErrCorrupt
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("commitlog: corrupt record at offset %d in segment %s: %v", e.Offset, e.Segment, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Options configure a Log.
type Options struct {
	SegmentSize int  // bytes per segment
	Warm        bool // pre-fault new segments
	// PrefaultAhead keeps this many bytes past the write position faulted
	// in, by a goroutine of the log, so appends are plain memory copies (0:
	// off). The pages are dirtied with zeros, so the next fdatasync writes
	// them out: for ASYNC_FLUSH, not for a sync after every few messages.
	PrefaultAhead int
	// WriteThrough writes records with pwrite rather than through the
	// mapping: for SYNC_FLUSH, where an fdatasync follows every few
	// records. On ext4 an fdatasync after writes through a mapping slowed
	// from ~7,300 to ~2,200 per second once a few hundred MiB had been
	// written that way; after pwrite it stayed at ~7,500.
	WriteThrough bool
}

// Log is the commit log.
type Log struct {
	segs *segment.Queue
	size int
	pf   *prefaulter // nil when off

	writeThrough bool
	scratch      []byte // a record being encoded for WriteThrough (appender only)
}

// prefaultChunk is how far the write position moves between two requests
// to the prefaulter, and the least it prefaults at once.
const prefaultChunk = 1 << 20

// prefaulter keeps the pages ahead of the write position faulted in. It only
// ever faults pages in (no byte changes), so it never races the appender.
type prefaulter struct {
	ahead int
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	seg   int64 // base of the segment prefaulted so far (loop only)
	upto  int   // prefaulted up to here in it, relative (loop only)
}

// Open loads the segments under dir. Their write positions are 0 until
// Recover sets them.
func Open(fs vfs.FS, dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < 4096 {
		return nil, fmt.Errorf("commitlog: segment size %d below 4096", opts.SegmentSize)
	}
	segs, err := segment.OpenQueue(fs, filepath.Clean(dir), segment.QueueOptions{
		SegmentSize: opts.SegmentSize, Preallocate: true, Warm: opts.Warm,
	})
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	l := &Log{segs: segs, size: opts.SegmentSize, writeThrough: opts.WriteThrough}
	if opts.PrefaultAhead > 0 {
		l.pf = &prefaulter{
			ahead: max(opts.PrefaultAhead, prefaultChunk), wake: make(chan struct{}, 1),
			stop: make(chan struct{}), done: make(chan struct{}), seg: -1,
		}
		go l.prefaultLoop()
	}
	return l, nil
}

// prefaultLoop prefaults the last segment ahead of the write position each
// time the appender asks. The queue's read lock (View) is held meanwhile,
// so the segment cannot be unmapped under it. The first failure (a kernel
// without MADV_POPULATE_WRITE) ends it: appends then fault as they go.
func (l *Log) prefaultLoop() {
	defer close(l.pf.done)
	for {
		select {
		case <-l.pf.stop:
			return
		case <-l.pf.wake:
		}
		last := l.segs.Last()
		if last == nil || !last.CanPrefault() {
			continue
		}
		var err error
		l.segs.View(last.Base(), func(f *segment.File) {
			p := l.pf
			if f.Base() != p.seg {
				p.seg, p.upto = f.Base(), 0
			}
			w := f.Wrote()
			from, to := max(p.upto, w), min(f.Size(), w+p.ahead)
			if to-from < prefaultChunk && to < f.Size() {
				return
			}
			if err = f.Prefault(from, to-from); err == nil {
				p.upto = to
			}
		})
		if err != nil {
			return
		}
	}
}

// SegmentSize is the fixed segment size.
func (l *Log) SegmentSize() int { return l.size }

// MinOffset is the offset of the first byte still held.
func (l *Log) MinOffset() int64 { return l.segs.MinOffset() }

// WriteOffset is the offset where the next record goes.
func (l *Log) WriteOffset() int64 { return l.segs.WriteOffset() }

// Segments lists the segments, oldest first.
func (l *Log) Segments() []*segment.File { return l.segs.Segments() }

// Reserve returns where a record of size bytes will be written, rolling to a
// new segment (after a BLANK marker) when it does not fit in the current
// one. It fails without changing anything when the new segment cannot be
// created (for example the disk is full). Appender only.
func (l *Log) Reserve(size int) (*segment.File, error) {
	if size+message.BlankSize > l.size {
		return nil, fmt.Errorf("%w: %d bytes, segment size %d", ErrTooLarge, size, l.size)
	}
	f := l.segs.Last()
	if f != nil && f.Wrote()+size+message.BlankSize <= f.Size() {
		return f, nil
	}
	var base int64
	if f != nil {
		base = f.End()
	}
	nf, err := l.segs.Roll(base)
	if err != nil {
		return nil, fmt.Errorf("commitlog: new segment at %d: %w", base, err)
	}
	if f != nil {
		if w := f.Wrote(); w < f.Size() {
			rest := f.Size() - w
			if rest >= message.BlankSize {
				message.PutBlank(f.Data()[w:], rest)
			}
			f.SetWrote(f.Size())
		}
	}
	return nf, nil
}

// Prepare starts creating the next segment in the background.
func (l *Log) Prepare() { l.segs.Prepare() }

// Append encodes m at the end of the log, setting m.PhysicalOffset and
// m.StoreTimestamp's slot as given, and publishes it. It returns the record's
// offset and size. Appender only.
func (l *Log) Append(m *message.Message) (int64, int, error) {
	size, err := m.RecordSize()
	if err != nil {
		return 0, 0, err
	}
	f, err := l.Reserve(size)
	if err != nil {
		return 0, 0, err
	}
	w := f.Wrote()
	m.PhysicalOffset = f.Base() + int64(w)
	if l.writeThrough {
		if cap(l.scratch) < size {
			l.scratch = make([]byte, size)
		}
		b := l.scratch[:size]
		if _, err := m.Encode(b); err != nil {
			return 0, 0, err
		}
		if err := f.WriteAt(b, w); err != nil {
			return 0, 0, fmt.Errorf("commitlog: %w", err)
		}
	} else if _, err := m.Encode(f.Data()[w : w+size]); err != nil {
		return 0, 0, err
	}
	f.SetWrote(w + size)
	if l.pf != nil && (w+size)/prefaultChunk != w/prefaultChunk {
		select {
		case l.pf.wake <- struct{}{}:
		default:
		}
	}
	return m.PhysicalOffset, size, nil
}

// Sync makes everything appended so far durable and returns the durable
// offset. Flusher only.
func (l *Log) Sync() (int64, error) {
	off, err := l.segs.Sync()
	if err != nil {
		return off, fmt.Errorf("commitlog: %w", err)
	}
	return off, nil
}

// FlushedOffset is the offset up to which the log is known durable (what
// Sync last returned).
func (l *Log) FlushedOffset() int64 { return l.segs.DurableOffset() }

// ReadRecord copies the record at offset into dst (appending) after checking
// its length, layout, body CRC and that its PHYSICALOFFSET is offset. A
// damaged record gives a *CorruptionError; an offset past the write offset,
// below the first segment or at an end-of-segment BLANK marker gives
// ErrNotFound.
func (l *Log) ReadRecord(dst []byte, offset int64) ([]byte, error) {
	var err error
	found := l.segs.View(offset, func(f *segment.File) {
		rel := int(offset - f.Base())
		w := f.Wrote()
		if rel >= w {
			err = fmt.Errorf("%w: %d is past the write offset", ErrNotFound, offset)
			return
		}
		data := f.Data()[rel:w]
		m, n, derr := message.Decode(data, true)
		switch {
		case errors.Is(derr, message.ErrBlank):
			err = fmt.Errorf("%w: %d is the end-of-segment marker", ErrNotFound, offset)
			return
		case derr == nil && m.PhysicalOffset != offset:
			// A valid record that says it is elsewhere: the offset is not
			// a record boundary (a record inside another's body) or the
			// record was damaged where the CRC does not look.
			derr = fmt.Errorf("%w: record at %d says it is at %d", message.ErrCorrupt, offset, m.PhysicalOffset)
		}
		if derr != nil {
			err = &CorruptionError{Segment: f.Path(), Offset: offset, Err: derr}
			return
		}
		dst = append(dst, data[:n]...)
	})
	if !found {
		return dst, fmt.Errorf("%w: %d", ErrNotFound, offset)
	}
	return dst, err
}

// Scan reads records from offset up to limit in order, calling fn with each
// valid record's offset and bytes (aliasing the mapping; valid during fn).
// It steps over BLANK markers into the next segment. It stops at limit (a
// record that would cross it is left for a later scan), at the write
// offset, or at the first invalid record, and returns the offset where it
// stopped; an invalid record is returned as a *CorruptionError (the caller
// decides whether it is a torn tail). An error from fn stops the scan at
// that record and is returned as is. A BLANK marker that starts before
// limit is stepped over to the end of its segment.
func (l *Log) Scan(offset, limit int64, checkCRC bool, fn func(off int64, rec []byte) error) (int64, error) {
	for offset < limit {
		var next int64
		var ferr error
		atLimit := false
		found := l.segs.View(offset, func(f *segment.File) {
			rel := int(offset - f.Base())
			data := f.Data()
			w := int64(f.Wrote())
			end := min(w, limit-f.Base())
			for int64(rel) < end {
				if end < w && crossesLimit(data[rel:w], int(end)-rel) {
					atLimit = true
					break
				}
				_, n, err := message.Decode(data[rel:end], checkCRC)
				if errors.Is(err, message.ErrBlank) {
					rel = f.Size()
					break
				}
				if err != nil {
					ferr = &CorruptionError{Segment: f.Path(), Offset: f.Base() + int64(rel), Err: err}
					break
				}
				if err := fn(f.Base()+int64(rel), data[rel:rel+n]); err != nil {
					ferr = err
					break
				}
				rel += n
			}
			next = f.Base() + int64(rel)
			if int64(rel) >= end && end < int64(f.Size()) {
				// Reached the write offset or the limit inside this segment.
				limit = next
			}
		})
		if !found {
			return offset, nil
		}
		if atLimit {
			return next, nil
		}
		if ferr != nil {
			var ce *CorruptionError
			if errors.As(ferr, &ce) {
				return ce.Offset, ferr
			}
			return next, ferr
		}
		offset = next
	}
	return offset, nil
}

// crossesLimit reports whether b starts with what looks like a whole record
// or BLANK marker (within b) that runs past limit bytes: Scan stops before it
// rather than calling it corrupt.
func crossesLimit(b []byte, limit int) bool {
	size, magic, ok := message.Size(b)
	switch {
	case !ok:
		return false
	case magic == message.MagicBlank:
		return limit < message.BlankSize
	case magic == message.MagicV1 || magic == message.MagicV2:
		return size > limit && size <= len(b)
	}
	return false
}

// View calls fn with the mapped bytes of the segment holding offset, from
// offset to the segment's write position, under the segment read lock.
func (l *Log) View(offset int64, fn func(seg *segment.File, b []byte)) bool {
	return l.segs.View(offset, func(f *segment.File) {
		rel := int(offset - f.Base())
		w := f.Wrote()
		if rel > w {
			rel = w
		}
		fn(f, f.Data()[rel:w])
	})
}

// tailQuiet is how many zero bytes past the recovered end mark the last
// segment's tail as clean (segment.File.ClearTail).
const tailQuiet = 8 << 20

// Truncate drops everything at or after offset (recovery): later segments
// are deleted, and in the segment holding offset whatever lies past it
// (records truncated away, or torn by the crash) is zeroed durably, so no
// later scan, after new records have been appended up to it, can take a
// stale record for a new one, and FindNextRecord cannot find one. It never
// moves the write offset forward. Appender only.
func (l *Log) Truncate(offset int64) error {
	if err := l.segs.TruncateFrom(offset); err != nil {
		return fmt.Errorf("commitlog: truncate at %d: %w", offset, err)
	}
	f := l.segs.Last()
	if f == nil {
		return nil
	}
	if err := f.ClearTail(f.Wrote(), tailQuiet); err != nil {
		return fmt.Errorf("commitlog: clear past %d: %w", offset, err)
	}
	return nil
}

// SetWriteOffset sets the write and flush positions after recovery: the
// segment holding end (or ending at it) gets them; segments past it are
// removed by Truncate.
func (l *Log) SetWriteOffset(end int64) {
	for _, f := range l.segs.Segments() {
		switch {
		case f.End() <= end:
			f.SetWrote(f.Size())
			f.SetFlushed(f.Size())
		case f.Base() <= end:
			f.SetWrote(int(end - f.Base()))
			f.SetFlushed(int(end - f.Base()))
		}
	}
}

// RemoveFirst deletes the oldest segment (retention); never the last one.
func (l *Log) RemoveFirst() error { return l.segs.RemoveFirst() }

// Close closes every segment.
func (l *Log) Close() error {
	if l.pf != nil {
		select {
		case <-l.pf.stop:
		default:
			close(l.pf.stop)
		}
		<-l.pf.done
	}
	return l.segs.Close()
}

// ForceSync syncs every segment that holds bytes at or after from, even if
// it is believed durable: after a crash, recovered bytes may sit only in the
// page cache. It returns the durable offset.
func (l *Log) ForceSync(from int64) (int64, error) {
	for _, f := range l.segs.Segments() {
		if f.End() > from {
			f.SetFlushed(0)
		}
	}
	return l.Sync()
}

// FindNextRecord looks for the first valid record (correct length, CRC and
// PHYSICALOFFSET) that starts after offset and within window bytes of it in
// the same segment. It is how recovery tells a damaged record in the middle
// (a valid one follows) from a torn tail (nothing follows).
func (l *Log) FindNextRecord(offset int64, window int) (int64, bool) {
	var next int64
	var found bool
	l.segs.View(offset, func(f *segment.File) {
		data := f.Data()[:f.Wrote()]
		rel := int(offset - f.Base())
		limit := len(data)
		if window < limit-rel {
			limit = rel + max(window, 0)
		}
		for p := rel + 1; p+8 <= limit; p++ {
			_, magic, _ := message.Size(data[p:])
			if magic == message.MagicBlank {
				if size, _, _ := message.Size(data[p:]); size == f.Size()-p {
					next, found = f.Base()+int64(p), true
					return
				}
				continue
			}
			if magic != message.MagicV1 && magic != message.MagicV2 {
				continue
			}
			m, _, err := message.Decode(data[p:], true)
			if err == nil && m.PhysicalOffset == f.Base()+int64(p) {
				next, found = m.PhysicalOffset, true
				return
			}
		}
	})
	return next, found
}
