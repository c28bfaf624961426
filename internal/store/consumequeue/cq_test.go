package consumequeue

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/quiver-mq/quiver/internal/store/segment"
	"github.com/quiver-mq/quiver/internal/vfs"
)

const dir = "/store/consumequeue/TopicTest/0"

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
	for _, d := range []string{"/store", "/store/consumequeue", "/store/consumequeue/TopicTest"} {
		must(t, fs.SyncDir(d))
	}
	return fs
}

func open(t testing.TB, fs vfs.FS, perSeg int) *Queue {
	t.Helper()
	q, err := Open(fs, dir, "TopicTest", 0, perSeg)
	must(t, err)
	t.Cleanup(func() { q.Close() })
	return q
}

// unit is the unit of queue offset k in a given epoch: records of 100 bytes
// 1000 bytes apart, each epoch far from the others.
func unit(epoch, k int64) Unit {
	return Unit{CommitLogOffset: epoch<<40 + k*1000, Size: 100, TagsCode: epoch<<32 + k}
}

var blank = Unit{Size: math.MaxInt32}

func put(t testing.TB, q *Queue, qo int64, u Unit) {
	t.Helper()
	must(t, q.Put(qo, u))
}

// all returns every written unit of q from the first segment on, blanks
// included.
func all(q *Queue) []Unit {
	var out []Unit
	for off := q.segs.MinOffset() / UnitSize; off < q.MaxOffset(); off++ {
		u, ok := q.Get(off)
		if !ok {
			panic(fmt.Sprintf("Get(%d) failed below MaxOffset %d", off, q.MaxOffset()))
		}
		out = append(out, u)
	}
	return out
}

type read struct {
	off int64
	u   Unit
}

func readAll(q *Queue, from int64) []read {
	var out []read
	q.Read(from, func(off int64, u Unit) bool {
		out = append(out, read{off, u})
		return true
	})
	return out
}

func segBases(q *Queue) []int64 {
	var out []int64
	for _, f := range q.segs.Segments() {
		out = append(out, f.Base())
	}
	return out
}

func checkBounds(t testing.TB, q *Queue, min, max, maxPhys int64) {
	t.Helper()
	if q.MinOffset() != min || q.MaxOffset() != max || q.MaxPhysicalOffset() != maxPhys {
		t.Fatalf("min %d max %d maxPhys %d, want %d %d %d", q.MinOffset(), q.MaxOffset(), q.MaxPhysicalOffset(), min, max, maxPhys)
	}
}

func TestPutGet(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 4)
	checkBounds(t, q, 0, 0, 0)
	if _, ok := q.Get(0); ok {
		t.Fatal("Get on an empty queue")
	}
	for k := range int64(10) {
		put(t, q, k, unit(0, k))
	}
	checkBounds(t, q, 0, 10, 9100)
	for k := range int64(10) {
		if u, ok := q.Get(k); !ok || u != unit(0, k) {
			t.Fatalf("Get(%d) = %+v, %v", k, u, ok)
		}
	}
	for _, k := range []int64{-1, 10, 11, math.MaxInt64, math.MinInt64} {
		if _, ok := q.Get(k); ok {
			t.Fatalf("Get(%d) ok", k)
		}
	}
	if got := segBases(q); !slices.Equal(got, []int64{0, 80, 160}) {
		t.Fatalf("segments %v", got)
	}
	if !q.Dirty() {
		t.Fatal("not dirty after Put")
	}
	must(t, q.Sync())
	if q.Dirty() {
		t.Fatal("dirty after Sync")
	}
}

func TestPutSkipsDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		qo    int64
		u     Unit
		wrote bool
	}{
		{"offset already written", 2, unit(0, 9), false},
		{"offset far below", 0, unit(0, 9), false},
		{"record before the last", 3, Unit{CommitLogOffset: 1000, Size: 100}, false},
		{"record ends where the last ends", 3, Unit{CommitLogOffset: 2050, Size: 50}, false},
		{"record ends one past the last", 3, Unit{CommitLogOffset: 2050, Size: 51}, true},
		{"next record", 3, unit(0, 3), true},
		{"record after a gap, at a later offset", 5, unit(0, 5), true},
		{"stale record at a later offset", 5, unit(0, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := open(t, newMem(t), 4)
			for k := range int64(3) {
				put(t, q, k, unit(0, k))
			}
			before := all(q)
			put(t, q, tc.qo, tc.u)
			after := all(q)
			if !tc.wrote {
				if !slices.Equal(before, after) {
					t.Fatalf("duplicate written: %v", after)
				}
				return
			}
			if q.MaxOffset() != tc.qo+1 || after[tc.qo] != tc.u {
				t.Fatalf("not written: max %d", q.MaxOffset())
			}
			if q.MaxPhysicalOffset() != tc.u.CommitLogOffset+int64(tc.u.Size) {
				t.Fatalf("max phys %d", q.MaxPhysicalOffset())
			}
		})
	}
}

func TestPutFillsGapsWithBlanks(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 4)
	put(t, q, 0, unit(0, 0))
	put(t, q, 6, unit(0, 6)) // blanks 1..5 cross into the second segment
	put(t, q, 7, unit(0, 7))
	want := []Unit{unit(0, 0), blank, blank, blank, blank, blank, unit(0, 6), unit(0, 7)}
	if got := all(q); !slices.Equal(got, want) {
		t.Fatalf("units %v", got)
	}
	checkBounds(t, q, 0, 8, 7100)
	if got := readAll(q, 0); !slices.Equal(got, []read{{0, unit(0, 0)}, {6, unit(0, 6)}, {7, unit(0, 7)}}) {
		t.Fatalf("Read %v", got)
	}
	if got := readAll(q, 1); !slices.Equal(got, []read{{6, unit(0, 6)}, {7, unit(0, 7)}}) {
		t.Fatalf("Read from a blank %v", got)
	}
	// The blanks survive a restart.
	must(t, q.Close())
	r := open(t, fs, 4)
	if got := all(r); !slices.Equal(got, want) {
		t.Fatalf("reopened units %v", got)
	}
	checkBounds(t, r, 0, 8, 7100)
}

// TestFirstUnitAtNonZeroOffset: a queue whose first unit has a queue offset
// past 0 (its earlier records were deleted before the queue was rebuilt)
// starts at the segment holding that offset, blank-filled before it
// (RocketMQ fillPreBlank).
func TestFirstUnitAtNonZeroOffset(t *testing.T) {
	for _, tc := range []struct {
		qo   int64
		base int64 // first segment, bytes
	}{
		{1, 0}, {3, 0}, {4, 80}, {5, 80}, {7, 80}, {41, 800},
	} {
		t.Run(fmt.Sprint(tc.qo), func(t *testing.T) {
			fs := newMem(t)
			q := open(t, fs, 4)
			u := unit(0, tc.qo)
			put(t, q, tc.qo, u)
			put(t, q, tc.qo+1, unit(0, tc.qo+1))
			checkBounds(t, q, tc.qo, tc.qo+2, unit(0, tc.qo+1).CommitLogOffset+100)
			if got := segBases(q)[0]; got != tc.base {
				t.Fatalf("first segment %d, want %d", got, tc.base)
			}
			for k := tc.base / UnitSize; k < tc.qo; k++ {
				if got, ok := q.Get(k); !ok || !got.Blank() {
					t.Fatalf("Get(%d) = %+v, %v: want a blank", k, got, ok)
				}
			}
			if _, ok := q.Get(tc.base/UnitSize - 1); ok {
				t.Fatal("Get before the first segment")
			}
			if got := readAll(q, 0); len(got) != 2 || got[0] != (read{tc.qo, u}) {
				t.Fatalf("Read %v", got)
			}
			put(t, q, tc.qo-1, unit(0, tc.qo-1)) // behind: skipped
			if q.MaxOffset() != tc.qo+2 {
				t.Fatal("unit before the first written")
			}
			must(t, q.Sync())
			must(t, q.Close())
			for _, img := range []vfs.FS{fs, fs.CrashClone()} {
				r, err := Open(img, dir, "TopicTest", 0, 4)
				must(t, err)
				checkBounds(t, r, tc.qo, tc.qo+2, unit(0, tc.qo+1).CommitLogOffset+100)
				r.Close()
			}
		})
	}
}

func TestRead(t *testing.T) {
	q := open(t, newMem(t), 4)
	offs := []int64{2, 3, 4, 8, 9, 10, 11, 12, 15}
	for _, k := range offs {
		put(t, q, k, unit(0, k))
	}
	want := func(from int64) []read {
		var out []read
		for _, k := range offs {
			if k >= from {
				out = append(out, read{k, unit(0, k)})
			}
		}
		return out
	}
	for from := int64(-3); from <= 18; from++ {
		if got := readAll(q, from); !slices.Equal(got, want(from)) {
			t.Fatalf("Read(%d) = %v, want %v", from, got, want(from))
		}
	}
	for stop := range len(offs) {
		var got []int64
		q.Read(0, func(off int64, _ Unit) bool {
			got = append(got, off)
			return len(got) <= stop
		})
		if !slices.Equal(got, offs[:stop+1]) {
			t.Fatalf("Read stopping after %d: %v", stop+1, got)
		}
	}
	q.Read(math.MaxInt64, func(int64, Unit) bool { t.Fatal("called"); return false })
	q.Read(math.MinInt64, func(int64, Unit) bool { return false })
}

// TestReadConcurrentWithPut: readers see only complete units below the write
// offset, in order, while the dispatcher writes (run with -race).
func TestReadConcurrentWithPut(t *testing.T) {
	q := open(t, newMem(t), 16)
	const n = 3000
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				from := rng.Int64N(n)
				max := q.MaxOffset()
				last := int64(-1)
				q.Read(from, func(off int64, u Unit) bool {
					if off <= last || off < from || u != unit(0, off) {
						t.Errorf("Read(%d): unit %d = %+v after %d", from, off, u, last)
						return false
					}
					last = off
					return true
				})
				// It read at least up to the last unit written before it
				// started.
				want := max - 1
				for want >= from && !real3(want) {
					want--
				}
				if last >= q.MaxOffset() || (want >= from && last < want) {
					t.Errorf("Read(%d) stopped at %d with max offset %d", from, last, max)
				}
			}
		})
	}
	for k := range int64(n) {
		if !real3(k) {
			continue // blank
		}
		put(t, q, k, unit(0, k))
	}
	close(done)
	wg.Wait()
}

// real3 reports whether queue offset k holds a real unit in
// TestReadConcurrentWithPut.
func real3(k int64) bool { return k%3 != 1 }

func TestTruncateFrom(t *testing.T) {
	type layout []int64 // queue offsets of real units, in order; others are blank
	seq := func(lo, hi int64) layout {
		var l layout
		for k := lo; k < hi; k++ {
			l = append(l, k)
		}
		return l
	}
	for _, tc := range []struct {
		name    string
		units   layout
		phys    int64
		max     int64 // MaxOffset after
		min     int64 // MinOffset after
		maxPhys int64
	}{
		{"all", seq(0, 12), 0, 0, 0, 0},
		{"from the second", seq(0, 12), 1, 1, 0, 100},
		{"at a unit", seq(0, 12), 5000, 5, 0, 4100},
		{"inside a record", seq(0, 12), 5050, 6, 0, 5100},
		{"at a segment start", seq(0, 12), 8000, 8, 0, 7100},
		{"last", seq(0, 12), 11000, 11, 0, 10100},
		{"past the end", seq(0, 12), 11001, 12, 0, 11100},
		{"far past", seq(0, 12), 1 << 50, 12, 0, 11100},
		// Blank units sit between real ones: the search looks past them,
		// and blanks before the cut stay (RocketMQ keeps them too).
		{"blank between, keeps blanks", layout{0, 1, 6, 7, 9}, 1500, 6, 0, 1100},
		{"blank before and between", layout{1, 3}, 1000, 1, 1, 0},
		{"blank between, at the first", layout{0, 1, 6, 7, 9}, 500, 1, 0, 100},
		{"blank between, inside", layout{0, 1, 6, 7, 9}, 6500, 7, 0, 6100},
		{"blank between, nothing", layout{0, 1, 6, 7, 9}, 9500, 10, 0, 9100},
		{"blank run across segments", layout{0, 10, 11}, 5000, 10, 0, 100},
		// First unit past 0: the blank prefix stays.
		{"pre-blank, all", layout{5, 6, 7}, 0, 5, 5, 0},
		{"pre-blank, some", layout{5, 6, 7}, 6000, 6, 5, 5100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMem(t)
			q := open(t, fs, 4)
			for _, k := range tc.units {
				put(t, q, k, unit(0, k))
			}
			must(t, q.Sync())
			before := all(q)
			must(t, q.TruncateFrom(tc.phys))
			checkBounds(t, q, tc.min, tc.max, tc.maxPhys)
			got := all(q)
			if !slices.Equal(got, before[:len(got)]) {
				t.Fatalf("kept units changed: %v", got)
			}
			// Appending again continues from the cut.
			if len(tc.units) > 0 {
				put(t, q, tc.max, unit(1, tc.max))
				if u, _ := q.Get(tc.max); u != unit(1, tc.max) {
					t.Fatalf("Put after truncation: %+v", u)
				}
				must(t, q.TruncateFrom(unit(1, 0).CommitLogOffset))
				checkBounds(t, q, tc.min, tc.max, tc.maxPhys)
			}
			// Nothing dropped comes back: not on reopen, not after a crash
			// (the dropped units had been synced).
			crashed := fs.CrashClone()
			must(t, q.Close())
			for name, img := range map[string]vfs.FS{"reopen": fs, "crash": crashed} {
				r, err := Open(img, dir, "TopicTest", 0, 4)
				must(t, err)
				if r.MaxOffset() != tc.max {
					t.Fatalf("%s: max offset %d, want %d: dropped units came back", name, r.MaxOffset(), tc.max)
				}
				if r.MaxPhysicalOffset() != tc.maxPhys {
					t.Fatalf("%s: max phys %d, want %d", name, r.MaxPhysicalOffset(), tc.maxPhys)
				}
				r.Close()
			}
		})
	}
}

func TestDeleteBefore(t *testing.T) {
	type layout []int64
	for _, tc := range []struct {
		name    string
		units   layout
		phys    int64
		removed int
		segs    []int64
		min     int64
	}{
		{"nothing", layout{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 0, []int64{0, 80, 160}, 0},
		{"min moves inside the first", layout{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 2100, 0, []int64{0, 80, 160}, 3},
		{"first segment", layout{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3100, 1, []int64{80, 160}, 4},
		{"first segment, record ends past", layout{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3099, 0, []int64{0, 80, 160}, 4},
		{"all but the last", layout{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 1 << 50, 2, []int64{160}, 10},
		// A segment ending in blanks is judged by its last real unit, and
		// one of blanks only holds nothing.
		{"blank tail", layout{0, 1, 6, 7}, 1100, 1, []int64{80}, 6},
		{"blank-only segment", layout{0, 9}, 100, 2, []int64{160}, 9},
		{"blank tail, kept", layout{0, 1, 6, 7}, 1099, 0, []int64{0, 80}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMem(t)
			q := open(t, fs, 4)
			for _, k := range tc.units {
				put(t, q, k, unit(0, k))
			}
			max := q.MaxOffset()
			n, err := q.DeleteBefore(tc.phys)
			must(t, err)
			if n != tc.removed || !slices.Equal(segBases(q), tc.segs) || q.MinOffset() != tc.min {
				t.Fatalf("removed %d, segments %v, min %d; want %d %v %d", n, segBases(q), q.MinOffset(), tc.removed, tc.segs, tc.min)
			}
			if q.MaxOffset() != max {
				t.Fatalf("max offset %d", q.MaxOffset())
			}
			if got := readAll(q, 0); len(got) > 0 && got[0].off < q.MinOffset() {
				t.Fatalf("Read returned %d below the min offset %d", got[0].off, q.MinOffset())
			}
			names, err := fs.ReadDir(dir)
			must(t, err)
			if len(names) != len(tc.segs) {
				t.Fatalf("files %v", names)
			}
		})
	}
}

func TestReopenRecovers(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 4)
	for _, k := range []int64{6, 7, 9, 12, 13, 14, 15, 17} {
		put(t, q, k, unit(0, k))
	}
	want := all(q)
	must(t, q.Sync())
	must(t, q.Close())
	for name, img := range map[string]vfs.FS{"reopen": fs, "crash": fs.CrashClone()} {
		r, err := Open(img, dir, "TopicTest", 0, 4)
		must(t, err)
		checkBounds(t, r, 6, 18, 17100)
		if got := all(r); !slices.Equal(got, want) {
			t.Fatalf("%s: units %v", name, got)
		}
		r.Close()
	}
	// An empty last segment and a missing directory.
	q2, err := Open(fs, "/elsewhere/x/1", "x", 1, 0)
	must(t, err)
	checkBounds(t, q2, 0, 0, 0)
	put(t, q2, 0, unit(0, 0))
	if got := segBases(q2); !slices.Equal(got, []int64{0}) || q2.segs.SegmentSize() != DefaultUnitsPerSegment*UnitSize {
		t.Fatalf("default segment size: %v %d", got, q2.segs.SegmentSize())
	}
	must(t, q2.Remove())
	if names, _ := fs.ReadDir("/elsewhere/x/1"); len(names) != 0 {
		t.Fatalf("Remove left %v", names)
	}
}

func TestOpenErrors(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 4)
	for k := range int64(9) {
		put(t, q, k, unit(0, k))
	}
	must(t, q.Sync())
	must(t, q.Close())
	if _, err := Open(fs, dir, "TopicTest", 0, 5); !errors.Is(err, segment.ErrBadSize) {
		t.Fatalf("Open with another segment size: %v, want ErrBadSize", err)
	}
	efs := vfs.Inject(fs, vfs.FailNth(vfs.OpReadDir, 1, syscall.EIO))
	if _, err := Open(efs, dir, "TopicTest", 0, 4); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Open with a failing ReadDir: %v", err)
	}
}

func TestPutENOSPC(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 4)
	for k := range int64(4) {
		put(t, q, k, unit(0, k))
	}
	du, err := fs.DiskUsage(dir)
	must(t, err)
	fs.SetCapacity(du.Total - du.Free)
	if err := q.Put(4, unit(0, 4)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk: %v, want ENOSPC", err)
	}
	checkBounds(t, q, 0, 4, 3100)
	fs.SetCapacity(vfs.DefaultMemCapacity)
	put(t, q, 4, unit(0, 4))
	checkBounds(t, q, 0, 5, 4100)
	// A first unit at a non-zero offset on a full disk.
	q2, err := Open(fs, "/other", "o", 0, 4)
	must(t, err)
	defer q2.Close()
	du, err = fs.DiskUsage(dir)
	must(t, err)
	fs.SetCapacity(du.Total - du.Free)
	if err := q2.Put(9, unit(0, 9)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("first Put on a full disk: %v", err)
	}
	checkBounds(t, q2, 0, 0, 0)
}
