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
// A unit with size <= 0 or commitLogOffset < 0, or a real unit whose record
// does not end past the previous real unit's, ends the queue during
// recovery, and what follows it in the segment is cleared. Blank units
// (0, math.MaxInt32, 0) fill holes (queue offsets before the first stored
// unit, or whose records never reached the queue) and are skipped by
// readers. Real units are in commit-log order. See docs/format/consumequeue.md.
//
// Concurrency: one goroutine (the store's dispatcher) writes; any number read.
// Readers see a unit only after its write offset has been published. Sync
// may run on another goroutine while the writer appends: it never blocks
// Put, and what removes segments (DeleteBefore, TruncateFrom, Remove, Close)
// waits for it, so no segment is closed under a sync.
package consumequeue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
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
// length of a consume-queue segment image that is the first of its queue.
// It never fails. A unit is valid when its commitLogOffset is not negative
// and its size is positive (RocketMQ's rule) and, unless it is blank, its
// record ends past the end of the previous real unit's record: Put never
// writes one that does not, so such a unit is damage, typically a unit torn
// by a crash with the high bytes of its offset lost.
func ScanUnits(b []byte) int {
	n, _ := scanUnits(b, 0)
	return n
}

// scanUnits is ScanUnits for an image whose queue's real units so far end at
// prevEnd; it also returns where the last valid real unit ends.
func scanUnits(b []byte, prevEnd int64) (int, int64) {
	n := 0
	for ; (n+1)*UnitSize <= len(b); n++ {
		u, _ := DecodeUnit(b[n*UnitSize:])
		if !u.valid() {
			break
		}
		if !u.Blank() {
			end := u.CommitLogOffset + int64(u.Size)
			if end <= prevEnd { // (also when the sum overflows)
				break
			}
			prevEnd = end
		}
	}
	return n, prevEnd
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
	// syncMu is held by Sync for its whole run and by every call that
	// removes or closes segments; Put (which only adds segments) and
	// readers never take it.
	syncMu sync.Mutex
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

// tailQuiet is how many zero bytes past the recovered end mark a segment
// tail as clean (segment.File.ClearTail).
const tailQuiet = 64 << 10

// recover finds the end: the first invalid unit, scanning every segment.
// Later segments are removed and the rest of the last one is cleared, so
// units a crash left past a torn one can never join the queue later, when
// new units fill the gap up to them.
func (q *Queue) recover() error {
	files := q.segs.Segments()
	if len(files) == 0 {
		return nil
	}
	end := files[0].Base()
	var physEnd int64
	for _, f := range files {
		var n int
		n, physEnd = scanUnits(f.Data(), physEnd)
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
	if f := q.segs.Last(); f != nil {
		if err := f.ClearTail(f.Wrote(), tailQuiet); err != nil {
			return fmt.Errorf("consumequeue: %s-%d: %w", q.Topic, q.QueueID, err)
		}
	}
	// The min offset is the first real unit (leading blanks are holes).
	max := q.MaxOffset()
	q.minOffset.Store(max)
	q.walk(q.segs.MinOffset()/UnitSize, max, false, func(off int64, u Unit) bool {
		if u.Blank() {
			return true
		}
		q.minOffset.Store(off)
		return false
	})
	q.refreshMaxPhys()
	return nil
}

// refreshMaxPhys sets the max physical offset from the last real unit.
func (q *Queue) refreshMaxPhys() {
	q.maxPhys.Store(0)
	q.walk(q.segs.MinOffset()/UnitSize, q.MaxOffset(), true, func(_ int64, u Unit) bool {
		if u.Blank() {
			return true
		}
		q.maxPhys.Store(u.CommitLogOffset + int64(u.Size))
		return false
	})
}

// walk calls fn with the written units in [from, to), blank ones included,
// in order (or in reverse when rev is set), until fn returns false. It
// holds a segment's read lock while it reads the segment.
func (q *Queue) walk(from, to int64, rev bool, fn func(queueOffset int64, u Unit) bool) {
	from = max(from, q.segs.MinOffset()/UnitSize)
	to = min(to, q.MaxOffset())
	for from < to {
		off := from
		if rev {
			off = to - 1
		}
		more := true
		found := q.segs.View(off*UnitSize, func(f *segment.File) {
			first := f.Base() / UnitSize
			last := (f.Base() + int64(f.Wrote())) / UnitSize // exclusive
			lo, hi := max(from, first), min(to, last)
			data := f.Data()
			for i := range hi - lo {
				o := lo + i
				if rev {
					o = hi - 1 - i
				}
				u, _ := DecodeUnit(data[o*UnitSize-f.Base():])
				if !fn(o, u) {
					more = false
					return
				}
			}
			if rev {
				to = lo
			} else {
				from = hi
			}
			if hi <= lo {
				more = false // nothing written here: the queue ends
			}
		})
		if !found || !more {
			return
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

// readChunk is how many units Read copies out of a segment at a time.
const readChunk = 64

// Read calls fn for units from queueOffset on, in order, until fn returns
// false or the queue ends. Blank units are skipped.
//
// fn runs without any lock of the queue held: units are copied out of the
// segment a chunk at a time first. A reader calls fn to read the commit
// log, whose segment lock the dispatcher holds while it writes here (and
// may roll a segment, which takes this queue's lock exclusively); holding
// this queue's read lock across fn would close that cycle.
func (q *Queue) Read(queueOffset int64, fn func(queueOffset int64, u Unit) bool) {
	max := q.MaxOffset()
	if queueOffset < q.MinOffset() {
		queueOffset = q.MinOffset()
	}
	var buf [readChunk]Unit
	for queueOffset < max {
		pos := queueOffset * UnitSize
		n := 0
		q.segs.View(pos, func(f *segment.File) {
			data := f.Data()
			w := f.Wrote()
			for rel := int(pos - f.Base()); n < len(buf) && rel+UnitSize <= w && queueOffset+int64(n) < max; rel += UnitSize {
				buf[n], _ = DecodeUnit(data[rel:])
				n++
			}
		})
		if n == 0 {
			return // no segment holds it, or not yet written
		}
		for _, u := range buf[:n] {
			if !u.Blank() && !fn(queueOffset, u) {
				return
			}
			queueOffset++
		}
	}
}

// TruncateFrom removes the first real unit whose record starts at or after
// commitLogOffset and everything after it (crash recovery); blank units
// before it stay, as in RocketMQ. The dropped units are zeroed durably, so
// no later recovery sees them again. Dispatcher only.
func (q *Queue) TruncateFrom(commitLogOffset int64) error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	max := q.MaxOffset()
	cut := q.firstAtOrAfter(commitLogOffset, max)
	if cut == max {
		return nil
	}
	if err := q.segs.TruncateFrom(cut * UnitSize); err != nil {
		return fmt.Errorf("consumequeue: %s-%d: truncate at unit %d: %w", q.Topic, q.QueueID, cut, err)
	}
	// Later segments are gone; in the last one, zero the dropped units.
	if f := q.segs.Last(); f != nil {
		w := f.Wrote()
		end := int(min(int64(f.Size()), max*UnitSize-f.Base()))
		if end > w {
			clear(f.Data()[w:end])
			if err := f.SyncRange(w, end-w); err != nil {
				return fmt.Errorf("consumequeue: %s-%d: %w", q.Topic, q.QueueID, err)
			}
		}
	}
	if q.minOffset.Load() > cut {
		q.minOffset.Store(cut)
	}
	q.refreshMaxPhys()
	return nil
}

// firstAtOrAfter returns the queue offset of the first real unit whose
// record starts at or after commitLogOffset, or max when there is none.
// Real units are in commit-log order, so it binary searches; blank units
// can sit anywhere and are looked past: a probe that lands on one uses the
// next real unit.
func (q *Queue) firstAtOrAfter(commitLogOffset, max int64) int64 {
	// nextReal is the first real unit in [i, hi), or hi.
	nextReal := func(i, hi int64) (int64, Unit) {
		at, unit := hi, Unit{}
		q.walk(i, hi, false, func(off int64, u Unit) bool {
			if u.Blank() {
				return true
			}
			at, unit = off, u
			return false
		})
		return at, unit
	}
	// Invariant: the first real unit at or after hi (if any) is at or after
	// commitLogOffset; every real unit before lo is before it.
	lo, hi := q.segs.MinOffset()/UnitSize, max
	for lo < hi {
		mid := lo + (hi-lo)/2
		at, u := nextReal(mid, hi)
		if at == hi || u.CommitLogOffset >= commitLogOffset {
			hi = mid
		} else {
			lo = at + 1
		}
	}
	at, _ := nextReal(lo, max)
	return at
}

// DeleteBefore removes whole segments whose last real unit's record ends
// at or below commitLogOffset (the commit log's new minimum after
// retention); a segment of blank units only goes too. It keeps the newest
// segment. It returns the number of segments removed. One goroutine at a
// time; it may run concurrently with Put and readers, and waits for Sync.
func (q *Queue) DeleteBefore(commitLogOffset int64) (int, error) {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	n := 0
	for {
		segs := q.segs.Segments()
		if len(segs) <= 1 {
			break
		}
		first := segs[0]
		hasReal, keep := false, false
		q.walk(first.Base()/UnitSize, first.End()/UnitSize, true, func(_ int64, u Unit) bool {
			if u.Blank() {
				return true
			}
			hasReal, keep = true, u.CommitLogOffset+int64(u.Size) > commitLogOffset
			return false
		})
		if keep || (!hasReal && first.Wrote() < first.Size()) {
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
	next := q.MaxOffset()
	q.walk(min, next, false, func(off int64, u Unit) bool {
		if !u.Blank() && u.CommitLogOffset >= commitLogOffset {
			next = off
			return false
		}
		return true
	})
	q.minOffset.Store(next)
	return n, nil
}

// Sync makes all written units durable: every unit Put before Sync was
// called. It may run concurrently with Put and readers; it never blocks Put.
func (q *Queue) Sync() error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
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
func (q *Queue) Close() error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	return q.segs.Close()
}

// Remove closes the queue and deletes its files.
func (q *Queue) Remove() error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	return q.segs.Reset()
}
