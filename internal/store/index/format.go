package index

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

// Format constants. They are frozen: RocketMQ brokers read and write files
// with exactly this layout (IndexHeader.java, IndexFile.java), and files
// written by one must open in the other.
const (
	// HeaderSize is the size of the file header in bytes.
	HeaderSize = 40
	// SlotSize is the size of one hash slot in bytes.
	SlotSize = 4
	// EntrySize is the size of one index entry in bytes.
	EntrySize = 20

	// Header field offsets.
	offBeginTimestamp = 0
	offEndTimestamp   = 8
	offBeginPhyOffset = 16
	offEndPhyOffset   = 24
	offHashSlotCount  = 32
	offIndexCount     = 36

	// Entry field offsets, relative to the entry.
	offEntryKeyHash   = 0
	offEntryPhyOffset = 4
	offEntryTimeDiff  = 12
	offEntryPrevIndex = 16

	// nameSecondsLayout is the time layout of the first 14 digits of a file
	// name, yyyyMMddHHmmss; three digits of milliseconds follow (Java's
	// UtilAll.timeMillisToHumanString).
	nameSecondsLayout = "20060102150405"
	// NameLen is the length of a file name.
	NameLen = 17
)

// Defaults, as in RocketMQ's MessageStoreConfig (maxHashSlotNum,
// maxIndexNum).
const (
	DefaultSlotCount  = 5_000_000
	DefaultMaxEntries = 20_000_000
)

// Header is the 40-byte header at the start of every index file.
type Header struct {
	// BeginTimestamp is the store time (Unix ms) of the first entry; the
	// TimeDiff of every entry counts seconds from it.
	BeginTimestamp int64
	// EndTimestamp is the store time (Unix ms) of the last entry.
	EndTimestamp int64
	// BeginPhyOffset is the commit-log offset of the first entry.
	BeginPhyOffset int64
	// EndPhyOffset is the commit-log offset of the last entry.
	EndPhyOffset int64
	// HashSlotCount is, despite its name, a count of entries: RocketMQ
	// increments it on every put, so it equals IndexCount-1. Readers
	// ignore it.
	HashSlotCount int32
	// IndexCount is the number of the next entry to write. Entries
	// 1..IndexCount-1 are in use; entry 0 never is. A new file has 1;
	// RocketMQ reads 0 or less as 1.
	IndexCount int32
}

// AppendTo appends the 40-byte encoding of h to dst.
func (h Header) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.BeginTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.EndTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.BeginPhyOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.EndPhyOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.HashSlotCount))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.IndexCount))
	return dst
}

// DecodeHeader decodes the header at the start of b. It fails only when b is
// shorter than HeaderSize; it does not judge the values (ReadFile does).
func DecodeHeader(b []byte) (Header, error) {
	r := reader{b: b}
	h := Header{
		BeginTimestamp: r.i64(),
		EndTimestamp:   r.i64(),
		BeginPhyOffset: r.i64(),
		EndPhyOffset:   r.i64(),
		HashSlotCount:  r.i32(),
		IndexCount:     r.i32(),
	}
	if r.err != nil {
		return Header{}, fmt.Errorf("index: decode header: %w", r.err)
	}
	return h, nil
}

// Entry is one 20-byte index entry.
type Entry struct {
	// KeyHash is KeyHash(key): never negative in files RocketMQ writes.
	KeyHash int32
	// PhyOffset is the commit-log offset of the message.
	PhyOffset int64
	// TimeDiff is the message's store time in whole seconds after the
	// header's BeginTimestamp, clamped to [0, MaxInt32].
	TimeDiff int32
	// PrevIndex is the entry that was newest in the same slot before this
	// one (0 = none): slots chain colliding keys, newest first.
	PrevIndex int32
}

// AppendTo appends the 20-byte encoding of e to dst.
func (e Entry) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.KeyHash))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.PhyOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.TimeDiff))
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.PrevIndex))
	return dst
}

// DecodeEntry decodes the entry at the start of b. It fails only when b is
// shorter than EntrySize.
func DecodeEntry(b []byte) (Entry, error) {
	r := reader{b: b}
	e := Entry{
		KeyHash:   r.i32(),
		PhyOffset: r.i64(),
		TimeDiff:  r.i32(),
		PrevIndex: r.i32(),
	}
	if r.err != nil {
		return Entry{}, fmt.Errorf("index: decode entry: %w", r.err)
	}
	return e, nil
}

// reader decodes big-endian integers with a sticky error: after the first
// short read every value is 0 and err says why.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = io.ErrUnexpectedEOF
		r.b = nil
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) i32() int32 {
	if p := r.take(4); p != nil {
		return int32(binary.BigEndian.Uint32(p))
	}
	return 0
}

func (r *reader) i64() int64 {
	if p := r.take(8); p != nil {
		return int64(binary.BigEndian.Uint64(p))
	}
	return 0
}

// KeyHash is the hash RocketMQ stores for an index key: the absolute value
// of Java's String.hashCode, with Integer.MIN_VALUE (whose absolute value
// overflows) mapped to 0 (IndexFile.indexKeyHashMethod).
func KeyHash(key string) int32 {
	h := message.JavaStringHash(key)
	if h < 0 {
		h = -h // wraps for MinInt32, as Math.abs does
	}
	if h < 0 {
		h = 0
	}
	return h
}

// FileSize is the size in bytes of an index file with the given geometry:
// HeaderSize + slotCount*SlotSize + maxEntries*EntrySize.
func FileSize(slotCount, maxEntries int) int64 {
	return HeaderSize + int64(slotCount)*SlotSize + int64(maxEntries)*EntrySize
}

// FormatName returns the file name for a file created at t: t's wall clock
// in its own location as yyyyMMddHHmmssSSS.
func FormatName(t time.Time) string {
	b := make([]byte, 0, NameLen)
	b = t.AppendFormat(b, nameSecondsLayout)
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return string(b)
}

// parseName parses a name made by FormatName. The wall clock is returned
// in UTC, so that adding to it is free of daylight-saving jumps.
func parseName(name string) (time.Time, bool) {
	if len(name) != NameLen {
		return time.Time{}, false
	}
	for i := range len(name) {
		if name[i] < '0' || name[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(nameSecondsLayout, name[:14], time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	ms, _ := strconv.Atoi(name[14:]) // three digits, checked above
	return t.Add(time.Duration(ms) * time.Millisecond), true
}

// nextName returns the name for a file created at now after the file named
// last ("" if none): FormatName(now), or, when that would not sort after
// last (two files in one millisecond, or a clock that went back), last's
// time plus one millisecond.
func nextName(now time.Time, last string) (string, error) {
	name := FormatName(now)
	if last == "" || name > last {
		return name, nil
	}
	t, ok := parseName(last)
	if !ok {
		return "", fmt.Errorf("index: cannot name a file after %q: %w", last, ErrBadName)
	}
	return FormatName(t.Add(time.Millisecond)), nil
}

// timeDiff is the TimeDiff of an entry stored at ts in a file whose
// BeginTimestamp is begin: whole seconds, clamped to [0, MaxInt32], and 0
// while begin is not positive (IndexFile.putKey).
func timeDiff(ts, begin int64) int32 {
	if begin <= 0 {
		return 0
	}
	d := (ts - begin) / 1000
	switch {
	case d < 0:
		return 0
	case d > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(d)
}
