package index

import (
	"encoding/binary"
	"fmt"
	"math"
)

// view is an index file image: the mapping of an open file, or bytes handed
// to ReadFile. Every method only touches b at offsets it has checked against
// the geometry, and len(b) == FileSize(slots, max) holds from construction,
// so no content of b can make a method panic or loop.
type view struct {
	b     []byte
	slots int // hash slots
	max   int // entry positions, including the unused entry 0
	// h is the header with IndexCount clamped into [1, max]; writers keep
	// it and the bytes in step.
	h Header
}

// checkGeometry reports whether slotCount and maxEntries describe a file
// that RocketMQ can hold: at least one slot and one usable entry, and a
// size that fits a Java int.
func checkGeometry(slotCount, maxEntries int) error {
	switch {
	case slotCount < 1 || slotCount > math.MaxInt32:
		return fmt.Errorf("index: slot count %d out of range [1, %d]: %w", slotCount, math.MaxInt32, ErrInvalidOptions)
	case maxEntries < 2 || maxEntries > math.MaxInt32:
		return fmt.Errorf("index: max entries %d out of range [2, %d]: %w", maxEntries, math.MaxInt32, ErrInvalidOptions)
	case FileSize(slotCount, maxEntries) > math.MaxInt32:
		return fmt.Errorf("index: file size %d for %d slots and %d entries exceeds %d: %w",
			FileSize(slotCount, maxEntries), slotCount, maxEntries, math.MaxInt32, ErrInvalidOptions)
	}
	return nil
}

// newView wraps b without judging its header beyond clamping IndexCount,
// as RocketMQ's IndexHeader.load does (and more: a count above max would
// send reads past the end).
func newView(b []byte, slotCount, maxEntries int) (view, error) {
	if err := checkGeometry(slotCount, maxEntries); err != nil {
		return view{}, err
	}
	if want := FileSize(slotCount, maxEntries); int64(len(b)) != want {
		return view{}, fmt.Errorf("index: image of %d bytes, want %d: %w", len(b), want, ErrBadSize)
	}
	h, _ := DecodeHeader(b) // cannot fail: len(b) > HeaderSize
	v := view{b: b, slots: slotCount, max: maxEntries, h: h}
	v.h.IndexCount = clampCount(h.IndexCount, maxEntries)
	return v, nil
}

func clampCount(n int32, maxEntries int) int32 {
	switch {
	case n < 1:
		return 1
	case int(n) > maxEntries:
		return int32(maxEntries)
	}
	return n
}

// slotOf is the slot of a key hash. Hashes RocketMQ writes are never
// negative; a negative one (garbage) is masked so it still lands in range.
func (v *view) slotOf(kh int32) int { return int(kh&math.MaxInt32) % v.slots }

func slotOff(s int) int { return HeaderSize + s*SlotSize }

func (v *view) entryOff(i int) int { return HeaderSize + v.slots*SlotSize + i*EntrySize }

// slot reads slot s; 0 <= s < v.slots.
func (v *view) slot(s int) int32 {
	return int32(binary.BigEndian.Uint32(v.b[slotOff(s):]))
}

// entry reads entry i; 0 <= i < v.max.
func (v *view) entry(i int) Entry {
	p := v.b[v.entryOff(i):][:EntrySize]
	return Entry{
		KeyHash:   int32(binary.BigEndian.Uint32(p[offEntryKeyHash:])),
		PhyOffset: int64(binary.BigEndian.Uint64(p[offEntryPhyOffset:])),
		TimeDiff:  int32(binary.BigEndian.Uint32(p[offEntryTimeDiff:])),
		PrevIndex: int32(binary.BigEndian.Uint32(p[offEntryPrevIndex:])),
	}
}

// full reports whether no entry position is left (IndexFile.isWriteFull).
func (v *view) full() bool { return int(v.h.IndexCount) >= v.max }

// writeHeader stores v.h, leaving the bytes untouched when they already
// hold it (a store to a mapping dirties the page even when it changes
// nothing). It reports whether it wrote.
func (v *view) writeHeader() bool {
	var buf [HeaderSize]byte
	enc := v.h.AppendTo(buf[:0])
	if string(enc) == string(v.b[:HeaderSize]) {
		return false
	}
	copy(v.b, enc)
	return true
}

func (v *view) setSlot(s int, val int32) bool {
	p := v.b[slotOff(s):][:SlotSize]
	if int32(binary.BigEndian.Uint32(p)) == val {
		return false
	}
	binary.BigEndian.PutUint32(p, uint32(val))
	return true
}

func (v *view) setEntry(i int, e Entry) {
	e.AppendTo(v.b[v.entryOff(i):][:0:EntrySize]) // in place: cap is exactly EntrySize
}

// add appends an entry for a key with hash kh (>= 0) of the message at
// phyOffset stored at ts (ms). The caller has checked !v.full().
func (v *view) add(kh int32, phyOffset, ts int64) {
	n := v.h.IndexCount
	s := v.slotOf(kh)
	prev := v.slot(s)
	if prev <= 0 || prev >= n { // stale or garbage: start a new chain
		prev = 0
	}
	if n <= 1 {
		// The first entry sets the file's begin. RocketMQ computes its
		// TimeDiff against the begin inherited from the previous file
		// before resetting it; we store the 0 that the reset makes true.
		v.h.BeginPhyOffset = phyOffset
		v.h.BeginTimestamp = ts
	}
	v.setEntry(int(n), Entry{
		KeyHash:   kh,
		PhyOffset: phyOffset,
		TimeDiff:  timeDiff(ts, v.h.BeginTimestamp),
		PrevIndex: prev,
	})
	v.setSlot(s, n)
	v.h.IndexCount = n + 1
	v.h.HashSlotCount = n
	v.h.EndPhyOffset = phyOffset
	v.h.EndTimestamp = ts
	v.writeHeader()
}

// timeMatched reports whether [begin, end] touches the file's time range,
// with RocketMQ's predicate (IndexFile.isTimeMatched).
func (v *view) timeMatched(begin, end int64) bool {
	fb, fe := v.h.BeginTimestamp, v.h.EndTimestamp
	return (begin < fb && end > fe) || (begin >= fb && begin <= fe) || (end >= fb && end <= fe)
}

// lookup appends to dst, newest first, the PhyOffset of every entry in kh's
// chain whose KeyHash is kh and whose time (BeginTimestamp + TimeDiff s) is
// in [begin, end], until dst holds maxNum. As in IndexFile.selectPhyOffset
// the walk stops at the end of the chain or at the first entry older than
// begin; it also stops at a negative TimeDiff or a PrevIndex that does not
// point to an older entry, so it takes fewer than IndexCount steps.
func (v *view) lookup(dst []int64, kh int32, maxNum int, begin, end int64) []int64 {
	n := v.h.IndexCount
	if n <= 1 || kh < 0 {
		return dst
	}
	cur := v.slot(v.slotOf(kh))
	if cur <= 0 || cur >= n {
		return dst
	}
	for len(dst) < maxNum {
		e := v.entry(int(cur))
		if e.TimeDiff < 0 {
			break
		}
		t := v.h.BeginTimestamp + int64(e.TimeDiff)*1000
		if e.KeyHash == kh && t >= begin && t <= end {
			dst = append(dst, e.PhyOffset)
		}
		if e.PrevIndex <= 0 || e.PrevIndex >= cur || t < begin {
			break
		}
		cur = e.PrevIndex
	}
	return dst
}

// truncate removes every entry whose PhyOffset is >= phyOffset, and trailing
// entries that look unwritten (see unwritten), then rebuilds the
// slot table and the chains of the entries that remain from those entries
// alone, so that stale slots and lost pages cannot leave a chain pointing
// past the end or into garbage. It writes only bytes that change, and
// returns the new IndexCount (1 if nothing remains) and whether it wrote.
//
// Kept entries are those before the first one at or past phyOffset: on disk
// entries are in offset order, so the first such entry is where the removed
// tail begins, and zeros from lost pages in the middle do not end it early.
//
// The result passes Verify. It reads every kept entry and slot once and
// allocates one int32 per slot.
func (v *view) truncate(phyOffset int64) (int32, bool) {
	n := v.h.IndexCount
	for i := int32(1); i < n; i++ {
		if v.entry(int(i)).PhyOffset >= phyOffset {
			n = i
			break
		}
	}
	for n > 1 && unwritten(v.entry(int(n-1))) {
		n--
	}

	changed := false
	heads := make([]int32, v.slots)
	var maxOff, maxTS int64
	for i := int32(1); i < n; i++ {
		e := v.entry(int(i))
		s := v.slotOf(e.KeyHash)
		fixed := e
		fixed.PrevIndex = heads[s]
		fixed.TimeDiff = max(e.TimeDiff, 0)
		if fixed != e {
			v.setEntry(int(i), fixed)
			changed = true
		}
		heads[s] = i
		if i == 1 || e.PhyOffset >= maxOff {
			maxOff = e.PhyOffset
			maxTS = v.h.BeginTimestamp + int64(fixed.TimeDiff)*1000
		}
	}
	for s, head := range heads {
		if v.setSlot(s, head) {
			changed = true
		}
	}

	v.h.IndexCount = n
	v.h.HashSlotCount = n - 1
	if n > 1 {
		v.h.BeginPhyOffset = v.entry(1).PhyOffset
		v.h.EndPhyOffset = maxOff
		v.h.EndTimestamp = maxTS
	} else {
		v.h.EndPhyOffset = v.h.BeginPhyOffset
		v.h.EndTimestamp = v.h.BeginTimestamp
	}
	if v.writeHeader() {
		changed = true
	}
	return n, changed
}

// unwritten reports whether e looks like a position a crash left as zeros:
// no key hash, offset or time. PrevIndex is ignored so that truncate, which
// rewrites it, is idempotent. (A real first message at offset 0 whose key
// hashes to 0 looks the same; losing its entry costs one key.)
func unwritten(e Entry) bool {
	return e.KeyHash == 0 && e.PhyOffset == 0 && e.TimeDiff <= 0
}

// FileView reads one index file image: the bytes of a whole file. It never
// modifies them. Its methods are safe for concurrent use as long as nobody
// writes the bytes.
type FileView struct {
	v   view
	raw Header
}

// ReadFile checks that b is a whole index file with the given geometry and
// that its header is sane, and returns a view of it. It fails with
// ErrInvalidOptions for a bad geometry, ErrBadSize for the wrong length, and
// a *CorruptionError for a header no RocketMQ broker writes: IndexCount
// outside [0, maxEntries], and, when entries are in use, a negative
// BeginPhyOffset or an EndPhyOffset below it. Timestamps are not judged:
// broker clocks go back. ReadFile retains b.
func ReadFile(b []byte, slotCount, maxEntries int) (*FileView, error) {
	v, err := newView(b, slotCount, maxEntries)
	if err != nil {
		return nil, err
	}
	raw, _ := DecodeHeader(b)
	switch {
	case raw.IndexCount < 0 || int(raw.IndexCount) > maxEntries:
		return nil, corruptf(offIndexCount, "index count %d outside [0, %d]", raw.IndexCount, maxEntries)
	case raw.IndexCount > 1 && raw.BeginPhyOffset < 0:
		return nil, corruptf(offBeginPhyOffset, "negative begin offset %d", raw.BeginPhyOffset)
	case raw.IndexCount > 1 && raw.EndPhyOffset < raw.BeginPhyOffset:
		return nil, corruptf(offEndPhyOffset, "end offset %d before begin offset %d", raw.EndPhyOffset, raw.BeginPhyOffset)
	}
	return &FileView{v: v, raw: raw}, nil
}

// Header returns the header as stored.
func (fv *FileView) Header() Header { return fv.raw }

// Len is the number of entries in use: IndexCount-1, at least 0.
func (fv *FileView) Len() int { return int(fv.v.h.IndexCount) - 1 }

// Slot returns the value of slot s, or false if s is out of range.
func (fv *FileView) Slot(s int) (int32, bool) {
	if s < 0 || s >= fv.v.slots {
		return 0, false
	}
	return fv.v.slot(s), true
}

// Entry returns entry i, or false unless 1 <= i <= Len().
func (fv *FileView) Entry(i int) (Entry, bool) {
	if i < 1 || i >= int(fv.v.h.IndexCount) {
		return Entry{}, false
	}
	return fv.v.entry(i), true
}

// Lookup appends to dst, newest first, the commit-log offsets of up to
// maxNum entries (counting those already in dst) whose key hash equals
// KeyHash(key) and whose time is in [begin, end] (ms, inclusive). Times
// have the file's resolution: BeginTimestamp plus whole seconds. Distinct
// keys may share a hash; callers check the key on the message.
func (fv *FileView) Lookup(dst []int64, key string, maxNum int, begin, end int64) []int64 {
	return fv.v.lookup(dst, KeyHash(key), maxNum, begin, end)
}

// Verify checks the structure a lookup relies on, which RocketMQ keeps in
// every file it writes but a crash may break: every slot is 0 or names an
// entry in use whose key hash belongs to that slot; every PrevIndex is 0 or
// names an older entry of the same slot; no TimeDiff is negative; and the
// chains reach every entry in use exactly once. It does not check that
// offsets or times increase. The error is a *CorruptionError.
func (fv *FileView) Verify() error {
	v := &fv.v
	n := v.h.IndexCount
	seen := make([]bool, n)
	for s := range v.slots {
		cur := v.slot(s)
		if cur < 0 || cur >= n {
			return corruptf(int64(slotOff(s)), "slot %d holds %d, outside [0, %d)", s, cur, n)
		}
		for cur > 0 {
			off := int64(v.entryOff(int(cur)))
			e := v.entry(int(cur))
			switch {
			case v.slotOf(e.KeyHash) != s:
				return corruptf(off, "entry %d with key hash %d is in the chain of slot %d", cur, e.KeyHash, s)
			case seen[cur]:
				return corruptf(off, "entry %d is reached twice", cur)
			case e.TimeDiff < 0:
				return corruptf(off+offEntryTimeDiff, "entry %d has negative time diff %d", cur, e.TimeDiff)
			case e.PrevIndex < 0 || e.PrevIndex >= cur:
				return corruptf(off+offEntryPrevIndex, "entry %d has prev index %d, outside [0, %d)", cur, e.PrevIndex, cur)
			}
			seen[cur] = true
			cur = e.PrevIndex
		}
	}
	for i := int32(1); i < n; i++ {
		if !seen[i] {
			return corruptf(int64(v.entryOff(int(i))), "entry %d is in no chain", i)
		}
	}
	return nil
}
