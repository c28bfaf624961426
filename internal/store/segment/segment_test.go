package segment

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

const dir = "/q"

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct {
		base int64
		want string
	}{
		{0, "00000000000000000000"},
		{1, "00000000000000000001"},
		{1 << 30, "00000000001073741824"},
		{6_000_000, "00000000000006000000"},
		{math.MaxInt64, "09223372036854775807"},
	} {
		if got := FileName(tc.base); got != tc.want {
			t.Errorf("FileName(%d) = %q, want %q", tc.base, got, tc.want)
		}
		if b, ok := ParseName(tc.want); !ok || b != tc.base {
			t.Errorf("ParseName(%q) = %d, %v, want %d", tc.want, b, ok, tc.base)
		}
	}
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		base int64
		ok   bool
	}{
		{"00000000000000000000", 0, true},
		{"00000000001073741824", 1 << 30, true},
		{"09223372036854775807", math.MaxInt64, true},
		{"", 0, false},
		{"0", 0, false},
		{"0000000000000000000", 0, false},   // 19 digits
		{"000000000000000000000", 0, false}, // 21 digits
		{"99999999999999999999", 0, false},  // overflows int64
		{"09223372036854775808", 0, false},  // MaxInt64 + 1
		{"-0000000000000000001", 0, false},
		{"+0000000000000000001", 0, false}, // ParseInt would take the sign
		{"0000000000000000000a", 0, false},
		{"0000000000000000001 ", 0, false},
		{" 0000000000000000001", 0, false},
		{"00000000000000000001.tmp", 0, false},
		{"0x000000000000000001", 0, false},
		{"0000000000_000000001", 0, false},
	} {
		b, ok := ParseName(tc.name)
		if ok != tc.ok || b != tc.base {
			t.Errorf("ParseName(%q) = %d, %v, want %d, %v", tc.name, b, ok, tc.base, tc.ok)
		}
		if ok && FileName(b) != tc.name {
			t.Errorf("ParseName(%q) = %d, which is named %q", tc.name, b, FileName(b))
		}
	}
}

func newMem(t testing.TB) *vfs.MemFS {
	t.Helper()
	fs := vfs.NewMem()
	must(t, fs.MkdirAll(dir, 0o755))
	must(t, fs.SyncDir("/"))
	return fs
}

func fileSize(t testing.TB, fs vfs.FS, path string) int64 {
	t.Helper()
	st, err := fs.Stat(path)
	must(t, err)
	return st.Size()
}

func exists(fs vfs.FS, path string) bool {
	_, err := fs.Stat(path)
	return err == nil
}

func TestCreateOpen(t *testing.T) {
	fs := newMem(t)
	f, err := Create(fs, dir, 4096, 4096)
	must(t, err)
	if f.Base() != 4096 || f.End() != 8192 || f.Size() != 4096 || f.Path() != dir+"/00000000000000004096" {
		t.Fatalf("base %d end %d size %d path %s", f.Base(), f.End(), f.Size(), f.Path())
	}
	if f.Wrote() != 0 || f.Flushed() != 0 || f.Full() {
		t.Fatalf("fresh segment: wrote %d flushed %d full %v", f.Wrote(), f.Flushed(), f.Full())
	}
	if got := fileSize(t, fs, f.Path()); got != 4096 {
		t.Fatalf("file is %d bytes, want 4096", got)
	}
	copy(f.Data(), "hello")
	f.SetWrote(5)
	if _, err := Create(fs, dir, 4096, 4096); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over an existing segment: %v, want ErrExists", err)
	}
	if string(f.Data()[:5]) != "hello" {
		t.Fatal("Create of an existing name clobbered it")
	}
	must(t, f.Close())

	g, err := Open(fs, dir+"/00000000000000004096", 4096, 4096)
	must(t, err)
	if string(g.Data()[:5]) != "hello" || g.Wrote() != 0 || g.Flushed() != 0 {
		t.Fatalf("reopened: %q wrote %d flushed %d", g.Data()[:5], g.Wrote(), g.Flushed())
	}
	must(t, g.Remove())
	if exists(fs, dir+"/00000000000000004096") {
		t.Fatal("Remove left the file")
	}

	if _, err := Open(fs, dir+"/00000000000000000000", 0, 4096); !vfs.IsNotExist(err) {
		t.Fatalf("Open of a missing file: %v", err)
	}
	for _, size := range []int{0, 100, 4095, 4097, 8192} {
		path := fmt.Sprintf("%s/%020d", dir, size)
		h, err := fs.Create(path)
		must(t, err)
		must(t, h.Truncate(int64(size)))
		must(t, h.Close())
		if _, err := Open(fs, path, int64(size), 4096); !errors.Is(err, ErrBadSize) {
			t.Errorf("Open of a %d-byte file as a 4096-byte segment: %v, want ErrBadSize", size, err)
		}
	}
}

func TestCreateFailureLeavesNoFile(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpAllocate, vfs.OpMap, vfs.OpSync} {
		t.Run(op.String(), func(t *testing.T) {
			fs := vfs.Inject(newMem(t), vfs.FailNth(op, 1, syscall.EIO))
			if _, err := Create(fs, dir, 0, 4096); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Create: %v, want EIO", err)
			}
			if names, _ := fs.ReadDir(dir); len(names) != 0 {
				t.Fatalf("failed Create left %v", names)
			}
		})
	}
	fs := newMem(t)
	fs.SetCapacity(10000)
	if _, err := Create(fs, dir, 0, 16384); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create on a full disk: %v, want ENOSPC", err)
	}
	if names, _ := fs.ReadDir(dir); len(names) != 0 {
		t.Fatalf("failed Create left %v", names)
	}
}

// TestCreatedSegmentSurvivesCrashAtFullSize: once a segment's name is durable
// its size is too, so a crash cannot leave a zero-length segment in the
// middle of a queue (which OpenQueue must refuse).
func TestCreatedSegmentSurvivesCrashAtFullSize(t *testing.T) {
	fs := newMem(t)
	f, err := Create(fs, dir, 0, 4096)
	must(t, err)
	must(t, fs.SyncDir(dir))
	crashed := fs.CrashClone()
	if got := fileSize(t, crashed, f.Path()); got != 4096 {
		t.Fatalf("after a crash the created segment is %d bytes, want 4096", got)
	}
}

func TestWarm(t *testing.T) {
	fs := newMem(t)
	f, err := Create(fs, dir, 0, 3*pageSize+100)
	must(t, err)
	must(t, f.Warm())
	if slices.ContainsFunc(f.Data(), func(b byte) bool { return b != 0 }) {
		t.Fatal("Warm changed content")
	}
	must(t, f.Close())
	fs2 := vfs.Inject(newMem(t), vfs.FailNth(vfs.OpSync, 2, syscall.EIO))
	g, err := Create(fs2, dir, 0, 4096)
	must(t, err)
	if err := g.Warm(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Warm with a failing sync: %v", err)
	}
	must(t, g.Close())
}

// syncLog records the SyncRange calls made on files.
type syncLog struct {
	vfs.FS
	mu    sync.Mutex
	calls []string
}

type syncLogFile struct {
	vfs.File
	l *syncLog
}

func (l *syncLog) Create(name string) (vfs.File, error) {
	f, err := l.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &syncLogFile{f, l}, nil
}

func (l *syncLog) OpenReadWrite(name string) (vfs.File, error) {
	f, err := l.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return &syncLogFile{f, l}, nil
}

func (f *syncLogFile) SyncRange(off, n int64) error {
	f.l.mu.Lock()
	f.l.calls = append(f.l.calls, fmt.Sprintf("%s[%d,+%d)", f.Name()[len(dir)+1:], off, n))
	f.l.mu.Unlock()
	return f.File.SyncRange(off, n)
}

func (f *syncLogFile) Sync() error {
	f.l.mu.Lock()
	f.l.calls = append(f.l.calls, f.Name()[len(dir)+1:]+"[all]")
	f.l.mu.Unlock()
	return f.File.Sync()
}

func (l *syncLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

func TestFileSyncRangeOfUnflushed(t *testing.T) {
	mem := newMem(t)
	log := &syncLog{FS: mem}
	f, err := Create(log, dir, 0, 4096)
	must(t, err)
	must(t, mem.SyncDir(dir))
	log.take()
	copy(f.Data(), "abcdefgh")
	f.SetWrote(5)
	if n, err := f.Sync(); err != nil || n != 5 {
		t.Fatalf("Sync = %d, %v", n, err)
	}
	if n, err := f.Sync(); err != nil || n != 5 { // nothing new: no sync
		t.Fatalf("Sync = %d, %v", n, err)
	}
	f.SetWrote(8)
	if n, err := f.Sync(); err != nil || n != 8 {
		t.Fatalf("Sync = %d, %v", n, err)
	}
	want := []string{"00000000000000000000[0,+5)", "00000000000000000000[5,+3)"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("syncs %v, want %v", got, want)
	}
	// Bytes past the write position are not made durable by Sync.
	copy(f.Data()[8:], "XYZ")
	crashed := mem.CrashClone()
	g, err := Open(crashed, f.Path(), 0, 4096)
	must(t, err)
	if got := string(g.Data()[:11]); got != "abcdefgh\x00\x00\x00" {
		t.Fatalf("after crash %q", got)
	}
	// SyncRange makes bytes past the write position durable on request.
	must(t, f.SyncRange(8, 3))
	if n := f.Flushed(); n != 8 {
		t.Fatalf("SyncRange moved the flushed position to %d", n)
	}
	g2, err := Open(mem.CrashClone(), f.Path(), 0, 4096)
	must(t, err)
	if got := string(g2.Data()[:11]); got != "abcdefghXYZ" {
		t.Fatalf("after SyncRange and crash %q", got)
	}
	for _, r := range [][2]int{{-1, 1}, {0, -1}, {4000, 100}} {
		if err := f.SyncRange(r[0], r[1]); err == nil {
			t.Errorf("SyncRange(%d, %d) out of bounds: no error", r[0], r[1])
		}
	}
	must(t, f.SyncRange(10, 0))

	// A failed sync keeps the flushed position.
	efs := vfs.Inject(newMem(t), vfs.FailNth(vfs.OpSync, 2, syscall.EIO))
	h, err := Create(efs, dir, 0, 4096) // sync 1: Create
	must(t, err)
	h.SetWrote(10)
	if n, err := h.Sync(); !errors.Is(err, syscall.EIO) || n != 0 || h.Flushed() != 0 {
		t.Fatalf("failed Sync = %d, %v, flushed %d", n, err, h.Flushed())
	}
	if n, err := h.Sync(); err != nil || n != 10 {
		t.Fatalf("retried Sync = %d, %v", n, err)
	}
}

func TestCloseAndRemoveErrors(t *testing.T) {
	efs := vfs.Inject(newMem(t), vfs.FailPath(func(string) bool { return true }, syscall.EIO, vfs.OpClose))
	f, err := Create(efs, dir, 0, 4096)
	must(t, err)
	if err := f.Remove(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Remove with a failing close: %v", err)
	}
	if _, err := efs.Stat(f.Path()); err != nil {
		t.Fatalf("Remove deleted the file although close failed: %v", err)
	}

	fs := newMem(t)
	g, err := Create(fs, dir, 0, 4096)
	must(t, err)
	must(t, fs.Remove(g.Path()))
	if err := g.Remove(); err != nil {
		t.Fatalf("Remove of an already deleted file: %v", err)
	}
}

func TestClearTail(t *testing.T) {
	const size = 8 * pageSize
	for _, tc := range []struct {
		name    string
		rel     int
		quiet   int
		dirty   []int // offsets of non-zero bytes
		cleared []int // of those, the ones ClearTail must zero
		synced  bool
	}{
		{name: "clean", rel: 100, quiet: pageSize},
		{name: "clean to the end", rel: 100, quiet: 1 << 30},
		{name: "stale at rel", rel: 100, quiet: pageSize, dirty: []int{100, 5000}, cleared: []int{100, 5000}, synced: true},
		{name: "stale in the quiet window", rel: 100, quiet: 2 * pageSize, dirty: []int{8000}, cleared: []int{8000}, synced: true},
		// Once something stale turns up, holes do not stop the clearing.
		{name: "stale after holes", rel: 10, quiet: pageSize, dirty: []int{20, 6 * pageSize}, cleared: []int{20, 6 * pageSize}, synced: true},
		{name: "last byte", rel: 10, quiet: size, dirty: []int{size - 1}, cleared: []int{size - 1}, synced: true},
		// Past a quiet run of zeros the segment is taken to be clean.
		{name: "past the quiet run", rel: 100, quiet: pageSize, dirty: []int{3 * pageSize}, synced: false},
		{name: "before rel is kept", rel: 100, quiet: pageSize, dirty: []int{99}, synced: false},
		{name: "at the end", rel: size, quiet: pageSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			log := &syncLog{FS: mem}
			f, err := Create(log, dir, 0, size)
			must(t, err)
			must(t, mem.SyncDir(dir))
			for _, p := range tc.dirty {
				f.Data()[p] = 0xAB
			}
			_, err = f.Sync() // nothing written: no-op
			must(t, err)
			must(t, f.f.Sync()) // the stale bytes are on disk
			log.take()
			must(t, f.ClearTail(tc.rel, tc.quiet))
			if got := len(log.take()) > 0; got != tc.synced {
				t.Fatalf("synced %v, want %v", got, tc.synced)
			}
			for _, img := range []vfs.FS{mem, mem.CrashClone()} {
				g, err := Open(img, f.Path(), 0, size)
				must(t, err)
				for _, p := range tc.dirty {
					want := byte(0xAB)
					if slices.Contains(tc.cleared, p) {
						want = 0
					}
					if g.Data()[p] != want {
						t.Fatalf("byte %d = %#x, want %#x", p, g.Data()[p], want)
					}
				}
				must(t, g.Close())
			}
		})
	}
	fs := newMem(t)
	f, err := Create(fs, dir, 0, pageSize)
	must(t, err)
	for _, rel := range []int{-1, pageSize + 1} {
		if err := f.ClearTail(rel, 1); err == nil {
			t.Fatalf("ClearTail(%d): no error", rel)
		}
	}
}
