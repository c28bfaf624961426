package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// geometry is a file shape the fuzz target tries every input against.
type geometry struct{ slots, max int }

var fuzzGeometries = [...]geometry{{16, 8}, {4, 32}}

var fuzzKeys = [...]string{"T#k0", "T#k1", "T#k2", "T#k3", "T#k4", "polygenelubricants", "T#none"}

// seedImage is a file written by Index.Put and the puts that made it.
type seedImage struct {
	g   geometry
	img []byte
	m   model
}

// buildSeeds writes files through Index.Put, one per seed, with colliding
// keys, several keys per offset and whole-second times, and reads them back.
func buildSeeds(tb testing.TB) []seedImage {
	var out []seedImage
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range fuzzGeometries {
		for _, n := range []int{1, 2, 3, g.max / 2, g.max - 1} {
			fs := vfs.NewMem()
			ix, err := Open(fs, dir, Options{SlotCount: g.slots, MaxEntries: g.max})
			if err != nil {
				tb.Fatal(err)
			}
			var m model
			off, ts := int64(rng.IntN(1000)), int64(1_700_000_000_000)
			for range n {
				if rng.IntN(3) > 0 {
					off += int64(1 + rng.IntN(500))
					ts += int64(rng.IntN(3)) * 1000
				}
				p := put{fuzzKeys[rng.IntN(6)], off, ts}
				putAll(tb, ix, p)
				m = append(m, p)
			}
			if err := ix.Close(); err != nil {
				tb.Fatal(err)
			}
			names := fileNames(tb, fs)
			if len(names) != 1 {
				tb.Fatalf("%d files", len(names))
			}
			out = append(out, seedImage{g, readAll(tb, fs, filepath.Join(dir, names[0])), m})
		}
		// A file as created, before its first entry, and one never written.
		empty := make([]byte, FileSize(g.slots, g.max))
		out = append(out, seedImage{g, slices.Clone(empty), nil})
		Header{IndexCount: 1}.AppendTo(empty[:0])
		out = append(out, seedImage{g, empty, nil})
	}
	return out
}

func readAll(tb testing.TB, fs vfs.FS, name string) []byte {
	tb.Helper()
	f, err := fs.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzIndexReader feeds arbitrary bytes to ReadFile, the lookup, Verify,
// and the repair done by Truncate. None may panic or hang; images written
// by Put must answer lookups as the puts say; and repair must always
// produce a file that passes Verify, holds nothing at or past the cut,
// finds each entry it kept, is left alone by a second repair, and takes
// new entries.
func FuzzIndexReader(f *testing.F) {
	seeds := buildSeeds(f)
	expect := make(map[geometry]map[string]model)
	for _, s := range seeds {
		if expect[s.g] == nil {
			expect[s.g] = make(map[string]model)
		}
		expect[s.g][string(s.img)] = s.m
		var cut int64 = math.MaxInt64
		if len(s.m) > 0 {
			cut = s.m[len(s.m)/2].off
		}
		f.Add(s.img, cut, int64(math.MinInt64), int64(math.MaxInt64), uint8(100))
		if len(s.m) > 1 {
			f.Add(s.img, int64(0), s.m[1].ts, s.m[len(s.m)-1].ts, uint8(2))
		}
	}
	f.Add([]byte("short"), int64(1), int64(0), int64(1), uint8(1))

	f.Fuzz(func(t *testing.T, img []byte, cut, begin, end int64, maxNum uint8) {
		for _, g := range fuzzGeometries {
			fuzzOne(t, g, expect[g], img, cut, begin, end, int(maxNum))
		}
	})
}

func fuzzOne(t *testing.T, g geometry, expect map[string]model, img []byte, cut, begin, end int64, maxNum int) {
	fv, err := ReadFile(img, g.slots, g.max)
	if m, ok := expect[string(img)]; ok {
		if err != nil {
			t.Fatalf("seed: ReadFile: %v", err)
		}
		if err := fv.Verify(); err != nil {
			t.Fatalf("seed: Verify: %v", err)
		}
		if fv.Len() != len(m) {
			t.Fatalf("seed: Len %d, want %d", fv.Len(), len(m))
		}
		for _, k := range fuzzKeys {
			got := fv.Lookup(nil, k, math.MaxInt32, math.MinInt64, math.MaxInt64)
			if want := m.query(k, math.MaxInt32, math.MinInt64, math.MaxInt64); !slices.Equal(got, want) {
				t.Fatalf("seed: Lookup(%s) = %v, want %v", k, got, want)
			}
			got = fv.Lookup(nil, k, maxNum, begin, end)
			if want := m.query(k, maxNum, begin, end); !slices.Equal(got, want) {
				t.Fatalf("seed: Lookup(%s, %d, %d, %d) = %v, want %v", k, maxNum, begin, end, got, want)
			}
		}
	}
	if err == nil {
		for _, k := range fuzzKeys {
			if got := fv.Lookup(nil, k, maxNum, begin, end); len(got) > maxNum {
				t.Fatalf("Lookup returned %d > %d", len(got), maxNum)
			}
		}
		_ = fv.Verify()
		for i := -1; i <= fv.Len()+1; i++ {
			fv.Entry(i)
		}
		for s := -1; s <= g.slots; s++ {
			fv.Slot(s)
		}
	}

	// Repair, as Truncate does after Open took the bytes leniently.
	v, err := newView(slices.Clone(img), g.slots, g.max)
	if err != nil {
		return
	}
	n, _ := v.truncate(cut)
	if n < 1 || int(n) > g.max || n != v.h.IndexCount {
		t.Fatalf("truncate returned count %d (header %d)", n, v.h.IndexCount)
	}
	rv := &FileView{v: v}
	if err := rv.Verify(); err != nil {
		t.Fatalf("after truncate(%d): %v", cut, err)
	}
	if h, _ := DecodeHeader(v.b); h != v.h {
		t.Fatalf("header on disk %+v, in memory %+v", h, v.h)
	}
	for i := 1; i < int(n); i++ {
		e := v.entry(i)
		if e.PhyOffset >= cut {
			t.Fatalf("entry %d at %d survived truncate(%d)", i, e.PhyOffset, cut)
		}
		if e.KeyHash < 0 {
			continue // no key hashes to it
		}
		if got := v.lookup(nil, e.KeyHash, math.MaxInt32, math.MinInt64, math.MaxInt64); !slices.Contains(got, e.PhyOffset) {
			t.Fatalf("entry %d (%+v) not found after truncate: %v", i, e, got)
		}
	}
	if _, changed := v.truncate(cut); changed {
		t.Fatalf("second truncate(%d) changed the file", cut)
	}
	if v.full() {
		return
	}
	off := max(v.h.EndPhyOffset, 0)
	kh := KeyHash(fmt.Sprint("T#new", cut))
	v.add(kh, off, begin)
	if err := (&FileView{v: v}).Verify(); err != nil {
		t.Fatalf("after add: %v", err)
	}
	if got := v.lookup(nil, kh, 1, math.MinInt64, math.MaxInt64); !slices.Equal(got, []int64{off}) {
		t.Fatalf("added entry: lookup = %v, want [%d]", got, off)
	}
}
