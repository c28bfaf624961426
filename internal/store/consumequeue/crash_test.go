package consumequeue

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkPrefix checks that every unit of q from its first segment on is the
// unit truth gives for its offset (blank where truth gives none).
func checkPrefix(t testing.TB, q *Queue, truth func(k int64) (Unit, bool)) {
	t.Helper()
	for off := q.segs.MinOffset() / UnitSize; off < q.MaxOffset(); off++ {
		got, ok := q.Get(off)
		want, real := truth(off)
		if !real {
			want = blank
		}
		if !ok || got != want {
			t.Fatalf("unit %d = %+v, want %+v (max offset %d)", off, got, want, q.MaxOffset())
		}
	}
	q.Read(0, func(off int64, u Unit) bool {
		if off < q.MinOffset() || off >= q.MaxOffset() || u.Blank() {
			t.Fatalf("Read gave unit %d (%+v) outside [%d, %d)", off, u, q.MinOffset(), q.MaxOffset())
		}
		return true
	})
}

// tailZero checks that the last segment holds only zeros past the end.
func tailZero(t testing.TB, q *Queue) {
	t.Helper()
	f := q.segs.Last()
	if f == nil {
		return
	}
	for i, c := range f.Data()[f.Wrote():] {
		if c != 0 {
			t.Fatalf("byte %d past the recovered end is %#x", f.Wrote()+i, c)
		}
	}
}

// TestCrashRecoveryCleanCut: a crash keeps exactly what was synced.
func TestCrashRecoveryCleanCut(t *testing.T) {
	for _, synced := range []int64{0, 1, 39, 40, 41, 100} {
		t.Run(fmt.Sprint(synced), func(t *testing.T) {
			fs := newMem(t)
			q := open(t, fs, 40)
			for k := range int64(150) {
				if k == synced {
					must(t, q.Sync())
				}
				put(t, q, k, unit(0, k))
			}
			r, err := Open(fs.CrashClone(), dir, "TopicTest", 0, 40)
			must(t, err)
			defer r.Close()
			if r.MaxOffset() != synced {
				t.Fatalf("recovered %d units, %d were synced", r.MaxOffset(), synced)
			}
			checkPrefix(t, r, func(k int64) (Unit, bool) { return unit(0, k), true })
			if synced > 0 {
				checkBounds(t, r, 0, synced, unit(0, synced-1).CommitLogOffset+100)
			}
		})
	}
}

// straddles reports whether unit k of a queue whose first segment starts at
// 0 crosses a page boundary of the crash model.
func straddles(k int64, perSeg int64) bool {
	rel := k % perSeg * UnitSize
	return rel/vfsPage != (rel+UnitSize-1)/vfsPage
}

const vfsPage = 4096 // vfs.CrashPageSize

// TestCrashRecoveryTorn: after a crash that kept some unsynced pages and lost
// others, recovery stops at the first invalid unit, keeps all that was
// synced, and everything it keeps is what was written, except that the last
// unit kept may be torn in bytes recovery cannot check (its tags code) when
// it straddles a lost page: the store truncates every consume queue to the
// safe offset of its checkpoint, which drops such a unit. What lies past
// the end is cleared, so units written in the next run cannot join up with
// units left over from this one. After more writes, of records of another
// epoch, and a second crash, recovery again gives only what was written:
// old units never reappear.
func TestCrashRecoveryTorn(t *testing.T) {
	const perSeg = 1024 // 20 KiB segments: several pages each
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		fs := newMem(t)
		q, err := Open(fs, dir, "TopicTest", 0, perSeg)
		must(t, err)
		// Epoch 0: units with gaps, synced up to s0, written up to n0.
		n0 := 200 + rng.Int64N(2500)
		s0 := rng.Int64N(n0)
		gap := func(k int64) bool { return k%17 == 5 }
		for k := range n0 {
			if k == s0 {
				must(t, q.Sync())
			}
			if !gap(k) {
				must(t, q.Put(k, unit(0, k)))
			}
		}
		img := fs.CrashCloneKeep(rng)
		q.Close()

		r, err := Open(img, dir, "TopicTest", 0, perSeg)
		must(t, err)
		m0 := r.MaxOffset()
		synced := s0
		if s0 > 0 && gap(s0-1) {
			synced-- // the blank is written with the unit after it
		}
		if m0 < synced || m0 > n0 {
			t.Fatalf("seed %d: recovered %d units; %d synced, %d written", seed, m0, s0, n0)
		}
		truth0 := func(k int64) (Unit, bool) {
			u, ok := unit(0, k), !gap(k)
			if k == m0-1 && k >= s0 && straddles(k, perSeg) {
				if got, _ := r.Get(k); got.CommitLogOffset == u.CommitLogOffset {
					u = got // torn past its offset: left to the store
				}
			}
			return u, ok
		}
		checkPrefix(t, r, truth0)
		tailZero(t, r)
		// The store's recovery: truncate to the safe offset (all before s0
		// was durable), then re-dispatch the records the commit log still
		// holds (up to c0), then new records of epoch 1.
		must(t, r.TruncateFrom(unit(0, s0).CommitLogOffset))
		checkPrefix(t, r, func(k int64) (Unit, bool) { return unit(0, k), !gap(k) })
		c0 := s0 + rng.Int64N(n0-s0+1)
		for k := s0; k < c0; k++ {
			if !gap(k) {
				must(t, r.Put(k, unit(0, k)))
			}
		}
		// Epoch 1 records follow the recovered end of the commit log, so
		// they sit where the lost records of epoch 0 were, packed closer.
		e := unit(0, c0).CommitLogOffset
		unit1 := func(k int64) Unit {
			return Unit{CommitLogOffset: e + (k-c0)*300, Size: 250, TagsCode: 1<<32 + k}
		}
		n1 := c0 + 1 + rng.Int64N(2500)
		s1 := c0 + rng.Int64N(n1-c0)
		for k := c0; k < n1; k++ {
			if k == s1 {
				must(t, r.Sync())
			}
			must(t, r.Put(k, unit1(k)))
		}
		img2 := img.CrashCloneKeep(rng)
		r.Close()

		r2, err := Open(img2, dir, "TopicTest", 0, perSeg)
		must(t, err)
		if m := r2.MaxOffset(); m < s1 || m > n1 {
			t.Fatalf("seed %d: second recovery kept %d units; %d synced, %d written", seed, m, s1, n1)
		}
		safe := unit1(s1).CommitLogOffset
		truth1 := func(k int64) (Unit, bool) {
			if k < c0 {
				return unit(0, k), !gap(k)
			}
			return unit1(k), true
		}
		must(t, r2.TruncateFrom(safe))
		checkPrefix(t, r2, truth1)
		if m := r2.MaxOffset(); m != s1 {
			t.Fatalf("seed %d: %d units after truncation to the safe offset, want %d", seed, m, s1)
		}
		tailZero(t, r2)
		r2.Close()
	}
}

// TestCrashAfterTruncateThenAppend: units dropped by TruncateFrom stay
// dropped after a crash at any later point, also once new units have been
// written up to where they were.
func TestCrashAfterTruncateThenAppend(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 1024)
	for k := range int64(1000) {
		put(t, q, k, unit(0, k))
	}
	must(t, q.Sync())
	must(t, q.TruncateFrom(unit(0, 100).CommitLogOffset))
	// New records take offsets 100.. again, packed closer from where the
	// commit log was cut; only some of them are synced.
	unit1 := func(k int64) Unit {
		return Unit{CommitLogOffset: unit(0, 100).CommitLogOffset + (k-100)*300, Size: 250}
	}
	for k := int64(100); k < 500; k++ {
		put(t, q, k, unit1(k))
	}
	must(t, q.Sync())
	for k := int64(500); k < 700; k++ {
		put(t, q, k, unit1(k))
	}
	for seed := range uint64(50) {
		img := fs.CrashCloneKeep(rand.New(rand.NewPCG(seed, 1)))
		r, err := Open(img, dir, "TopicTest", 0, 1024)
		must(t, err)
		if r.MaxOffset() < 500 || r.MaxOffset() > 700 {
			t.Fatalf("seed %d: recovered %d units", seed, r.MaxOffset())
		}
		last := r.MaxOffset() - 1
		checkPrefix(t, r, func(k int64) (Unit, bool) {
			if k < 100 {
				return unit(0, k), true
			}
			u := unit1(k)
			if k == last && k >= 500 && straddles(k, 1024) {
				if got, _ := r.Get(k); got.CommitLogOffset == u.CommitLogOffset {
					u = got
				}
			}
			return u, true
		})
		r.Close()
	}
}

// TestRecoveryOfDamagedImages: hand-made segment images; recovery never
// panics, stops at the first invalid unit and clears what follows.
func TestRecoveryOfDamagedImages(t *testing.T) {
	good := func(from, n int64) []byte {
		var b []byte
		for k := from; k < from+n; k++ {
			b = append(b, units(unit(0, k))...)
		}
		return b
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	const seg = 8 * UnitSize
	pad := func(b []byte) []byte { return append(b, make([]byte, seg-len(b))...) }
	for _, tc := range []struct {
		name  string
		files [][]byte // segments from 0
		max   int64
		segs  int
	}{
		{"half", [][]byte{pad(good(0, 4))}, 4, 1},
		{"empty", [][]byte{pad(nil)}, 0, 1},
		{"full then empty", [][]byte{good(0, 8), pad(nil)}, 8, 1},
		{"full then torn", [][]byte{good(0, 8), pad(cat(good(8, 2), []byte{0xff}))}, 10, 2},
		{"hole in the first", [][]byte{pad(cat(good(0, 2), make([]byte, UnitSize), good(3, 1))), good(8, 8)}, 2, 1},
		{"negative offset", [][]byte{pad(cat(good(0, 3), units(Unit{CommitLogOffset: -5, Size: 3})))}, 3, 1},
		{"size cut short", [][]byte{pad(good(0, 7)[:6*UnitSize+10])}, 6, 1},
		{"out of order", [][]byte{pad(cat(good(0, 3), units(unit(0, 1))))}, 3, 1},
		{"overlapping the previous", [][]byte{pad(cat(good(0, 3), units(Unit{CommitLogOffset: 1500, Size: 600})))}, 3, 1},
		{"torn offset", [][]byte{good(0, 8), pad(cat(units(unit(1, 8)), units(Unit{CommitLogOffset: 9000, Size: 100})))}, 9, 2},
		{"blanks then units", [][]byte{pad(cat(units(blank, blank), good(2, 3)))}, 5, 1},
		{"out of order after blanks", [][]byte{pad(cat(good(5, 1), units(blank), good(1, 1)))}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMem(t)
			for i, b := range tc.files {
				f, err := fs.Create(fmt.Sprintf("%s/%020d", dir, i*seg))
				must(t, err)
				_, err = f.WriteAt(b, 0)
				must(t, err)
				must(t, f.Close())
			}
			q, err := Open(fs, dir, "TopicTest", 0, 8)
			must(t, err)
			defer q.Close()
			if q.MaxOffset() != tc.max || len(q.segs.Segments()) != tc.segs {
				t.Fatalf("max %d segments %d, want %d %d", q.MaxOffset(), len(q.segs.Segments()), tc.max, tc.segs)
			}
			image := cat(tc.files...)
			checkPrefix(t, q, func(k int64) (Unit, bool) {
				u, _ := DecodeUnit(image[k*UnitSize:])
				return u, !u.Blank()
			})
			tailZero(t, q)
			names, _ := fs.ReadDir(dir)
			if len(names) != tc.segs {
				t.Fatalf("files %v", names)
			}
		})
	}
}
