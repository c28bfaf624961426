package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/vfs"
)

const segSize = 4096

func openQueue(t testing.TB, fs vfs.FS, opts QueueOptions) *Queue {
	t.Helper()
	if opts.SegmentSize == 0 {
		opts.SegmentSize = segSize
	}
	q, err := OpenQueue(fs, dir, opts)
	must(t, err)
	t.Cleanup(func() { q.Close() })
	return q
}

// bases lists the segment bases of q.
func bases(q *Queue) []int64 {
	var out []int64
	for _, f := range q.Segments() {
		out = append(out, f.Base())
	}
	return out
}

// fileBases lists the segment files in dir.
func fileBases(t testing.TB, fs vfs.FS) []int64 {
	t.Helper()
	names, err := fs.ReadDir(dir)
	must(t, err)
	var out []int64
	for _, n := range names {
		if b, ok := ParseName(n); ok {
			out = append(out, b)
		}
	}
	return out
}

// roll appends a segment and fills it with stamp(base) in its first bytes.
func roll(t testing.TB, q *Queue, fill int) *File {
	t.Helper()
	var base int64
	if l := q.Last(); l != nil {
		base = l.End()
	}
	f, err := q.Roll(base)
	must(t, err)
	binary.BigEndian.PutUint64(f.Data(), uint64(base)+1)
	f.SetWrote(fill)
	return f
}

// writeFile creates a raw file of size bytes whose first 8 bytes are mark.
func writeFile(t testing.TB, fs vfs.FS, name string, size int, mark uint64) {
	t.Helper()
	f, err := fs.Create(dir + "/" + name)
	must(t, err)
	b := make([]byte, size)
	if size >= 8 {
		binary.BigEndian.PutUint64(b, mark)
	}
	_, err = f.WriteAt(b, 0)
	must(t, err)
	must(t, f.Sync())
	must(t, f.Close())
}

func TestOpenQueueLoadRules(t *testing.T) {
	type file struct {
		base int64
		size int
	}
	for _, tc := range []struct {
		name    string
		files   []file
		extra   []string // stray names
		want    []int64  // loaded bases
		left    []int64  // files left on disk
		wantErr string
		badSize bool
	}{
		{name: "empty"},
		{name: "one", files: []file{{0, segSize}}, want: []int64{0}, left: []int64{0}},
		{name: "contiguous", files: []file{{segSize, segSize}, {2 * segSize, segSize}, {3 * segSize, segSize}},
			want: []int64{segSize, 2 * segSize, 3 * segSize}, left: []int64{segSize, 2 * segSize, 3 * segSize}},
		{name: "empty last removed", files: []file{{0, segSize}, {segSize, 0}}, want: []int64{0}, left: []int64{0}},
		{name: "only file empty", files: []file{{0, 0}}, want: nil, left: nil},
		{name: "strays ignored", files: []file{{0, segSize}}, extra: []string{"checkpoint", "00000000000000000001.tmp", "+0000000000000004096", "abc"},
			want: []int64{0}, left: []int64{0}},
		{name: "empty middle", files: []file{{0, segSize}, {segSize, 0}, {2 * segSize, segSize}}, badSize: true, left: []int64{0, segSize, 2 * segSize}},
		{name: "short last", files: []file{{0, segSize}, {segSize, 100}}, badSize: true, left: []int64{0, segSize}},
		{name: "long last", files: []file{{0, segSize}, {segSize, segSize + 1}}, badSize: true},
		{name: "short first", files: []file{{0, 100}, {segSize, segSize}}, badSize: true},
		{name: "gap", files: []file{{0, segSize}, {2 * segSize, segSize}}, wantErr: "gap or overlap"},
		{name: "misaligned", files: []file{{100, segSize}}, badSize: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMem(t)
			for _, f := range tc.files {
				writeFile(t, fs, FileName(f.base), f.size, uint64(f.base)+1)
			}
			for _, n := range tc.extra {
				writeFile(t, fs, n, 10, 0)
			}
			q, err := OpenQueue(fs, dir, QueueOptions{SegmentSize: segSize})
			switch {
			case tc.badSize:
				if !errors.Is(err, ErrBadSize) {
					t.Fatalf("OpenQueue: %v, want ErrBadSize", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("OpenQueue: %v, want %q", err, tc.wantErr)
				}
			default:
				must(t, err)
				if got := bases(q); !slices.Equal(got, tc.want) {
					t.Fatalf("loaded %v, want %v", got, tc.want)
				}
				for _, f := range q.Segments() {
					if f.Wrote() != 0 || f.Flushed() != 0 {
						t.Fatalf("segment %d loaded with wrote %d flushed %d", f.Base(), f.Wrote(), f.Flushed())
					}
					if got := binary.BigEndian.Uint64(f.Data()); got != uint64(f.Base())+1 {
						t.Fatalf("segment %d holds the mark of %d", f.Base(), got-1)
					}
				}
				must(t, q.Close())
			}
			if tc.left != nil || (tc.wantErr == "" && !tc.badSize) {
				if got := fileBases(t, fs); !slices.Equal(got, tc.left) {
					t.Fatalf("files left %v, want %v", got, tc.left)
				}
			}
		})
	}
	if _, err := OpenQueue(newMem(t), dir, QueueOptions{}); err == nil {
		t.Fatal("OpenQueue with segment size 0: no error")
	}
}

func TestOpenQueueFailureClosesFiles(t *testing.T) {
	fs := newMem(t)
	for i := range 3 {
		writeFile(t, fs, FileName(int64(i)*segSize), segSize, 0)
	}
	efs := vfs.Inject(fs, vfs.FailNth(vfs.OpMap, 3, syscall.EIO))
	if _, err := OpenQueue(efs, dir, QueueOptions{SegmentSize: segSize}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("OpenQueue: %v", err)
	}
	if o, c := efs.Count(vfs.OpOpenReadWrite), efs.Count(vfs.OpClose); o != c {
		t.Fatalf("%d files opened, %d closed", o, c)
	}
}

func TestQueueRollWithoutPreallocate(t *testing.T) {
	fs := newMem(t)
	q := openQueue(t, fs, QueueOptions{})
	if q.Last() != nil || q.First() != nil || q.MinOffset() != 0 || q.WriteOffset() != 0 {
		t.Fatal("empty queue is not empty")
	}
	q.Prepare() // no-op without Preallocate
	a := roll(t, q, 100)
	if q.WriteOffset() != 100 || q.MinOffset() != 0 || q.Last() != a || q.First() != a {
		t.Fatalf("write offset %d min %d", q.WriteOffset(), q.MinOffset())
	}
	roll(t, q, segSize)
	c := roll(t, q, 7)
	if got := bases(q); !slices.Equal(got, []int64{0, segSize, 2 * segSize}) {
		t.Fatalf("bases %v", got)
	}
	if q.WriteOffset() != 2*segSize+7 || q.Last() != c {
		t.Fatalf("write offset %d", q.WriteOffset())
	}
	if got := fileBases(t, fs); !slices.Equal(got, []int64{0, segSize, 2 * segSize}) {
		t.Fatalf("files %v", got)
	}
	// Roll makes the new name durable.
	if got := fileBases(t, fs.CrashClone()); !slices.Equal(got, []int64{0, segSize, 2 * segSize}) {
		t.Fatalf("files after crash %v", got)
	}
	// A roll that would leave a gap or overlap is refused.
	for _, base := range []int64{0, 2 * segSize, 4 * segSize} {
		if _, err := q.Roll(base); err == nil {
			t.Fatalf("Roll(%d) after %v: no error", base, bases(q))
		}
	}
	if got := bases(q); !slices.Equal(got, []int64{0, segSize, 2 * segSize}) {
		t.Fatalf("bases after refused rolls %v", got)
	}
}

func TestQueueRollRefusesExistingFile(t *testing.T) {
	for _, pre := range []bool{false, true} {
		t.Run(fmt.Sprint("preallocate=", pre), func(t *testing.T) {
			fs := newMem(t)
			q := openQueue(t, fs, QueueOptions{Preallocate: pre})
			// A file is where the next segment goes (an operator, or a bug
			// elsewhere): neither the allocator nor Roll may touch it.
			writeFile(t, fs, FileName(segSize), segSize, 0xfeed)
			roll(t, q, segSize)
			q.Prepare()
			waitIdle(q)
			if preallocated(q) != nil {
				t.Fatal("the allocator made a segment over an existing file")
			}
			if _, err := q.Roll(segSize); !errors.Is(err, ErrExists) {
				t.Fatalf("Roll onto an existing file: %v, want ErrExists", err)
			}
			if got := bases(q); !slices.Equal(got, []int64{0}) {
				t.Fatalf("bases %v", got)
			}
			must(t, q.Close())
			g, err := Open(fs, dir+"/"+FileName(segSize), segSize, segSize)
			must(t, err)
			if binary.BigEndian.Uint64(g.Data()) != 0xfeed {
				t.Fatal("existing file clobbered")
			}
			g.Close()
		})
	}
}

func TestQueueRollENOSPCLeavesQueueUnchanged(t *testing.T) {
	for _, pre := range []bool{false, true} {
		t.Run(fmt.Sprint("preallocate=", pre), func(t *testing.T) {
			fs := newMem(t)
			q := openQueue(t, fs, QueueOptions{Preallocate: pre})
			roll(t, q, segSize)
			waitIdle(q)
			if pre {
				// Drop the preallocated segment so Roll has to create one.
				q.nextMu.Lock()
				if q.next != nil {
					q.next.Remove()
					q.next = nil
				}
				q.nextMu.Unlock()
			}
			du, err := fs.DiskUsage(dir)
			must(t, err)
			fs.SetCapacity(du.Total - du.Free + segSize - 1)
			wo := q.WriteOffset()
			if _, err := q.Roll(segSize); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Roll on a full disk: %v, want ENOSPC", err)
			}
			if got := bases(q); !slices.Equal(got, []int64{0}) || q.WriteOffset() != wo {
				t.Fatalf("after failed roll: bases %v write offset %d", got, q.WriteOffset())
			}
			if got := fileBases(t, fs); !slices.Equal(got, []int64{0}) {
				t.Fatalf("files after failed roll %v", got)
			}
			fs.SetCapacity(vfs.DefaultMemCapacity)
			roll(t, q, 1)
			if got := bases(q); !slices.Equal(got, []int64{0, segSize}) {
				t.Fatalf("bases %v", got)
			}
		})
	}
	// SyncDir failing after the file was made: the file is removed again.
	efs := vfs.Inject(newMem(t), vfs.FailNth(vfs.OpSyncDir, 1, syscall.EIO))
	q := openQueue(t, efs, QueueOptions{})
	if _, err := q.Roll(0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Roll with failing SyncDir: %v", err)
	}
	if q.Last() != nil || len(fileBases(t, efs)) != 0 {
		t.Fatalf("failed roll left %v / %v", bases(q), fileBases(t, efs))
	}
}

// waitIdle waits until the allocator has handled every request.
func waitIdle(q *Queue) {
	if q.allocCh == nil {
		return
	}
	for range 1000 {
		q.nextMu.Lock()
		idle := len(q.allocCh) == 0
		q.nextMu.Unlock()
		if idle {
			// The request may be taken but not yet locked: one more round.
			time.Sleep(time.Millisecond)
			q.nextMu.Lock()
			idle = len(q.allocCh) == 0
			q.nextMu.Unlock()
			if idle {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// preallocated returns the segment the allocator holds ready, or nil.
func preallocated(q *Queue) *File {
	q.nextMu.Lock()
	defer q.nextMu.Unlock()
	return q.next
}

func TestQueuePreallocate(t *testing.T) {
	fs := newMem(t)
	q := openQueue(t, fs, QueueOptions{Preallocate: true, Warm: true})
	q.Prepare()
	waitFor(t, func() bool { return preallocated(q) != nil })
	next := preallocated(q)
	a := roll(t, q, segSize)
	if a != next || a.Base() != 0 {
		t.Fatalf("Roll did not use the preallocated segment (base %d)", a.Base())
	}
	// Roll asked for the next one.
	waitFor(t, func() bool { return preallocated(q) != nil })
	next = preallocated(q)
	if next.Base() != segSize {
		t.Fatalf("preallocated %d", next.Base())
	}
	if b := roll(t, q, 10); b != next {
		t.Fatal("second Roll did not use the preallocated segment")
	}
	waitFor(t, func() bool { return exists(fs, dir+"/"+FileName(2*segSize)) })
	// Close removes the unused preallocated segment.
	must(t, q.Close())
	if got := fileBases(t, fs); !slices.Equal(got, []int64{0, segSize}) {
		t.Fatalf("files after Close %v", got)
	}
	must(t, q.Close()) // twice is harmless
	if _, err := q.Roll(2 * segSize); err == nil {
		t.Fatal("Roll after Close: no error")
	}
	q.Prepare() // after Close: nothing, and no panic
}

// TestQueuePreallocatedSegmentOfAnotherBase: after a truncation the
// preallocated segment no longer follows the last one; Roll discards it.
func TestQueuePreallocatedSegmentOfAnotherBase(t *testing.T) {
	fs := newMem(t)
	q := openQueue(t, fs, QueueOptions{Preallocate: true})
	roll(t, q, segSize)
	roll(t, q, segSize)
	waitFor(t, func() bool { return exists(fs, dir+"/"+FileName(2*segSize)) })
	waitIdle(q)
	must(t, q.TruncateFrom(segSize+10))
	must(t, q.TruncateFrom(segSize)) // removes segment 1
	if got := bases(q); !slices.Equal(got, []int64{0}) {
		t.Fatalf("bases %v", got)
	}
	f := roll(t, q, 5)
	if f.Base() != segSize {
		t.Fatalf("rolled to %d", f.Base())
	}
	waitIdle(q)
	must(t, q.Close())
	if got := fileBases(t, fs); !slices.Equal(got, []int64{0, segSize}) {
		t.Fatalf("files %v", got)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestQueueRollConcurrentWithPrepare stresses the allocator: Prepare runs
// in a loop while the writer rolls and writes, under -race. No segment may
// be clobbered (recreated, so zeroed) and no stray file may remain.
func TestQueueRollConcurrentWithPrepare(t *testing.T) {
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprint("warm=", warm), func(t *testing.T) {
			fs := newMem(t)
			q := openQueue(t, fs, QueueOptions{Preallocate: true, Warm: warm})
			const n = 300
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
							q.Prepare()
						}
					}
				})
			}
			for i := range n {
				f := roll(t, q, segSize)
				for j := 8; j < segSize; j += 512 {
					f.Data()[j] = byte(i)
				}
				if i%50 == 49 {
					// Truncate back a whole segment now and then, so stale
					// requests reach the allocator.
					must(t, q.TruncateFrom(f.Base()))
				}
			}
			close(stop)
			wg.Wait()
			segs := q.Segments()
			for i, f := range segs {
				if got := binary.BigEndian.Uint64(f.Data()); got != uint64(f.Base())+1 {
					t.Fatalf("segment %d (#%d) clobbered: mark %d", f.Base(), i, got)
				}
			}
			want := bases(q)
			must(t, q.Close())
			if got := fileBases(t, fs); !slices.Equal(got, want) {
				t.Fatalf("files %v, want the segments %v", got, want)
			}
			r, err := OpenQueue(fs, dir, QueueOptions{SegmentSize: segSize})
			must(t, err)
			defer r.Close()
			for _, f := range r.Segments() {
				if got := binary.BigEndian.Uint64(f.Data()); got != uint64(f.Base())+1 {
					t.Fatalf("reopened segment %d: mark %d", f.Base(), got)
				}
			}
		})
	}
}

func TestQueueViewFind(t *testing.T) {
	q := openQueue(t, newMem(t), QueueOptions{})
	if q.Find(0) != nil || q.View(0, func(*File) { t.Fatal("called") }) {
		t.Fatal("empty queue found a segment")
	}
	for range 3 {
		roll(t, q, segSize)
	}
	must(t, q.RemoveFirst()) // segments 1, 2
	for _, tc := range []struct {
		off  int64
		base int64 // -1: none
	}{
		{-1, -1}, {0, -1}, {segSize - 1, -1},
		{segSize, segSize}, {2*segSize - 1, segSize},
		{2 * segSize, 2 * segSize}, {3*segSize - 1, 2 * segSize},
		{3 * segSize, -1}, {1 << 40, -1},
	} {
		f := q.Find(tc.off)
		var viewed *File
		ok := q.View(tc.off, func(f *File) { viewed = f })
		if tc.base < 0 {
			if f != nil || ok {
				t.Errorf("offset %d: found %d", tc.off, f.Base())
			}
			continue
		}
		if f == nil || f.Base() != tc.base || !ok || viewed != f {
			t.Errorf("offset %d: Find %v View %v, want base %d", tc.off, f, ok, tc.base)
		}
	}
}

func TestQueueTruncateFrom(t *testing.T) {
	for _, tc := range []struct {
		off          int64
		want         []int64
		wrote        int64 // WriteOffset after
		flushedAfter int
	}{
		{off: 3*segSize + 10, want: []int64{0, segSize, 2 * segSize, 3 * segSize}, wrote: 3*segSize + 10, flushedAfter: 10},
		{off: 3 * segSize, want: []int64{0, segSize, 2 * segSize}, wrote: 3 * segSize, flushedAfter: segSize},
		{off: 2*segSize + 100, want: []int64{0, segSize, 2 * segSize}, wrote: 2*segSize + 100, flushedAfter: 100},
		{off: segSize, want: []int64{0}, wrote: segSize, flushedAfter: segSize},
		{off: 1, want: []int64{0}, wrote: 1, flushedAfter: 1},
		{off: 0, want: []int64{0}, wrote: 0, flushedAfter: 0},
		{off: 4 * segSize, want: []int64{0, segSize, 2 * segSize, 3 * segSize}, wrote: 3*segSize + 20, flushedAfter: 20},
	} {
		t.Run(fmt.Sprint(tc.off), func(t *testing.T) {
			fs := newMem(t)
			q := openQueue(t, fs, QueueOptions{})
			for range 3 {
				roll(t, q, segSize)
			}
			roll(t, q, 20)
			_, err := q.Sync()
			must(t, err)
			must(t, q.TruncateFrom(tc.off))
			if got := bases(q); !slices.Equal(got, tc.want) {
				t.Fatalf("bases %v, want %v", got, tc.want)
			}
			if q.WriteOffset() != tc.wrote {
				t.Fatalf("write offset %d, want %d", q.WriteOffset(), tc.wrote)
			}
			if fl := q.Last().Flushed(); fl != tc.flushedAfter {
				t.Fatalf("flushed %d, want %d", fl, tc.flushedAfter)
			}
			if got := fileBases(t, fs.CrashClone()); !slices.Equal(got, tc.want) {
				t.Fatalf("files after crash %v, want %v", got, tc.want)
			}
		})
	}
	// With the first segment removed by retention, truncating to its start
	// keeps it.
	q := openQueue(t, newMem(t), QueueOptions{})
	roll(t, q, segSize)
	roll(t, q, 30)
	must(t, q.RemoveFirst())
	must(t, q.TruncateFrom(segSize))
	if got := bases(q); !slices.Equal(got, []int64{segSize}) || q.WriteOffset() != segSize {
		t.Fatalf("bases %v write offset %d", got, q.WriteOffset())
	}
}

func TestQueueRemoveFirstNeverTheLast(t *testing.T) {
	fs := newMem(t)
	q := openQueue(t, fs, QueueOptions{})
	must(t, q.RemoveFirst()) // empty: nothing
	roll(t, q, segSize)
	roll(t, q, segSize)
	roll(t, q, 1)
	for range 5 {
		must(t, q.RemoveFirst())
	}
	if got := bases(q); !slices.Equal(got, []int64{2 * segSize}) || q.MinOffset() != 2*segSize {
		t.Fatalf("bases %v min %d", got, q.MinOffset())
	}
	if got := fileBases(t, fs); !slices.Equal(got, []int64{2 * segSize}) {
		t.Fatalf("files %v", got)
	}
}

func TestQueueReset(t *testing.T) {
	fs := newMem(t)
	q := openQueue(t, fs, QueueOptions{})
	roll(t, q, segSize)
	roll(t, q, 1)
	must(t, q.Reset())
	if q.Last() != nil || len(fileBases(t, fs)) != 0 {
		t.Fatalf("after Reset: %v / %v", bases(q), fileBases(t, fs))
	}
	roll(t, q, 1)
}

func TestQueueSync(t *testing.T) {
	mem := newMem(t)
	log := &syncLog{FS: mem}
	q := openQueue(t, log, QueueOptions{})
	if d, err := q.Sync(); err != nil || d != 0 {
		t.Fatalf("Sync of an empty queue = %d, %v", d, err)
	}
	a := roll(t, q, 100)
	b := roll(t, q, 0)
	log.take()
	// Segment a was filled up after b was rolled: a sync covers both, in
	// order, and only their unflushed ranges.
	a.SetWrote(segSize)
	b.SetWrote(50)
	if d, err := q.Sync(); err != nil || d != segSize+50 {
		t.Fatalf("Sync = %d, %v", d, err)
	}
	b.SetWrote(60)
	if d, err := q.Sync(); err != nil || d != segSize+60 {
		t.Fatalf("Sync = %d, %v", d, err)
	}
	if d, err := q.Sync(); err != nil || d != segSize+60 {
		t.Fatalf("idle Sync = %d, %v", d, err)
	}
	want := []string{
		"00000000000000000000[0,+4096)",
		"00000000000000004096[0,+50)",
		"00000000000000004096[50,+10)",
	}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("syncs\n%v\nwant\n%v", got, want)
	}
}

// TestQueueSyncReportsDurablePrefix: the writer fills the older segment and
// appends to the newer one while a sync is under way. The sync must not
// report the newer segment's bytes durable while the older segment's tail is
// not: a crash would then lose bytes reported durable.
func TestQueueSyncReportsDurablePrefix(t *testing.T) {
	mem := newMem(t)
	var q *Queue
	var a, b *File
	var once sync.Once
	fs := vfs.Inject(mem, vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSync && a != nil && path == a.Path() {
			once.Do(func() {
				// The writer, between the flusher reading a's write
				// position and syncing it.
				copy(a.Data()[100:], "tail")
				a.SetWrote(segSize)
				copy(b.Data(), "next")
				b.SetWrote(4)
			})
		}
		return nil
	}))
	q = openQueue(t, fs, QueueOptions{})
	a = roll(t, q, 100)
	b = roll(t, q, 0)
	d, err := q.Sync()
	must(t, err)
	if d != 100 {
		t.Fatalf("Sync reported %d durable; only [0, 100) is", d)
	}
	if d, err = q.Sync(); err != nil || d != segSize+4 {
		t.Fatalf("second Sync = %d, %v", d, err)
	}
}

// TestQueueRemoveWaitsForSync: retention removing the oldest segment while
// the flusher syncs it waits for the sync, so a segment is never closed
// under its fdatasync; the removal happens right after.
func TestQueueRemoveWaitsForSync(t *testing.T) {
	mem := newMem(t)
	var a *File
	inSync, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fs := vfs.Inject(mem, vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSync && a != nil && path == a.Path() {
			once.Do(func() {
				close(inSync)
				<-release
			})
		}
		return nil
	}))
	q := openQueue(t, fs, QueueOptions{})
	a = roll(t, q, segSize)
	roll(t, q, 10)
	type result struct {
		d   int64
		err error
	}
	synced := make(chan result, 1)
	go func() {
		d, err := q.Sync()
		synced <- result{d, err}
	}()
	<-inSync
	removed := make(chan error, 1)
	go func() { removed <- q.RemoveFirst() }()
	select {
	case err := <-removed:
		t.Fatalf("segment removed (%v) while its sync was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-synced; r.err != nil || r.d != segSize+10 {
		t.Fatalf("Sync = %d, %v", r.d, r.err)
	}
	must(t, <-removed)
	if segs := q.Segments(); len(segs) != 1 || segs[0].Base() != segSize {
		t.Fatalf("after removal: %d segments", len(segs))
	}
}

func TestQueueSyncError(t *testing.T) {
	fs := vfs.Inject(newMem(t), vfs.FailNth(vfs.OpSync, 2, syscall.EIO)) // 1: Create
	q := openQueue(t, fs, QueueOptions{})
	roll(t, q, 20)
	if d, err := q.Sync(); !errors.Is(err, syscall.EIO) || d != 0 {
		t.Fatalf("failing Sync = %d, %v", d, err)
	}
	if d, err := q.Sync(); err != nil || d != 20 {
		t.Fatalf("retried Sync = %d, %v", d, err)
	}
}

// TestQueueTruncateDropsPreallocated: a segment made ahead of need that no
// longer follows the last one after a truncation is removed with the
// truncated ones; left on disk it would leave a gap and the queue would not
// load again.
func TestQueueTruncateDropsPreallocated(t *testing.T) {
	fs := newMem(t)
	q := openQueue(t, fs, QueueOptions{Preallocate: true})
	for range 3 {
		roll(t, q, segSize)
	}
	waitFor(t, func() bool { return preallocated(q) != nil })
	must(t, q.TruncateFrom(segSize+5))
	want := []int64{0, segSize}
	for name, img := range map[string]vfs.FS{"live": fs, "crash": fs.CrashClone()} {
		if got := fileBases(t, img); !slices.Equal(got, want) {
			t.Fatalf("%s: files %v, want %v", name, got, want)
		}
		r, err := OpenQueue(img, dir, QueueOptions{SegmentSize: segSize})
		must(t, err)
		r.Close()
	}
	// A preallocated segment that still follows is kept.
	roll(t, q, segSize)
	waitFor(t, func() bool { return preallocated(q) != nil })
	must(t, q.TruncateFrom(2*segSize+7))
	if preallocated(q) == nil {
		t.Fatal("a preallocated segment that still follows was dropped")
	}
	must(t, q.Reset())
	if preallocated(q) != nil || len(fileBases(t, fs)) != 0 {
		t.Fatalf("Reset left %v", fileBases(t, fs))
	}
}
