package vfs

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestErrorFSShortWrite(t *testing.T) {
	for _, tt := range []struct {
		name    string
		inj     error
		wantN   int
		wantErr error
	}{
		{"default io.ErrShortWrite", &ShortWriteError{N: 4}, 4, io.ErrShortWrite},
		{"EIO after 2 bytes", &ShortWriteError{N: 2, Err: syscall.EIO}, 2, syscall.EIO},
		{"nothing written", &ShortWriteError{N: 0, Err: syscall.ENOSPC}, 0, syscall.ENOSPC},
		{"N past len writes all", &ShortWriteError{N: 99}, 10, io.ErrShortWrite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := NewMem()
			fs := Inject(mem, FailNth(OpWriteAt, 2, tt.inj))
			f := create(t, fs, "/a", []byte("0123456789"))
			n, err := f.WriteAt([]byte("abcdefghij"), 0)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Fatalf("WriteAt = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			var pe *os.PathError
			if !errors.As(err, &pe) || pe.Path != "/a" || pe.Op != "WriteAt" || !strings.Contains(err.Error(), "short write") {
				t.Errorf("err = %#v, want *os.PathError for WriteAt /a", err)
			}
			want := "abcdefghij"[:tt.wantN] + "0123456789"[tt.wantN:]
			if got := contents(t, mem, "/a"); string(got) != want {
				t.Errorf("contents = %q, want %q", got, want)
			}
		})
	}
}

func TestErrorFSFailNth(t *testing.T) {
	inj := FailNth(OpSync, 2, syscall.EIO)
	fs := Inject(NewMem(), inj)
	f := create(t, fs, "/a", []byte("x"))
	var errs []error
	for range 3 {
		errs = append(errs, f.Sync())
	}
	if errs[0] != nil || !errors.Is(errs[1], syscall.EIO) || errs[2] != nil {
		t.Errorf("Sync results = %v, want nil, EIO, nil", errs)
	}
	if inj.Seen() != 3 || fs.Count(OpSync) != 3 || fs.Count(OpCreate) != 1 || fs.Count(OpWriteAt) != 1 {
		t.Errorf("seen %d, counts sync=%d create=%d write=%d", inj.Seen(), fs.Count(OpSync), fs.Count(OpCreate), fs.Count(OpWriteAt))
	}
}

func TestErrorFSFailFromNthIsSticky(t *testing.T) {
	fs := Inject(NewMem(), FailFromNth(OpAllocate, 2, syscall.ENOSPC))
	f := create(t, fs, "/a", nil)
	must(t, f.Allocate(10))
	for i := range 3 {
		if err := f.Allocate(int64(20 + i)); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Allocate %d: %v, want ENOSPC", i+2, err)
		}
	}
	if got := size(t, f); got != 10 {
		t.Errorf("size = %d; failed Allocate must not reach the file", got)
	}
}

func TestErrorFSFailPath(t *testing.T) {
	isIndex := func(p string) bool { return strings.HasSuffix(p, ".idx") }
	fs := Inject(NewMem(), FailPath(isIndex, syscall.EIO, OpCreate, OpRename))
	if _, err := fs.Create("/q.idx"); !errors.Is(err, syscall.EIO) {
		t.Errorf("Create .idx: %v", err)
	}
	if _, err := fs.Stat("/q.idx"); !IsNotExist(err) {
		t.Errorf("failed Create reached the FS: %v", err)
	}
	f := create(t, fs, "/q.log", []byte("x"))
	must(t, f.Sync())
	must(t, fs.Rename("/q.log", "/r.idx")) // the injector sees the old name
	err := fs.Rename("/r.idx", "/q.log")
	var le *os.LinkError
	if !errors.Is(err, syscall.EIO) || !errors.As(err, &le) {
		t.Errorf("Rename .idx: %v", err)
	}

	all := Inject(NewMem(), FailPath(isIndex, syscall.ENOSPC))
	if err := all.MkdirAll("/d.idx", 0o755); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("MkdirAll with no op filter: %v", err)
	}
}

func TestErrorFSToggle(t *testing.T) {
	inj := FailPath(func(string) bool { return true }, syscall.EIO, OpSync)
	fs := Inject(NewMem(), inj)
	f := create(t, fs, "/a", nil)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("enabled Sync: %v", err)
	}
	fs.Disable()
	if fs.Enabled() {
		t.Error("Enabled after Disable")
	}
	must(t, f.Sync())
	fs.Enable()
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("re-enabled Sync: %v", err)
	}
	if fs.Count(OpSync) != 3 {
		t.Errorf("Count(OpSync) = %d, want 3 (disabled ops count too)", fs.Count(OpSync))
	}
}

// TestErrorFSToggleConcurrent flips the switch while other goroutines work,
// for the race detector.
func TestErrorFSToggleConcurrent(t *testing.T) {
	fs := Inject(NewMem(), FailFromNth(OpWriteAt, 50, syscall.EIO))
	f := create(t, fs, "/a", nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				_, _ = f.WriteAt([]byte{1}, int64(i*100+j))
				if j%7 == 0 {
					fs.Disable()
				} else {
					fs.Enable()
				}
			}
		})
	}
	wg.Wait()
	if got := fs.Count(OpWriteAt); got != 400 {
		t.Errorf("Count(OpWriteAt) = %d, want 400", got)
	}
}

func TestErrorFSCloseAndUnmapStillRun(t *testing.T) {
	mem := NewMem()
	fs := Inject(mem, Chain(
		FailNth(OpUnmap, 1, syscall.EIO),
		FailNth(OpClose, 1, syscall.EIO),
	))
	f, err := fs.Create("/a")
	must(t, err)
	must(t, f.Allocate(4096))
	m, err := f.Map(4096)
	must(t, err)
	if err := f.Unmap(m); !errors.Is(err, syscall.EIO) {
		t.Errorf("Unmap: %v", err)
	}
	must(t, f.Truncate(1<<20)) // would fail if the mapping were still live
	if err := f.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Close: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("file still open after failed Close: %v", err)
	}
}

func TestErrorFSInjectsEveryOp(t *testing.T) {
	mem := NewMem()
	must(t, mem.MkdirAll("/d", 0o755))
	seed, err := mem.Create("/d/a")
	must(t, err)
	must(t, seed.Close())
	var failing Op
	fs := Inject(mem, InjectorFunc(func(op Op, _ string) error {
		if op == failing {
			return syscall.EIO
		}
		return nil
	}))
	f, err := fs.OpenReadWrite("/d/a")
	must(t, err)
	defer f.Close()
	for op, call := range map[Op]func() error{
		OpCreate:        func() error { _, err := fs.Create("/d/b"); return err },
		OpOpen:          func() error { _, err := fs.Open("/d/a"); return err },
		OpOpenReadWrite: func() error { _, err := fs.OpenReadWrite("/d/a"); return err },
		OpRemove:        func() error { return fs.Remove("/d/a") },
		OpRemoveAll:     func() error { return fs.RemoveAll("/d") },
		OpRename:        func() error { return fs.Rename("/d/a", "/d/c") },
		OpMkdirAll:      func() error { return fs.MkdirAll("/e", 0o755) },
		OpReadDir:       func() error { _, err := fs.ReadDir("/d"); return err },
		OpStat:          func() error { _, err := fs.Stat("/d/a"); return err },
		OpSyncDir:       func() error { return fs.SyncDir("/d") },
		OpDiskUsage:     func() error { _, err := fs.DiskUsage("/d"); return err },
		OpLock:          func() error { _, err := fs.Lock("/d/LOCK"); return err },
		OpReadAt:        func() error { _, err := f.ReadAt(nil, 0); return err },
		OpWriteAt:       func() error { _, err := f.WriteAt([]byte("x"), 0); return err },
		OpSync:          func() error { return f.Sync() },
		OpTruncate:      func() error { return f.Truncate(1) },
		OpAllocate:      func() error { return f.Allocate(1) },
		OpMap:           func() error { _, err := f.Map(0); return err },
	} {
		failing = op
		if err := call(); !errors.Is(err, syscall.EIO) {
			t.Errorf("%v: err = %v, want EIO", op, err)
		}
		if fs.Count(op) == 0 {
			t.Errorf("%v not counted", op)
		}
	}
	failing = 0
	if names, err := fs.ReadDir("/d"); err != nil || len(names) != 1 {
		t.Errorf("injected failures changed the FS: %v, %v", names, err)
	}
}
