// Package consumequeue holds the consume queue of one topic queue: a logical
// file of fixed 20-byte units, unit n describing the message with queue
// offset n, split into fixed-size segments (package segment).
//
// # Unit layout (frozen; big-endian)
//
//	+----------------------+-------------+-------------------+
//	| commitLogOffset int64| size int32  | tagsCode int64    |
//	+----------------------+-------------+-------------------+
//	0                      8             12                  20
//
// A unit with size <= 0 or commitLogOffset < 0 ends the queue during
// recovery. Blank units (0, math.MaxInt32, 0) fill holes (queue offsets
// before the first stored unit) and are skipped by readers.
//
// Concurrency: one goroutine (the store's dispatcher) writes; any number read.
// Readers see a unit only after its write offset has been published.
package consumequeue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/quiver-mq/quiver/internal/store/segment"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// UnitSize is the size of one unit (frozen).
const UnitSize = 20

// DefaultUnitsPerSegment is RocketMQ's mappedFileSizeConsumeQueue / 20.
const DefaultUnitsPerSegment = 300_000

// Unit is one consume-queue entry.
type Unit struct {
	CommitLogOffset int64
	Size            int32
	TagsCode        int64
}

// Blank reports whether u is a filler unit.
func (u Unit) Blank() bool { return u.Size == math.MaxInt32 && u.CommitLogOffset == 0 }

// valid reports whether u may be a real or filler unit (recovery's rule).
func (u Unit) valid() bool { return u.CommitLogOffset >= 0 && u.Size > 0 }

// Put encodes u into b[:UnitSize].
func (u Unit) Put(b []byte) {
	binary.BigEndian.PutUint64(b, uint64(u.CommitLogOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(u.Size))
	binary.BigEndian.PutUint64(b[12:], uint64(u.TagsCode))
}

// DecodeUnit decodes one unit; ok is false when b is too short.
func DecodeUnit(b []byte) (u Unit, ok bool) {
	if len(b) < UnitSize {
		return Unit{}, false
	}
	return Unit{
		CommitLogOffset: int64(binary.BigEndian.Uint64(b)),
		Size:            int32(binary.BigEndian.Uint32(b[8:])),
		TagsCode:        int64(binary.BigEndian.Uint64(b[12:])),
	}, true
}

// ScanUnits returns the number of leading valid units in b: the recovered
// length of a consume-queue segment image. It never fails.
func ScanUnits(b []byte) int {
	n := 0
	for ; (n+1)*UnitSize <= len(b); n++ {
		u, _ := DecodeUnit(b[n*UnitSize:])
		if !u.valid() {
			break
		}
	}
	return n
}

// Errors returned by Queue methods.
var (
	// ErrOffsetGap: Put was given a queue offset past the end (Put).
	ErrOffsetGap = errors.New("consumequeue: queue offset leaves a gap")
)

// Queue is the consume queue of one topic and queue id.
type Queue struct {
	Topic   string
	QueueID int32

	segs *segment.Queue
	// minOffset is the first queue offset not deleted by retention.
	minOffset atomic.Int64
	// maxPhys is commitLogOffset+size of the last unit (dedupe on redispatch).
	maxPhys atomic.Int64
	// lastTimestamp is the store time of the last unit written (unused in
	// recovery; the checkpoint carries it).
}

// Open loads (and recovers) the consume queue stored in dir.
func Open(fs vfs.FS, dir, topic string, queueID int32, unitsPerSegment int) (*Queue, error) {
	if unitsPerSegment <= 0 {
		unitsPerSegment = DefaultUnitsPerSegment
	}
	segs, err := segment.OpenQueue(fs, dir, segment.QueueOptions{SegmentSize: unitsPerSegment * UnitSize})
	if err != nil {
		return nil, fmt.Errorf("consumequeue: %s-%d: %w", topic, queueID, err)
	}
	q := &Queue{Topic: topic, QueueID: queueID, segs: segs}
	if err := q.recover(); err != nil {
		segs.Close()
		return nil, err
	}
	return q, nil
}

// recover finds the end: the first invalid unit, scanning every segment.
func (q *Queue) recover() error {
	files := q.segs.Segments()
	if len(files) == 0 {
		return nil
	}
	end := files[0].Base()
	for _, f := range files {
		n := ScanUnits(f.Data())
		f.SetWrote(n * UnitSize)
		f.SetFlushed(n * UnitSize)
		end = f.Base() + int64(n*UnitSize)
		if n*UnitSize < f.Size() {
			break
		}
	}
	if err := q.segs.TruncateFrom(end); err != nil {
		return fmt.Errorf("consumequeue: %s-%d: truncate at %d: %w", q.Topic, q.QueueID, end, err)
	}
	q.minOffset.Store(files[0].Base() / UnitSize)
	q.refreshMaxPhys()
	// Skip leading blank units for the min offset.
	for off := q.minOffset.Load(); off < q.MaxOffset(); off++ {
		u, ok := q.Get(off)
		if !ok || !u.Blank() {
			q.minOffset.Store(off)
			break
		}
	}
	return nil
}

func (q *Queue) refreshMaxPhys() {
	q.maxPhys.Store(0)
	if n := q.MaxOffset(); n > 0 {
		if u, ok := q.Get(n - 1); ok && !u.Blank() {
			q.maxPhys.Store(u.CommitLogOffset + int64(u.Size))
		}
	}
}

// MaxOffset is the next queue offset to write (the number of units).
func (q *Queue) MaxOffset() int64 { return q.segs.WriteOffset() / UnitSize }

// MinOffset is the first readable queue offset.
func (q *Queue) MinOffset() int64 { return q.minOffset.Load() }

// MaxPhysicalOffset is the commit-log offset just past the last unit's record.
func (q *Queue) MaxPhysicalOffset() int64 { return q.maxPhys.Load() }

// Put writes the unit for queueOffset. A unit for an offset already written
// is skipped (redispatch after recovery); holes before queueOffset are filled
// with blank units. Dispatcher only.
func (q *Queue) Put(queueOffset int64, u Unit) error {
	max := q.MaxOffset()
	if queueOffset < max || u.CommitLogOffset+int64(u.Size) <= q.maxPhys.Load() {
		return nil
	}
	if max == 0 && q.segs.Last() == nil && queueOffset > 0 {
		// First unit of a queue whose earlier units are gone: start the
		// logical file at the segment holding queueOffset and blank-fill.
		segUnits := int64(q.segs.SegmentSize() / UnitSize)
		base := queueOffset / segUnits * segUnits
		if _, err := q.segs.Roll(base * UnitSize); err != nil {
			return fmt.Errorf("consumequeue: %s-%d: %w", q.Topic, q.QueueID, err)
		}
		max = base
		q.minOffset.Store(queueOffset)
	}
	blank := Unit{Size: math.MaxInt32}
	for ; max < queueOffset; max++ {
		if err := q.append(blank); err != nil {
			return err
		}
	}
	if err := q.append(u); err != nil {
		return err
	}
	q.maxPhys.Store(u.CommitLogOffset + int64(u.Size))
	return nil
}

func (q *Queue) append(u Unit) error {
	f := q.segs.Last()
	if f == nil || f.Full() {
		var base int64
		if f != nil {
			base = f.End()
		}
		var err error
		if f, err = q.segs.Roll(base); err != nil {
			return fmt.Errorf("consumequeue: %s-%d: %w", q.Topic, q.QueueID, err)
		}
	}
	w := f.Wrote()
	u.Put(f.Data()[w:])
	f.SetWrote(w + UnitSize)
	return nil
}

// Get returns the unit at queueOffset.
func (q *Queue) Get(queueOffset int64) (Unit, bool) {
	if queueOffset < 0 || queueOffset >= q.MaxOffset() {
		return Unit{}, false
	}
	var u Unit
	var ok bool
	pos := queueOffset * UnitSize
	q.segs.View(pos, func(f *segment.File) {
		rel := int(pos - f.Base())
		if rel+UnitSize <= f.Wrote() {
			u, ok = DecodeUnit(f.Data()[rel:])
		}
	})
	return u, ok
}

// Read calls fn for units from queueOffset on, in order, until fn returns
// false or the queue ends. Blank units are skipped.
func (q *Queue) Read(queueOffset int64, fn func(queueOffset int64, u Unit) bool) {
	max := q.MaxOffset()
	if queueOffset < q.MinOffset() {
		queueOffset = q.MinOffset()
	}
	for queueOffset < max {
		pos := queueOffset * UnitSize
		more := true
		found := q.segs.View(pos, func(f *segment.File) {
			data := f.Data()
			w := f.Wrote()
			for rel := int(pos - f.Base()); rel+UnitSize <= w && queueOffset < max; rel += UnitSize {
				u, _ := DecodeUnit(data[rel:])
				if !u.Blank() && !fn(queueOffset, u) {
					more = false
					return
				}
				queueOffset++
			}
			if queueOffset < max && int64(w) < int64(f.Size()) {
				more = false // not yet written further
			}
		})
		if !found || !more {
			return
		}
	}
}

// TruncateFrom removes every unit whose record starts at or after
// commitLogOffset (crash recovery).
func (q *Queue) TruncateFrom(commitLogOffset int64) error {
	max := q.MaxOffset()
	lo, hi := q.segs.MinOffset()/UnitSize, max
	// Units are in commit-log order: binary search the first unit >= offset.
	for lo < hi {
		mid := lo + (hi-lo)/2
		u, ok := q.Get(mid)
		if ok && (u.Blank() || u.CommitLogOffset < commitLogOffset) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == max {
		return nil
	}
	if err := q.segs.TruncateFrom(lo * UnitSize); err != nil {
		return fmt.Errorf("consumequeue: %s-%d: truncate at unit %d: %w", q.Topic, q.QueueID, lo, err)
	}
	// Zero the dropped units so a later recovery does not see them again.
	if f := q.segs.Last(); f != nil {
		w := f.Wrote()
		clear(f.Data()[w:min(f.Size(), int(max*UnitSize-f.Base()))])
	}
	if q.minOffset.Load() > lo {
		q.minOffset.Store(lo)
	}
	q.refreshMaxPhys()
	return nil
}

// DeleteBefore removes whole segments whose last unit points below
// commitLogOffset (the commit log's new minimum after retention). It keeps
// the newest segment. It returns the number of segments removed.
func (q *Queue) DeleteBefore(commitLogOffset int64) (int, error) {
	n := 0
	for {
		segs := q.segs.Segments()
		if len(segs) <= 1 {
			break
		}
		first := segs[0]
		last, ok := DecodeUnit(first.Data()[first.Size()-UnitSize:])
		if !ok || last.Blank() || last.CommitLogOffset+int64(last.Size) > commitLogOffset {
			break
		}
		if err := q.segs.RemoveFirst(); err != nil {
			return n, fmt.Errorf("consumequeue: %s-%d: %w", q.Topic, q.QueueID, err)
		}
		n++
	}
	// Move the min offset past units whose records are gone.
	min := q.MinOffset()
	if b := q.segs.MinOffset() / UnitSize; b > min {
		min = b
	}
	for min < q.MaxOffset() {
		u, ok := q.Get(min)
		if !ok || (!u.Blank() && u.CommitLogOffset >= commitLogOffset) {
			break
		}
		min++
	}
	q.minOffset.Store(min)
	return n, nil
}

// Sync makes all written units durable.
func (q *Queue) Sync() error {
	if _, err := q.segs.Sync(); err != nil {
		return fmt.Errorf("consumequeue: %s-%d: %w", q.Topic, q.QueueID, err)
	}
	return nil
}

// Dirty reports whether some units are not yet durable.
func (q *Queue) Dirty() bool {
	f := q.segs.Last()
	return f != nil && f.Wrote() > f.Flushed()
}

// Close closes the queue's segments.
func (q *Queue) Close() error { return q.segs.Close() }

// Remove closes the queue and deletes its files.
func (q *Queue) Remove() error {
	return q.segs.Reset()
}
