package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/segment"
	"github.com/quiver-mq/quiver/internal/vfs"
)

const (
	dir     = "/store/commitlog"
	segSize = 4096
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newMem(t testing.TB) *vfs.MemFS {
	t.Helper()
	fs := vfs.NewMem()
	must(t, fs.MkdirAll(dir, 0o755))
	must(t, fs.SyncDir("/"))
	must(t, fs.SyncDir("/store"))
	return fs
}

func openLog(t testing.TB, fs vfs.FS) *Log {
	t.Helper()
	l, err := Open(fs, dir, Options{SegmentSize: segSize})
	must(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// msg returns message i with a record of exactly size bytes.
func msg(t testing.TB, i, size int) *message.Message {
	t.Helper()
	m := &message.Message{
		Topic:          "TopicTest",
		QueueID:        int32(i % 4),
		QueueOffset:    int64(i),
		BornTimestamp:  1700000000000 + int64(i),
		BornHost:       netip.MustParseAddrPort("192.168.1.10:54321"),
		StoreTimestamp: 1700000000100 + int64(i),
		StoreHost:      netip.MustParseAddrPort("10.0.0.1:10911"),
		Properties:     message.EncodeProperties(map[string]string{"KEYS": fmt.Sprint("k", i)}),
	}
	base, err := m.RecordSize()
	must(t, err)
	if size < base {
		t.Fatalf("record of %d bytes: the smallest is %d", size, base)
	}
	m.Body = bytes.Repeat([]byte{byte('a' + i%26)}, size-base)
	m.BodyCRC = message.BodyCRC(m.Body)
	return m
}

type rec struct {
	off  int64
	size int
}

// appendN appends n records of the given sizes (cycling) and returns where.
func appendN(t testing.TB, l *Log, first, n int, sizes ...int) []rec {
	t.Helper()
	var out []rec
	for i := first; i < first+n; i++ {
		off, size, err := l.Append(msg(t, i, sizes[i%len(sizes)]))
		must(t, err)
		out = append(out, rec{off, size})
	}
	return out
}

// scanAll scans [from, limit) and returns the records seen.
func scanAll(t testing.TB, l *Log, from, limit int64, checkCRC bool) ([]rec, int64, error) {
	t.Helper()
	var out []rec
	next, err := l.Scan(from, limit, checkCRC, func(off int64, b []byte) error {
		m, n, err := message.Decode(b, checkCRC)
		if err != nil || n != len(b) || m.PhysicalOffset != off {
			t.Fatalf("Scan handed out a bad record at %d: %v", off, err)
		}
		out = append(out, rec{off, len(b)})
		return nil
	})
	return out, next, err
}

func TestAppendRollsWithBlankMarker(t *testing.T) {
	fs := newMem(t)
	l := openLog(t, fs)
	// Four records of 1000 bytes fit in a 4096-byte segment with room for
	// the 8-byte marker (4000 + 8 <= 4096); the fifth goes to the start of
	// the next segment, after a BLANK marker at 4000 declaring 96 bytes.
	recs := appendN(t, l, 0, 5, 1000)
	want := []rec{{0, 1000}, {1000, 1000}, {2000, 1000}, {3000, 1000}, {4096, 1000}}
	if !slices.Equal(recs, want) {
		t.Fatalf("appended at %v, want %v", recs, want)
	}
	segs := l.Segments()
	if len(segs) != 2 || segs[0].Wrote() != segSize || l.WriteOffset() != 5096 {
		t.Fatalf("%d segments, first wrote %d, write offset %d", len(segs), segs[0].Wrote(), l.WriteOffset())
	}
	size, magic, _ := message.Size(segs[0].Data()[4000:])
	if magic != message.MagicBlank || size != segSize-4000 {
		t.Fatalf("end of segment: size %d magic %#x, want a BLANK of %d", size, uint32(magic), segSize-4000)
	}
	if !allZero(segs[0].Data()[4008:]) {
		t.Fatal("bytes written after the BLANK marker")
	}
	for i, r := range recs {
		b, err := l.ReadRecord(nil, r.off)
		must(t, err)
		m, _, err := message.Decode(b, true)
		must(t, err)
		if m.PhysicalOffset != r.off || m.QueueOffset != int64(i) || len(b) != r.size {
			t.Fatalf("record %d: %+v", i, m)
		}
	}
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

// TestAppendExactFit: a record that leaves exactly room for the BLANK marker
// stays; one byte more and it goes to the next segment.
func TestAppendExactFit(t *testing.T) {
	for _, tc := range []struct {
		second int
		at     int64
		blank  int // where the BLANK marker goes in segment 0 (-1: not yet)
	}{
		{segSize - 1000 - message.BlankSize, 1000, -1},
		{segSize - 1000 - message.BlankSize + 1, segSize, 1000},
	} {
		t.Run(fmt.Sprint(tc.second), func(t *testing.T) {
			l := openLog(t, newMem(t))
			appendN(t, l, 0, 1, 1000)
			off, _, err := l.Append(msg(t, 1, tc.second))
			must(t, err)
			if off != tc.at {
				t.Fatalf("second record at %d, want %d", off, tc.at)
			}
			f := l.Segments()[0]
			if tc.blank < 0 {
				if f.Wrote() != segSize-message.BlankSize {
					t.Fatalf("wrote %d", f.Wrote())
				}
				// The next record of any size rolls, after an 8-byte BLANK.
				off, _, err := l.Append(msg(t, 2, 200))
				must(t, err)
				if off != segSize {
					t.Fatalf("third record at %d", off)
				}
				tc.blank = segSize - message.BlankSize
			}
			size, magic, _ := message.Size(f.Data()[tc.blank:])
			if magic != message.MagicBlank || size != segSize-tc.blank {
				t.Fatalf("BLANK at %d: size %d magic %#x", tc.blank, size, uint32(magic))
			}
		})
	}
}

func TestAppendTooLarge(t *testing.T) {
	l := openLog(t, newMem(t))
	appendN(t, l, 0, 1, 500)
	for _, size := range []int{segSize - message.BlankSize + 1, segSize, 10 * segSize} {
		if _, _, err := l.Append(msg(t, 1, size)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Append of %d bytes: %v, want ErrTooLarge", size, err)
		}
		if _, err := l.Reserve(size); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Reserve of %d bytes: %v, want ErrTooLarge", size, err)
		}
	}
	if l.WriteOffset() != 500 || len(l.Segments()) != 1 {
		t.Fatalf("a refused record changed the log: write offset %d", l.WriteOffset())
	}
	// The largest record goes in an empty segment.
	off, _, err := l.Append(msg(t, 2, segSize-message.BlankSize))
	must(t, err)
	if off != segSize {
		t.Fatalf("largest record at %d", off)
	}
	// A message the record format cannot hold.
	m := msg(t, 3, 200)
	m.Properties = make([]byte, message.MaxPropertiesLen+1)
	if _, _, err := l.Append(m); !errors.Is(err, message.ErrTooLarge) {
		t.Fatalf("Append of oversized properties: %v", err)
	}
}

func TestAppendDiskFull(t *testing.T) {
	fs := newMem(t)
	l := openLog(t, fs)
	// Room for one segment: the allocator cannot make the next one either.
	du, err := fs.DiskUsage(dir)
	must(t, err)
	fs.SetCapacity(du.Total - du.Free + segSize)
	appendN(t, l, 0, 3, 1000)
	l.Prepare() // waits for the allocator's attempt
	if _, _, err := l.Append(msg(t, 3, 1500)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	f := l.Segments()[0]
	if len(l.Segments()) != 1 || l.WriteOffset() != 3000 || f.Wrote() != 3000 || !allZero(f.Data()[3000:]) {
		t.Fatalf("failed roll changed the log: write offset %d, wrote %d", l.WriteOffset(), f.Wrote())
	}
	// A record that still fits goes in.
	if off, _, err := l.Append(msg(t, 4, 1000)); err != nil || off != 3000 {
		t.Fatalf("Append that fits: %d, %v", off, err)
	}
	fs.SetCapacity(vfs.DefaultMemCapacity)
	off, _, err := l.Append(msg(t, 5, 1500))
	must(t, err)
	if off != segSize {
		t.Fatalf("after space came back: record at %d", off)
	}
	recs, next, err := scanAll(t, l, 0, l.WriteOffset(), true)
	must(t, err)
	if len(recs) != 5 || next != l.WriteOffset() {
		t.Fatalf("scan: %v, next %d", recs, next)
	}
}

func TestReadRecord(t *testing.T) {
	fs := newMem(t)
	l := openLog(t, fs)
	recs := appendN(t, l, 0, 8, 700, 900)
	dst := []byte("prefix")
	for _, r := range recs {
		b, err := l.ReadRecord(dst, r.off)
		must(t, err)
		if string(b[:6]) != "prefix" || len(b) != 6+r.size {
			t.Fatalf("ReadRecord(%d) appended %d bytes", r.off, len(b)-6)
		}
	}
	last := recs[len(recs)-1]
	blankAt := recs[4].off + int64(recs[4].size) // segment 0 ends with 5 records
	if blankAt >= segSize || recs[5].off != segSize {
		t.Fatalf("layout changed: %v", recs)
	}
	for _, off := range []int64{last.off + int64(last.size), l.WriteOffset() + 100, 1 << 40, -1, blankAt} {
		if _, err := l.ReadRecord(nil, off); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReadRecord(%d): %v, want ErrNotFound", off, err)
		}
	}
	// Not a record boundary.
	var ce *CorruptionError
	if _, err := l.ReadRecord(nil, recs[1].off+10); !errors.As(err, &ce) || ce.Offset != recs[1].off+10 {
		t.Fatalf("ReadRecord inside a record: %v", err)
	}
	// A flipped body bit.
	f := l.Segments()[0]
	f.Data()[recs[2].off+int64(recs[2].size)-30] ^= 0x10
	_, err := l.ReadRecord(nil, recs[2].off)
	if !errors.As(err, &ce) || ce.Segment != f.Path() || ce.Offset != recs[2].off || !errors.Is(err, message.ErrCorrupt) {
		t.Fatalf("ReadRecord of a damaged record: %v", err)
	}
	if !strings.Contains(err.Error(), f.Path()) || !strings.Contains(err.Error(), fmt.Sprint(recs[2].off)) {
		t.Fatalf("error does not name segment and offset: %v", err)
	}
	// A record whose PHYSICALOFFSET is not where it lies: a record inside
	// another's body, or damage where the CRC does not look.
	binary.BigEndian.PutUint64(f.Data()[recs[3].off+28:], uint64(recs[3].off+1))
	if _, err := l.ReadRecord(nil, recs[3].off); !errors.As(err, &ce) || ce.Offset != recs[3].off {
		t.Fatalf("ReadRecord of a misplaced record: %v", err)
	}
	// Below the first segment after retention.
	must(t, l.RemoveFirst())
	if _, err := l.ReadRecord(nil, recs[0].off); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadRecord of a deleted record: %v", err)
	}
	if _, err := l.ReadRecord(nil, recs[5].off); err != nil {
		t.Fatalf("ReadRecord after retention: %v", err)
	}
}

// TestReadRecordEmbedded: a message body holding a well-formed record is not
// served as a record from an offset inside the body.
func TestReadRecordEmbedded(t *testing.T) {
	l := openLog(t, newMem(t))
	inner := msg(t, 99, 200)
	inner.Topic = "Other"
	innerRec, err := inner.AppendRecord(nil)
	must(t, err)
	outer := msg(t, 0, 600)
	copy(outer.Body[100:], innerRec)
	outer.BodyCRC = message.BodyCRC(outer.Body)
	off, _, err := l.Append(outer)
	must(t, err)
	pos := off + int64(bytes.Index(l.Segments()[0].Data()[off:], innerRec))
	if pos <= off {
		t.Fatal("inner record not found")
	}
	var ce *CorruptionError
	if _, err := l.ReadRecord(nil, pos); !errors.As(err, &ce) {
		t.Fatalf("ReadRecord at an embedded record: %v, want a CorruptionError", err)
	}
}

func TestScan(t *testing.T) {
	l := openLog(t, newMem(t))
	recs := appendN(t, l, 0, 12, 700, 900, 1200)
	wo := l.WriteOffset()
	got, next, err := scanAll(t, l, 0, wo, true)
	must(t, err)
	if !slices.Equal(got, recs) || next != wo {
		t.Fatalf("Scan = %v, %d", got, next)
	}
	// From each record, to each record boundary: exactly those between.
	for i := range recs {
		for j := i; j <= len(recs); j++ {
			limit := wo
			if j < len(recs) {
				limit = recs[j].off
			}
			got, next, err := scanAll(t, l, recs[i].off, limit, true)
			must(t, err)
			if !slices.Equal(got, recs[i:j]) {
				t.Fatalf("Scan(%d, %d) = %v, want %v", recs[i].off, limit, got, recs[i:j])
			}
			// Where it stops: the limit, or the segment end after the last
			// record before it (when the limit is the next segment's start).
			if next != limit && !(j < len(recs) && next == recs[j].off) {
				t.Fatalf("Scan(%d, %d) stopped at %d", recs[i].off, limit, next)
			}
		}
	}
	// A limit inside a record: stops before it, no corruption.
	got, next, err = scanAll(t, l, 0, recs[3].off+50, true)
	if err != nil || !slices.Equal(got, recs[:3]) || next != recs[3].off {
		t.Fatalf("Scan to inside a record = %v, %d, %v", got, next, err)
	}
	// A limit inside a BLANK marker: stops before it.
	in0 := recsIn(recs, l.Segments()[0])
	blankAt := in0[len(in0)-1].off + int64(in0[len(in0)-1].size)
	got, next, err = scanAll(t, l, 0, blankAt+3, true)
	if err != nil || next != blankAt || len(got) != len(in0) {
		t.Fatalf("Scan to inside the BLANK at %d = %v, %d, %v", blankAt, got, next, err)
	}
	// Past the write offset: stops there.
	if _, next, err := scanAll(t, l, 0, wo+10000, true); err != nil || next != wo {
		t.Fatalf("Scan past the write offset stopped at %d, %v", next, err)
	}
	// Starting at a BLANK marker: on to the next segment.
	got, _, err = scanAll(t, l, blankAt, wo, true)
	must(t, err)
	if got[0].off != segSize {
		t.Fatalf("Scan from the BLANK starts with %v", got[0])
	}
	// An error from fn stops there and comes back unchanged.
	stop := errors.New("stop")
	n := 0
	next, err = l.Scan(0, wo, true, func(int64, []byte) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || next != recs[4].off {
		t.Fatalf("Scan with fn failing on the fifth: %d, %v", next, err)
	}
	// Empty ranges.
	if next, err := l.Scan(wo, wo, true, nil); next != wo || err != nil {
		t.Fatalf("empty Scan = %d, %v", next, err)
	}
	if next, err := l.Scan(5, 2, true, nil); next != 5 || err != nil {
		t.Fatalf("backward Scan = %d, %v", next, err)
	}
}

// recsIn returns the records of recs in segment f.
func recsIn(recs []rec, f *segment.File) []rec {
	var out []rec
	for _, r := range recs {
		if r.off >= f.Base() && r.off < f.End() {
			out = append(out, r)
		}
	}
	return out
}

func TestScanCorruption(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dmg   func(data []byte, r rec) // damages record 6
		crc   bool                     // detected only with CRC checks
		found bool                     // FindNextRecord finds record 7
	}{
		{"body bit", func(d []byte, r rec) { d[r.off%segSize+int64(r.size)-40] ^= 1 }, true, true},
		{"magic", func(d []byte, r rec) { d[r.off%segSize+4] ^= 0xff }, false, true},
		{"size too large", func(d []byte, r rec) { binary.BigEndian.PutUint32(d[r.off%segSize:], 1<<20) }, false, true},
		{"size too small", func(d []byte, r rec) { binary.BigEndian.PutUint32(d[r.off%segSize:], 40) }, false, true},
		{"zeroed", func(d []byte, r rec) { clear(d[r.off%segSize : r.off%segSize+int64(r.size)]) }, false, true},
		{"torn tail", func(d []byte, r rec) { clear(d[r.off%segSize+10:]) }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLog(t, newMem(t))
			recs := appendN(t, l, 0, 12, 500, 700)
			bad := recs[6]
			f := l.segs.Find(bad.off)
			tc.dmg(f.Data(), bad)
			got, next, err := scanAll(t, l, 0, l.WriteOffset(), true)
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Offset != bad.off || next != bad.off || ce.Segment != f.Path() {
				t.Fatalf("Scan = %d, %v; want a CorruptionError at %d in %s", next, err, bad.off, f.Path())
			}
			if !errors.Is(err, message.ErrCorrupt) {
				t.Fatalf("CorruptionError does not wrap ErrCorrupt: %v", err)
			}
			if !slices.Equal(got, recs[:6]) {
				t.Fatalf("records before the damage: %v", got)
			}
			if !tc.crc {
				if _, _, err := scanAll(t, l, 0, l.WriteOffset(), false); !errors.As(err, &ce) {
					t.Fatalf("Scan without CRC checks: %v", err)
				}
			} else if _, next, err := scanAll(t, l, 0, l.WriteOffset(), false); err != nil || next != l.WriteOffset() {
				t.Fatalf("Scan without CRC checks = %d, %v", next, err)
			}
			skip, ok := l.FindNextRecord(bad.off, 1<<20)
			if ok != tc.found || (ok && skip != recs[7].off) {
				t.Fatalf("FindNextRecord = %d, %v; want %d, %v", skip, ok, recs[7].off, tc.found)
			}
			if ok {
				rest, next, err := scanAll(t, l, skip, l.WriteOffset(), true)
				if err != nil || !slices.Equal(rest, recs[7:]) || next != l.WriteOffset() {
					t.Fatalf("Scan after the damaged record = %v, %d, %v", rest, next, err)
				}
			}
		})
	}
}

func TestFindNextRecord(t *testing.T) {
	l := openLog(t, newMem(t))
	recs := appendN(t, l, 0, 6, 900)
	f := l.Segments()[0]
	blankAt := int64(4 * 900)
	if recs[4].off != segSize {
		t.Fatalf("layout changed: %v", recs)
	}
	// The last record of a segment is damaged: the BLANK marker follows.
	f.Data()[recs[3].off+100] ^= 1
	if off, ok := l.FindNextRecord(recs[3].off, 1<<20); !ok || off != blankAt {
		t.Fatalf("FindNextRecord before the BLANK = %d, %v", off, ok)
	}
	// Within the window only: the next header must lie inside it.
	if _, ok := l.FindNextRecord(recs[0].off, 900+7); ok {
		t.Fatal("found a record past the window")
	}
	if off, ok := l.FindNextRecord(recs[0].off, 900+8); !ok || off != recs[1].off {
		t.Fatalf("FindNextRecord at the window's edge = %d, %v", off, ok)
	}
	for _, w := range []int{0, -1, math.MinInt, math.MaxInt} {
		l.FindNextRecord(recs[0].off, w) // no panic
	}
	if _, ok := l.FindNextRecord(1<<40, 100); ok {
		t.Fatal("found a record in no segment")
	}
	// Never past the write offset.
	if _, ok := l.FindNextRecord(recs[5].off, 1<<20); ok {
		t.Fatal("found a record past the write offset")
	}
}

// TestFindNextRecordDecoy: a body holding a valid record, whose
// PHYSICALOFFSET is not where it lies, does not fool FindNextRecord, nor
// does a BLANK marker that does not end the segment.
func TestFindNextRecordDecoy(t *testing.T) {
	l := openLog(t, newMem(t))
	decoy := msg(t, 50, 150)
	decoy.PhysicalOffset = 12345
	decoyRec, err := decoy.AppendRecord(nil)
	must(t, err)
	blank := make([]byte, 8)
	message.PutBlank(blank, 100)
	m := msg(t, 0, 800)
	copy(m.Body[200:], decoyRec)
	copy(m.Body[500:], blank)
	m.BodyCRC = message.BodyCRC(m.Body)
	off, _, err := l.Append(m)
	must(t, err)
	next := appendN(t, l, 1, 1, 300)[0]
	// The record holding the decoy is damaged at its start.
	l.Segments()[0].Data()[off+4] ^= 0xff
	if got, ok := l.FindNextRecord(off, 1<<20); !ok || got != next.off {
		t.Fatalf("FindNextRecord = %d, %v; want the real record at %d", got, ok, next.off)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(recs []rec) int64
	}{
		{"at a record", func(r []rec) int64 { return r[7].off }},
		{"inside a record", func(r []rec) int64 { return r[7].off + 123 }},
		{"at a segment start", func(r []rec) int64 { return segSize }},
		{"at the first record", func(r []rec) int64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMem(t)
			l := openLog(t, fs)
			recs := appendN(t, l, 0, 20, 600)
			_, err := l.Sync()
			must(t, err)
			cut := tc.cut(recs)
			// Recovery first lets the scan see everything.
			maxEnd := l.Segments()[len(l.Segments())-1].End()
			l.SetWriteOffset(maxEnd)
			must(t, l.Truncate(cut))
			l.SetWriteOffset(cut)
			if l.WriteOffset() != cut {
				t.Fatalf("write offset %d, want %d", l.WriteOffset(), cut)
			}
			last := l.Segments()[len(l.Segments())-1]
			if last.Base() > cut || last.End() < cut {
				t.Fatalf("last segment [%d, %d) does not hold %d", last.Base(), last.End(), cut)
			}
			if !allZero(last.Data()[cut-last.Base():]) {
				t.Fatal("stale bytes left past the cut")
			}
			// New records of the same size as the old ones, then a
			// recovery-style scan over the whole of the last segment: it
			// must end at the new end, and nothing may be found after it.
			newRecs := appendN(t, l, 100, 2, 600)
			_, err = l.Sync()
			must(t, err)
			end := l.WriteOffset()
			for name, img := range map[string]vfs.FS{"live": fs, "crash": fs.CrashClone()} {
				r := l
				if name == "crash" {
					r = openLog(t, img)
				}
				r.SetWriteOffset(r.Segments()[len(r.Segments())-1].End())
				got, next, err := scanAll(t, r, newRecs[0].off, math.MaxInt64, true)
				var ce *CorruptionError
				if err != nil && (!errors.As(err, &ce) || ce.Offset != end) {
					t.Fatalf("%s: scan: %v", name, err)
				}
				if err == nil && next != r.Segments()[len(r.Segments())-1].End() {
					t.Fatalf("%s: scan ended at %d", name, next)
				}
				if !slices.Equal(got, newRecs) {
					t.Fatalf("%s: scan found %v, want the new records %v", name, got, newRecs)
				}
				if off, ok := r.FindNextRecord(end, 1<<20); ok {
					t.Fatalf("%s: FindNextRecord found a stale record at %d", name, off)
				}
				r.SetWriteOffset(end)
			}
		})
	}
}

// TestTruncateNeverExtends: truncating past the write offset changes nothing.
func TestTruncateNeverExtends(t *testing.T) {
	l := openLog(t, newMem(t))
	appendN(t, l, 0, 2, 600)
	must(t, l.Truncate(3000))
	if l.WriteOffset() != 1200 {
		t.Fatalf("Truncate past the end moved the write offset to %d", l.WriteOffset())
	}
}

func TestSetWriteOffset(t *testing.T) {
	fs := newMem(t)
	l := openLog(t, fs)
	appendN(t, l, 0, 14, 1000)
	must(t, l.Close())
	r := openLog(t, fs)
	segs := r.Segments()
	if len(segs) < 4 || r.WriteOffset() != segs[len(segs)-1].Base() {
		t.Fatalf("reopened: %d segments, write offset %d", len(segs), r.WriteOffset())
	}
	for _, end := range []int64{0, 1000, segSize, segSize + 2000, 3 * segSize} {
		r.SetWriteOffset(end)
		for _, f := range segs {
			want := int(min(max(end-f.Base(), 0), segSize))
			if f.End() <= end {
				want = segSize
			}
			if f.Wrote() != want && !(f.Base() > end) {
				t.Fatalf("SetWriteOffset(%d): segment %d wrote %d, want %d", end, f.Base(), f.Wrote(), want)
			}
			if f.Base() <= end && f.Flushed() != f.Wrote() {
				t.Fatalf("SetWriteOffset(%d): segment %d flushed %d", end, f.Base(), f.Flushed())
			}
		}
	}
}

// TestForceSync: after recovery the write and flush positions are set
// without a sync, so the recovered bytes may sit in the page cache only.
// Sync skips them; ForceSync makes them durable.
func TestForceSync(t *testing.T) {
	fs := newMem(t)
	l := openLog(t, fs)
	appendN(t, l, 0, 9, 1000) // not synced
	end := l.WriteOffset()
	l.SetWriteOffset(end)
	if d, err := l.Sync(); err != nil || d != end {
		t.Fatalf("Sync = %d, %v", d, err)
	}
	if img := fs.CrashClone(); recordsIn(t, img) != 0 {
		t.Fatal("records durable without a sync")
	}
	d, err := l.ForceSync(segSize + 10)
	if err != nil || d != end || l.FlushedOffset() != end {
		t.Fatalf("ForceSync = %d, %v; flushed %d", d, err, l.FlushedOffset())
	}
	// Only segments holding bytes at or after from were synced.
	if n := recordsIn(t, fs.CrashClone()); n != 9-4 {
		t.Fatalf("%d records durable after ForceSync from the second segment", n)
	}
	if _, err := l.ForceSync(0); err != nil {
		t.Fatal(err)
	}
	if n := recordsIn(t, fs.CrashClone()); n != 9 {
		t.Fatalf("%d records durable after ForceSync(0)", n)
	}
}

// recordsIn counts the valid records in the segments of a crash image.
func recordsIn(t testing.TB, fs vfs.FS) int {
	t.Helper()
	l, err := Open(fs, dir, Options{SegmentSize: segSize})
	must(t, err)
	defer l.Close()
	n := 0
	for _, f := range l.Segments() {
		for p := 0; p+8 <= f.Size(); p++ {
			if _, _, err := message.Decode(f.Data()[p:], true); err == nil {
				n++
			}
		}
	}
	return n
}

func TestFlushedOffsetIsADurablePrefix(t *testing.T) {
	l := openLog(t, newMem(t))
	if l.FlushedOffset() != 0 {
		t.Fatal("flushed offset of an empty log")
	}
	appendN(t, l, 0, 3, 1000)
	if d, err := l.Sync(); err != nil || d != 3000 || l.FlushedOffset() != 3000 {
		t.Fatalf("Sync = %d, %v", d, err)
	}
	appendN(t, l, 3, 2, 1000) // rolls; the BLANK and the new record are not synced
	if got := l.FlushedOffset(); got != 3000 {
		t.Fatalf("flushed offset %d after a roll, want 3000", got)
	}
	if d, err := l.Sync(); err != nil || d != l.WriteOffset() {
		t.Fatalf("Sync = %d, %v", d, err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(newMem(t), dir, Options{SegmentSize: 4095}); err == nil {
		t.Fatal("segment size below 4096 accepted")
	}
	l, err := Open(newMem(t), dir, Options{})
	must(t, err)
	defer l.Close()
	if l.SegmentSize() != DefaultSegmentSize {
		t.Fatalf("default segment size %d", l.SegmentSize())
	}
	// A queue directory holding a wrongly sized segment is refused.
	fs := newMem(t)
	h, err := fs.Create(dir + "/" + segment.FileName(0))
	must(t, err)
	must(t, h.Truncate(100))
	h.Close()
	h, err = fs.Create(dir + "/" + segment.FileName(segSize))
	must(t, err)
	must(t, h.Truncate(segSize))
	h.Close()
	if _, err := Open(fs, dir, Options{SegmentSize: segSize}); !errors.Is(err, segment.ErrBadSize) {
		t.Fatalf("Open with a short segment: %v", err)
	}
}

// TestCrashAfterRollsReopens: segments rolled since the last sync survive a
// crash at their full size (their names were made durable by the roll), so
// the log opens and recovery finds the synced records.
func TestCrashAfterRollsReopens(t *testing.T) {
	fs := newMem(t)
	l := openLog(t, fs)
	appendN(t, l, 0, 3, 1000)
	_, err := l.Sync()
	must(t, err)
	appendN(t, l, 3, 12, 1000) // three more segments, none synced
	img := fs.CrashClone()
	r, err := Open(img, dir, Options{SegmentSize: segSize})
	must(t, err)
	defer r.Close()
	r.SetWriteOffset(r.Segments()[len(r.Segments())-1].End())
	got, next, err := scanAll(t, r, 0, math.MaxInt64, true)
	var ce *CorruptionError
	if !errors.As(err, &ce) || next != 3000 || len(got) != 3 {
		t.Fatalf("scan of the crash image = %d records, %d, %v", len(got), next, err)
	}
}

// TestConcurrentAppendScanSync runs the appender, a dispatcher tailing the
// log and a flusher together (run with -race).
func TestConcurrentAppendScanSync(t *testing.T) {
	l := openLog(t, newMem(t))
	const n = 400
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // dispatcher
		var off int64
		seen := 0
		for seen < n {
			recs, next, err := scanAll(t, l, off, l.WriteOffset(), false)
			if err != nil {
				t.Errorf("dispatcher: %v", err)
				return
			}
			for _, r := range recs {
				if r.off < off {
					t.Errorf("dispatcher went back to %d", r.off)
				}
			}
			seen += len(recs)
			off = next
		}
	})
	wg.Go(func() { // flusher
		var last int64
		for {
			select {
			case <-done:
				return
			default:
			}
			d, err := l.Sync()
			if err != nil || d < last {
				t.Errorf("Sync = %d, %v after %d", d, err, last)
				return
			}
			last = d
		}
	})
	wg.Go(func() { // reader
		for {
			select {
			case <-done:
				return
			default:
			}
			if segs := l.Segments(); len(segs) > 0 {
				l.ReadRecord(nil, segs[len(segs)-1].Base())
			}
		}
	})
	for i := range n {
		if _, _, err := l.Append(msg(t, i, 200+i%7*150)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if d, err := l.Sync(); err != nil || d != l.WriteOffset() {
		t.Fatalf("final Sync = %d, %v", d, err)
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	l, err := Open(newMem(t), dir, Options{SegmentSize: 64 << 20})
	must(t, err)
	defer l.Close()
	m := msg(t, 1, 1024+200)
	l.Append(m) // the first roll allocates
	if n := testing.AllocsPerRun(1000, func() {
		if _, _, err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Append allocates %v times", n)
	}
}
