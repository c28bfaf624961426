package index

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// small forces collisions (16 slots) and rollover (7 entries per file).
var small = Options{SlotCount: 16, MaxEntries: 8}

const dir = "store/index"

// put is one call of Put, and the model's record of it.
type put struct {
	key string
	off int64
	ts  int64
}

// model is what an index should answer: every accepted put, in order.
type model []put

// query answers like Index.Query for puts with whole-second timestamps
// that never decrease.
func (m model) query(key string, maxNum int, begin, end int64) []int64 {
	kh := KeyHash(key)
	var out []int64
	for i := len(m) - 1; i >= 0 && len(out) < maxNum; i-- {
		if p := m[i]; KeyHash(p.key) == kh && p.ts >= begin && p.ts <= end {
			out = append(out, p.off)
		}
	}
	return out
}

func (m model) below(off int64) model {
	var out model
	for _, p := range m {
		if p.off < off {
			out = append(out, p)
		}
	}
	return out
}

func openT(t testing.TB, fs vfs.FS, opts Options) *Index {
	t.Helper()
	ix, err := Open(fs, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func putAll(t testing.TB, ix *Index, ps ...put) {
	t.Helper()
	for _, p := range ps {
		if err := ix.Put(p.key, p.off, p.ts); err != nil {
			t.Fatalf("Put(%q, %d, %d): %v", p.key, p.off, p.ts, err)
		}
	}
}

// genPuts makes n puts of messages with two keys each, keys drawn from
// nkeys names, offsets 100 apart from first, a second apart from ts.
func genPuts(n, nkeys int, first, ts int64) model {
	var m model
	for i := range n {
		off := first + int64(i)*100
		m = append(m,
			put{fmt.Sprintf("TopicTest#KEY%d", i%nkeys), off, ts + int64(i)*1000},
			put{fmt.Sprintf("TopicTest#UNIQ%06d", i), off, ts + int64(i)*1000})
	}
	return m
}

// checkQueries compares every key of m (and a few missing ones) against
// the model over the whole time range.
func checkQueries(t testing.TB, ix *Index, m model, keys []string) {
	t.Helper()
	for _, k := range keys {
		got, err := ix.Query(k, math.MaxInt32, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.query(k, math.MaxInt32, math.MinInt64, math.MaxInt64); !slices.Equal(got, want) {
			t.Fatalf("Query(%q) = %v, want %v", k, got, want)
		}
	}
}

func keysOf(m model) []string {
	keys := []string{"TopicTest#missing", "Other#KEY1"}
	for _, p := range m {
		if !slices.Contains(keys, p.key) {
			keys = append(keys, p.key)
		}
	}
	return keys
}

// verifyFiles runs FileView.Verify on every open file.
func verifyFiles(t testing.TB, ix *Index) {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, f := range ix.files {
		fv := FileView{v: f.v}
		if err := fv.Verify(); err != nil {
			t.Fatalf("file %s: %v", f.name, err)
		}
	}
}

func fileNames(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestPutQueryAcrossFiles(t *testing.T) {
	fs := vfs.NewMem()
	ix := openT(t, fs, small)
	defer ix.Close()
	m := genPuts(40, 5, 0, 1_700_000_000_000) // 80 entries, 7 per file
	putAll(t, ix, m...)
	if got := len(fileNames(t, fs)); got != 12 {
		t.Errorf("%d files, want 12", got)
	}
	checkQueries(t, ix, m, keysOf(m))
	verifyFiles(t, ix)
	if got := ix.EndPhyOffset(); got != 3900 {
		t.Errorf("EndPhyOffset = %d, want 3900", got)
	}
}

func TestQueryTimeRangeAndMaxNum(t *testing.T) {
	ix := openT(t, vfs.NewMem(), small)
	defer ix.Close()
	const t0 = 1_700_000_000_000
	m := genPuts(30, 3, 1000, t0)
	putAll(t, ix, m...)
	for _, tc := range []struct {
		begin, end int64
		maxNum     int
	}{
		{t0, t0 + 29_000, 100},
		{t0 + 5000, t0 + 17_000, 100},
		{t0 + 5000, t0 + 5000, 100},
		{t0 + 4500, t0 + 5500, 100}, // exact second inside
		{t0 + 4100, t0 + 4900, 100}, // no whole second inside
		{t0 - 10_000, t0 - 1, 100},  // before everything
		{t0 + 30_000, t0 + 90_000, 100},
		{t0 + 10_000, t0 + 1000, 100}, // empty range
		{math.MinInt64, math.MaxInt64, 1},
		{math.MinInt64, math.MaxInt64, 4},
		{t0 + 3000, t0 + 25_000, 3},
		{math.MinInt64, math.MaxInt64, 0},
		{math.MinInt64, math.MaxInt64, -1},
	} {
		for _, k := range []string{"TopicTest#KEY0", "TopicTest#KEY1", "TopicTest#UNIQ000007"} {
			got, err := ix.Query(k, tc.maxNum, tc.begin, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			want := m.query(k, tc.maxNum, tc.begin, tc.end)
			if !slices.Equal(got, want) {
				t.Errorf("Query(%q, %d, %d, %d) = %v, want %v", k, tc.maxNum, tc.begin-t0, tc.end-t0, got, want)
			}
		}
	}
}

// TestQueryTimeResolution: entry times are kept in whole seconds after the
// file's first entry, as in RocketMQ.
func TestQueryTimeResolution(t *testing.T) {
	ix := openT(t, vfs.NewMem(), small)
	defer ix.Close()
	const t0 = 1_700_000_000_250
	putAll(t, ix, put{"T#a", 0, t0}, put{"T#a", 10, t0 + 1700})
	for _, tc := range []struct {
		begin, end int64
		want       []int64
	}{
		{t0, t0 + 1000, []int64{10, 0}}, // second entry reads as t0+1000
		{t0 + 1001, t0 + 1700, nil},
		{t0 + 1, t0 + 2000, []int64{10}},
	} {
		got, _ := ix.Query("T#a", 10, tc.begin, tc.end)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Query(%d, %d) = %v, want %v", tc.begin-t0, tc.end-t0, got, tc.want)
		}
	}
}

// TestPutSkipsReplayedMessages: the dispatcher replays messages after
// recovery; puts below EndPhyOffset are dropped, while the keys of the
// last message (same offset) are still accepted.
func TestPutSkipsReplayedMessages(t *testing.T) {
	ix := openT(t, vfs.NewMem(), small)
	defer ix.Close()
	putAll(t, ix,
		put{"T#a", 100, 1000},
		put{"T#b", 100, 1000},
		put{"T#c", 50, 1000}, // replay: skipped
		put{"T#d", 100, 1000},
		put{"T#e", 200, 2000},
		put{"T#f", 199, 2000}, // skipped
	)
	for k, want := range map[string][]int64{"T#a": {100}, "T#b": {100}, "T#c": nil, "T#d": {100}, "T#e": {200}, "T#f": nil} {
		got, _ := ix.Query(k, 10, 0, math.MaxInt64)
		if !slices.Equal(got, want) {
			t.Errorf("Query(%s) = %v, want %v", k, got, want)
		}
	}
	if err := ix.Put("T#x", -1, 0); !errors.Is(err, ErrNegativeOffset) {
		t.Errorf("Put(-1) = %v", err)
	}
}

// TestRolloverInheritsEnd: a new file starts with the previous file's end,
// so replayed messages are skipped across the boundary too.
func TestRolloverInheritsEnd(t *testing.T) {
	fs := vfs.NewMem()
	ix := openT(t, fs, Options{SlotCount: 4, MaxEntries: 2}) // one entry per file
	defer ix.Close()
	putAll(t, ix, put{"T#a", 100, 5000}, put{"T#b", 100, 6000}, put{"T#c", 50, 7000})
	if n := len(fileNames(t, fs)); n != 2 {
		t.Fatalf("%d files, want 2", n)
	}
	h := ix.files[1].v.h
	if h.BeginPhyOffset != 100 || h.BeginTimestamp != 6000 || h.EndTimestamp != 6000 || h.IndexCount != 2 || h.HashSlotCount != 1 {
		t.Errorf("second header %+v", h)
	}
}

func TestFileNamesIncrease(t *testing.T) {
	fs := vfs.NewMem()
	ix := openT(t, fs, Options{SlotCount: 4, MaxEntries: 2})
	defer ix.Close()
	clock := time.Date(2024, 5, 6, 7, 8, 9, 10_000_000, time.Local)
	ix.now = func() time.Time { return clock }
	for i := range 5 {
		putAll(t, ix, put{"T#k", int64(i), 0})
	}
	clock = clock.Add(-time.Hour) // the clock goes back
	putAll(t, ix, put{"T#k", 10, 0})
	names := fileNames(t, fs)
	want := []string{"20240506070809010", "20240506070809011", "20240506070809012",
		"20240506070809013", "20240506070809014", "20240506070809015"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
}

func TestReopenFindsEverything(t *testing.T) {
	fs := vfs.NewMem()
	ix := openT(t, fs, small)
	m := genPuts(20, 4, 0, 1_700_000_000_000)
	putAll(t, ix, m[:27]...) // the newest file is partly full
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, err := ix.Query("T#a", 1, 0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close = %v", err)
	}
	if err := ix.Put("T#a", 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v", err)
	}

	// Everything was synced by Close: a crash now loses nothing.
	ix = openT(t, fs.CrashClone(), small)
	checkQueries(t, ix, m[:27], keysOf(m))
	putAll(t, ix, m[27:]...)
	checkQueries(t, ix, m, keysOf(m))
	verifyFiles(t, ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOSFiles runs on the real file system with real mappings.
func TestOSFiles(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "index")
	ix, err := Open(vfs.Default, d, small)
	if err != nil {
		t.Fatal(err)
	}
	m := genPuts(15, 4, 0, 1_700_000_000_000)
	putAll(t, ix, m...)
	if err := ix.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(vfs.Default, d, small)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	checkQueries(t, ix, m, keysOf(m))
	if err := ix.Truncate(700); err != nil {
		t.Fatal(err)
	}
	checkQueries(t, ix, m.below(700), keysOf(m))
	if n, err := ix.DeleteBefore(math.MaxInt64); err != nil || n == 0 {
		t.Errorf("DeleteBefore = %d, %v", n, err)
	}
}

func TestOpenRejectsBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		size    int64
		wantErr error
	}{
		{"short", "20240101000000000", FileSize(16, 8) - 1, ErrBadSize},
		{"empty", "20240101000000000", 0, ErrBadSize},
		{"long", "20240101000000000", FileSize(16, 8) + 1, ErrBadSize},
		{"other geometry", "20240101000000000", FileSize(8, 16), ErrBadSize},
		{"bad name", "notes.txt", FileSize(16, 8), ErrBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			ix := openT(t, fs, small)
			putAll(t, ix, put{"T#a", 1, 1})
			ix.Close()
			f, err := fs.Create(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(tc.size); err != nil {
				t.Fatal(err)
			}
			f.Close()
			_, err = Open(fs, dir, small)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("Open = %v, want %v naming %s", err, tc.wantErr, tc.file)
			}
		})
	}
}

// TestOpenRemovesPartialCreation: a crash while a file is being created
// leaves only a temporary file, which Open removes.
func TestOpenRemovesPartialCreation(t *testing.T) {
	fs := vfs.NewMem()
	ix := openT(t, fs, small)
	putAll(t, ix, put{"T#a", 1, 1})
	ix.Close()
	f, _ := fs.Create(filepath.Join(dir, "20990101000000000.tmp"))
	f.Close()
	ix = openT(t, fs, small)
	defer ix.Close()
	if names := fileNames(t, fs); len(names) != 1 || strings.HasSuffix(names[0], tmpSuffix) {
		t.Errorf("files %v", names)
	}
	if got, _ := ix.Query("T#a", 5, 0, 10); !slices.Equal(got, []int64{1}) {
		t.Errorf("Query = %v", got)
	}
}

// TestOpenAcceptsGarbage: any bytes of the right size open, and reads stay
// in bounds.
func TestOpenAcceptsGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		fs := vfs.NewMem()
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, FileSize(16, 8))
		for i := range b {
			b[i] = byte(rng.IntN(4)) // small values make in-range indexes likely
		}
		b[rng.IntN(len(b))] = 0xff
		f, _ := fs.Create(filepath.Join(dir, "20240101000000000"))
		f.WriteAt(b, 0)
		f.Close()
		ix := openT(t, fs, small)
		for _, k := range []string{"T#a", "T#b", "T#c"} {
			if _, err := ix.Query(k, 100, math.MinInt64, math.MaxInt64); err != nil {
				t.Fatal(err)
			}
		}
		if err := ix.Truncate(math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		verifyFiles(t, ix)
		ix.Close()
	}
}

func TestTruncate(t *testing.T) {
	const t0 = 1_700_000_000_000
	m := genPuts(25, 4, 1000, t0) // offsets 1000..3400, 50 entries, 8 files
	// Entry j (from 0) is key j%2 of message j/2 and lives in file j/7.
	for _, tc := range []struct {
		name string
		at   int64
	}{
		{"beyond end", 1 << 40},
		{"just past last offset", 3401},
		{"at last offset", 3400},        // drops the last file (entry 49 alone) and entry 48
		{"inside last full file", 3200}, // file 6 keeps entries 42..43
		{"middle of a file", 2050},
		{"file begins with second key", 1300}, // file 1 begins with entry 7, at 1300
		{"file begins with first key", 1700},  // file 2 begins with entry 14, at 1700
		{"inside first file", 1150},
		{"at first offset", 1000},
		{"zero", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			ix := openT(t, fs, small)
			defer ix.Close()
			putAll(t, ix, m...)
			if err := ix.Truncate(tc.at); err != nil {
				t.Fatal(err)
			}
			kept := m.below(tc.at)
			checkQueries(t, ix, kept, keysOf(m))
			verifyFiles(t, ix)
			wantEnd := int64(0)
			if len(kept) > 0 {
				wantEnd = kept[len(kept)-1].off
			}
			if got := ix.EndPhyOffset(); got != wantEnd {
				t.Errorf("EndPhyOffset = %d, want %d", got, wantEnd)
			}
			// Each file holds 7 entries; a file is kept if any entry is.
			if got, want := len(fileNames(t, fs)), (len(kept)+6)/7; got != want {
				t.Errorf("%d files, want %d", got, want)
			}
			// The dispatcher replays from the truncation point.
			replay := m[len(kept):]
			putAll(t, ix, replay...)
			checkQueries(t, ix, m, keysOf(m))
			verifyFiles(t, ix)
			// And it survives a reopen.
			ix.Close()
			ix = openT(t, fs.CrashClone(), small)
			checkQueries(t, ix, m, keysOf(m))
		})
	}
}

// TestTruncateRepairsCollidingChains: with one slot, every key shares one
// chain; truncation must leave the slot at the newest kept entry, and
// stale slots and broken prevIndex values (a crash that persisted some
// pages and not others) are rebuilt from the entries.
func TestTruncateRepairsCollidingChains(t *testing.T) {
	opts := Options{SlotCount: 1, MaxEntries: 16}
	m := model{
		{"T#a", 10, 1000}, {"T#b", 20, 2000}, {"T#a", 30, 3000}, {"T#c", 30, 3000},
		{"T#b", 40, 4000}, {"T#a", 50, 5000}, {"T#c", 60, 6000},
	}
	for _, tc := range []struct {
		name   string
		damage func(v *view) // applied before Truncate
		at     int64
	}{
		{name: "clean", at: 40},
		{name: "slot past count", at: 40, damage: func(v *view) { v.setSlot(0, 15) }},
		{name: "negative slot", at: 40, damage: func(v *view) { v.setSlot(0, -3) }},
		{name: "prev cycle", at: 60, damage: func(v *view) {
			e := v.entry(3)
			e.PrevIndex = 5
			v.setEntry(3, e)
		}},
		{name: "prev self", at: 1 << 40, damage: func(v *view) {
			e := v.entry(2)
			e.PrevIndex = 2
			v.setEntry(2, e)
		}},
		{name: "prev garbage", at: 1 << 40, damage: func(v *view) {
			e := v.entry(4)
			e.PrevIndex = math.MaxInt32
			v.setEntry(4, e)
		}},
		{name: "negative time", at: 1 << 40, damage: func(v *view) {
			e := v.entry(2)
			e.TimeDiff = -7
			v.setEntry(2, e)
		}},
		{name: "header count lost", at: 35, damage: func(v *view) {
			v.h.IndexCount = 3 // header page older than entries
			v.writeHeader()
		}},
		{name: "last entries unwritten", at: 1 << 40, damage: func(v *view) {
			v.setEntry(6, Entry{})
			v.setEntry(7, Entry{PrevIndex: 3})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := openT(t, vfs.NewMem(), opts)
			defer ix.Close()
			putAll(t, ix, m...)
			want := m.below(tc.at)
			if tc.damage != nil {
				v := &ix.files[0].v
				tc.damage(v)
				switch tc.name {
				case "header count lost":
					want = m[:2]
				case "last entries unwritten":
					want = m[:5]
				}
			}
			if err := ix.Truncate(tc.at); err != nil {
				t.Fatal(err)
			}
			verifyFiles(t, ix)
			checkQueries(t, ix, want, keysOf(m))
			if s := ix.files[0].v.slot(0); int(s) != len(want) {
				t.Errorf("slot = %d, want %d", s, len(want))
			}
			// A second Truncate at the same point changes nothing.
			if _, changed := ix.files[0].v.truncate(tc.at); changed {
				t.Errorf("second truncate changed the file")
			}
		})
	}
}

func TestDeleteBefore(t *testing.T) {
	fs := vfs.NewMem()
	ix := openT(t, fs, small)
	defer ix.Close()
	m := genPuts(14, 3, 0, 1_700_000_000_000) // 28 entries: 4 files, ends 300, 600, 1000, 1300
	putAll(t, ix, m...)
	for _, tc := range []struct {
		at        int64
		deleted   int
		remaining int
	}{
		{0, 0, 4},
		{300, 0, 4},
		{301, 1, 3},
		{1000, 1, 2},
		{1 << 40, 1, 1}, // never the newest
		{1 << 40, 0, 1},
	} {
		n, err := ix.DeleteBefore(tc.at)
		if err != nil || n != tc.deleted {
			t.Fatalf("DeleteBefore(%d) = %d, %v; want %d", tc.at, n, err, tc.deleted)
		}
		if got := len(fileNames(t, fs)); got != tc.remaining {
			t.Fatalf("after DeleteBefore(%d): %d files, want %d", tc.at, got, tc.remaining)
		}
	}
	// The newest file still answers.
	checkQueries(t, ix, m.below(1 << 40)[21:], []string{"TopicTest#UNIQ000013"})
}

// TestConcurrentQuery runs queries and syncs while the dispatcher puts;
// the race detector checks the locking.
func TestConcurrentQuery(t *testing.T) {
	ix := openT(t, vfs.NewMem(), Options{SlotCount: 64, MaxEntries: 64})
	m := genPuts(500, 10, 0, 1_700_000_000_000)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if g == 0 {
					if err := ix.Sync(); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				got, err := ix.Query(fmt.Sprintf("TopicTest#KEY%d", i%10), 8, math.MinInt64, math.MaxInt64)
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
					t.Errorf("not newest first: %v", got)
				}
				_ = ix.EndPhyOffset()
			}
		})
	}
	putAll(t, ix, m...)
	close(done)
	wg.Wait()
	checkQueries(t, ix, m, []string{"TopicTest#KEY3", "TopicTest#UNIQ000499"})
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashRecovery: after a power loss at any point, Open and Truncate at
// an offset below which the index was synced (the dispatch position read
// before the last Sync, as the store checkpoints it) leave an index that
// passes Verify, finds every key synced before the crash, returns no
// offset past the cut, and takes replayed messages. Truncate at a later
// offset repairs only the newest file, and queries still return nothing
// false.
func TestCrashRecovery(t *testing.T) {
	opts := Options{SlotCount: 64, MaxEntries: 512} // 10,536-byte files, 3 pages
	for seed := range uint64(60) {
		capped := seed%3 != 0
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			fs := vfs.NewMem()
			ix := openT(t, fs, opts)
			n := 100 + rng.IntN(600)
			m := genPuts(n, 37, 100, 1_700_000_000_000)
			syncAt := rng.IntN(len(m))
			var durable int64
			for i, p := range m {
				putAll(t, ix, p)
				if i == syncAt {
					durable = p.off // other keys of this message may come later
					if err := ix.Sync(); err != nil {
						t.Fatal(err)
					}
				}
			}
			crashed := fs.CrashCloneKeep(rng)
			ix.Close()

			ix = openT(t, crashed, opts)
			defer ix.Close()
			cut := m[rng.IntN(len(m))].off + int64(rng.IntN(2))*100
			if capped {
				cut = min(cut, durable)
			}
			if err := ix.Truncate(cut); err != nil {
				t.Fatal(err)
			}
			if capped {
				verifyFiles(t, ix)
			} else if n := len(ix.files); n > 0 {
				if err := (&FileView{v: ix.files[n-1].v}).Verify(); err != nil {
					t.Fatalf("newest file: %v", err)
				}
			}
			if got := ix.EndPhyOffset(); got >= cut && got > 0 {
				t.Fatalf("EndPhyOffset %d >= %d", got, cut)
			}
			offKeys := make(map[int64][]string)
			for _, p := range m {
				offKeys[p.off] = append(offKeys[p.off], p.key)
			}
			for _, k := range keysOf(m) {
				got, err := ix.Query(k, math.MaxInt32, math.MinInt64, math.MaxInt64)
				if err != nil {
					t.Fatal(err)
				}
				for _, off := range got {
					if off >= cut || !slices.Contains(offKeys[off], k) {
						t.Fatalf("Query(%s) returned %d (cut %d)", k, off, cut)
					}
				}
				if !capped {
					continue
				}
				for _, p := range m[:syncAt+1] {
					if p.key == k && p.off < cut && !slices.Contains(got, p.off) {
						t.Fatalf("Query(%s) = %v lost synced offset %d (cut %d)", k, got, p.off, cut)
					}
				}
			}
			if !capped {
				return
			}
			// The dispatcher replays from the cut.
			var replay model
			for _, p := range m {
				if p.off >= cut {
					replay = append(replay, p)
				}
			}
			putAll(t, ix, replay...)
			verifyFiles(t, ix)
			checkQueries(t, ix, m, keysOf(m))
		})
	}
}
