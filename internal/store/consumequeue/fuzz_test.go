package consumequeue

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/quiver-mq/quiver/internal/store/segment"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// fuzzUnits is the segment size, in units, of the fuzzed queues.
const fuzzUnits = 16

// seedImages returns real consume-queue segment images, written by Put:
// full and partial segments, blank fills, a queue starting past 0.
func seedImages(t testing.TB) [][]byte {
	var out [][]byte
	build := func(put func(q *Queue)) {
		fs := vfs.NewMem()
		q, err := Open(fs, "/cq", "T", 0, fuzzUnits)
		if err != nil {
			t.Fatal(err)
		}
		put(q)
		var img []byte
		for _, f := range q.segs.Segments() {
			img = append(img, f.Data()...)
		}
		q.Close()
		out = append(out, img)
	}
	build(func(q *Queue) {
		for k := range int64(5) {
			q.Put(k, unit(0, k))
		}
	})
	build(func(q *Queue) { // two segments, gaps
		for k := range int64(fuzzUnits + 7) {
			if k%4 != 1 {
				q.Put(k, unit(0, k))
			}
		}
	})
	build(func(q *Queue) { // first unit past 0
		q.Put(11, Unit{CommitLogOffset: 1 << 33, Size: 300, TagsCode: -7})
		q.Put(12, Unit{CommitLogOffset: 1<<33 + 300, Size: math.MaxInt32 - 1})
	})
	build(func(q *Queue) { // a full segment
		for k := range int64(fuzzUnits) {
			q.Put(k, Unit{CommitLogOffset: k * 91, Size: 91, TagsCode: k})
		}
	})
	return out
}

// FuzzScanUnits checks ScanUnits and DecodeUnit on any bytes: no panic, the
// count is exact under the documented rule, and units encode back to the
// bytes they were decoded from.
func FuzzScanUnits(f *testing.F) {
	for _, img := range seedImages(f) {
		f.Add(img)
	}
	f.Add(units(blank, Unit{CommitLogOffset: 0, Size: 1}, Unit{CommitLogOffset: 0, Size: 2}))
	f.Add(units(Unit{CommitLogOffset: math.MaxInt64, Size: 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, ok := DecodeUnit(b)
		if ok != (len(b) >= UnitSize) {
			t.Fatalf("DecodeUnit of %d bytes: ok %v", len(b), ok)
		}
		if ok {
			var re [UnitSize]byte
			u.Put(re[:])
			if !bytes.Equal(re[:], b[:UnitSize]) {
				t.Fatalf("re-encoded %x, decoded from %x", re, b[:UnitSize])
			}
		}
		n := ScanUnits(b)
		if n < 0 || n*UnitSize > len(b) {
			t.Fatalf("ScanUnits = %d for %d bytes", n, len(b))
		}
		var end int64
		for i := range n + 1 {
			if (i+1)*UnitSize > len(b) {
				break
			}
			u, _ := DecodeUnit(b[i*UnitSize:])
			valid := u.CommitLogOffset >= 0 && u.Size > 0
			if valid && !u.Blank() {
				e := u.CommitLogOffset + int64(u.Size)
				valid = e > end
				end = e
			}
			if valid != (i < n) {
				t.Fatalf("unit %d (%+v) valid %v, ScanUnits %d", i, u, valid, n)
			}
		}
	})
}

// FuzzConsumeQueueReader writes the fuzzed bytes as one or two segment
// files (of the right size, or as given), opens the queue through MemFS and
// uses it. Nothing may panic or hang, every unit handed out lies in
// [MinOffset, MaxOffset), and truncation and deletion keep the queue
// consistent across a reopen.
func FuzzConsumeQueueReader(f *testing.F) {
	for _, img := range seedImages(f) {
		for _, mode := range []uint8{0, 1, 2, 4} {
			f.Add(img, mode, int64(1000), int64(3))
		}
	}
	f.Add([]byte{}, uint8(0), int64(0), int64(0))
	f.Add(units(Unit{CommitLogOffset: 5, Size: 5}, blank, Unit{CommitLogOffset: 1, Size: 10}), uint8(0), int64(4), int64(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8, phys, get int64) {
		const seg = fuzzUnits * UnitSize
		fs := vfs.NewMem()
		const d = "/cq"
		if err := fs.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		// mode bit 0: keep the bytes as given (a wrong size is possible);
		// bit 1: split into two segments; bits 2-3: the first segment's
		// index.
		fit := func(b []byte) []byte {
			if mode&1 != 0 {
				return b
			}
			out := make([]byte, seg)
			copy(out, b)
			return out
		}
		first := int64(mode>>2&3) * seg
		files := [][]byte{fit(data)}
		if mode&2 != 0 && len(data) > seg {
			files = [][]byte{fit(data[:seg]), fit(data[seg:])}
		}
		for i, b := range files {
			h, err := fs.Create(fmt.Sprintf("%s/%020d", d, first+int64(i)*seg))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.WriteAt(b, 0); err != nil {
				t.Fatal(err)
			}
			h.Close()
		}
		q, err := Open(fs, d, "T", 0, fuzzUnits)
		if err != nil {
			if !errors.Is(err, segment.ErrBadSize) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		defer q.Close()
		check := func(when string, q *Queue) {
			min, max := q.MinOffset(), q.MaxOffset()
			if min > max || min < 0 {
				t.Fatalf("%s: min %d max %d", when, min, max)
			}
			base := q.segs.MinOffset() / UnitSize
			for _, k := range []int64{get, base - 1, base, min - 1, min, max - 1, max, max + 1} {
				u, ok := q.Get(k)
				if ok != (k >= base && k < max) {
					t.Fatalf("%s: Get(%d) ok %v with units [%d, %d)", when, k, ok, base, max)
				}
				if ok && !u.valid() {
					t.Fatalf("%s: Get(%d) = invalid %+v", when, k, u)
				}
			}
			last := int64(-1)
			q.Read(get, func(off int64, u Unit) bool {
				if off < min || off >= max || off <= last || u.Blank() || !u.valid() {
					t.Fatalf("%s: Read(%d) gave %d %+v after %d, queue [%d, %d)", when, get, off, u, last, min, max)
				}
				last = off
				return true
			})
		}
		check("open", q)
		before := all(q)
		if err := q.TruncateFrom(phys); err != nil {
			t.Fatalf("TruncateFrom: %v", err)
		}
		check("truncated", q)
		after := all(q)
		if len(after) > len(before) || !slices.Equal(after, before[:len(after)]) {
			t.Fatalf("TruncateFrom(%d) changed kept units", phys)
		}
		if _, err := q.DeleteBefore(get); err != nil {
			t.Fatalf("DeleteBefore: %v", err)
		}
		check("deleted", q)
		end, maxPhys := q.MaxOffset(), q.MaxPhysicalOffset()
		next := Unit{CommitLogOffset: max(maxPhys, 0) + 1, Size: 7}
		if next.CommitLogOffset > 0 && next.CommitLogOffset < math.MaxInt64-7 {
			if err := q.Put(end, next); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if u, ok := q.Get(end); !ok || u != next || q.MaxOffset() != end+1 {
				t.Fatalf("Put(%d): Get = %+v, %v", end, u, ok)
			}
		}
		check("put", q)
		kept := all(q)
		min := q.MinOffset()
		q.Close()
		r, err := Open(fs, d, "T", 0, fuzzUnits)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer r.Close()
		if got := all(r); !slices.Equal(got, kept) {
			t.Fatalf("reopened with %d units, had %d", len(got), len(kept))
		}
		// Retention's min offset is not stored: reopening finds the first
		// real unit again, which is at or before it.
		if r.MinOffset() > min {
			t.Fatalf("reopened min offset %d, was %d", r.MinOffset(), min)
		}
		check("reopened", r)
	})
}
