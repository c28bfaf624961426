package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// durableDir makes /d exist durably in a fresh MemFS.
func durableDir(t *testing.T) *MemFS {
	t.Helper()
	fs := NewMem()
	must(t, fs.MkdirAll("/d", 0o755))
	must(t, fs.SyncDir("/"))
	return fs
}

// state describes a MemFS as "name=contents" lines for the files under /d.
func state(t *testing.T, fs *MemFS) string {
	t.Helper()
	names, err := fs.ReadDir("/d")
	if IsNotExist(err) {
		return "no /d"
	}
	must(t, err)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%q ", n, contents(t, fs, "/d/"+n))
	}
	return b.String()
}

// TestCrashCloneKeepsOnlySyncedState maps the durability rules a store
// relies on to what survives a power loss.
func TestCrashCloneKeepsOnlySyncedState(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, fs *MemFS)
		want string
	}{
		{
			name: "synced file in synced dir survives",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
			},
			want: `a="data" `,
		},
		{
			name: "unsynced create is lost even if data synced",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
			},
			want: ``,
		},
		{
			name: "synced create without data sync leaves empty file",
			run: func(t *testing.T, fs *MemFS) {
				create(t, fs, "/d/a", []byte("data"))
				must(t, fs.SyncDir("/d"))
			},
			want: `a="" `,
		},
		{
			name: "writes after sync are lost",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				_, err := f.WriteAt([]byte("DA"), 0)
				must(t, err)
				_, err = f.WriteAt([]byte("more"), 4)
				must(t, err)
			},
			want: `a="data" `,
		},
		{
			name: "writes through a mapping are lost without sync",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", nil)
				must(t, f.Allocate(8))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				m, err := f.Map(8)
				must(t, err)
				copy(m, "mapped")
			},
			want: `a="\x00\x00\x00\x00\x00\x00\x00\x00" `,
		},
		{
			name: "writes through a mapping survive sync",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", nil)
				must(t, f.Allocate(8))
				must(t, fs.SyncDir("/d"))
				m, err := f.Map(8)
				must(t, err)
				copy(m, "mapped")
				must(t, f.Sync())
				copy(m, "MAP")
			},
			want: `a="mapped\x00\x00" `,
		},
		{
			name: "unsynced rename keeps old name",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				must(t, fs.Rename("/d/a", "/d/b"))
			},
			want: `a="data" `,
		},
		{
			name: "synced rename over a file replaces it",
			run: func(t *testing.T, fs *MemFS) {
				old := create(t, fs, "/d/cur", []byte("v1"))
				must(t, old.Sync())
				tmp := create(t, fs, "/d/tmp", []byte("v2"))
				must(t, tmp.Sync())
				must(t, fs.SyncDir("/d"))
				must(t, fs.Rename("/d/tmp", "/d/cur"))
				must(t, fs.SyncDir("/d"))
			},
			want: `cur="v2" `,
		},
		{
			name: "unsynced remove brings the file back",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				must(t, fs.Remove("/d/a"))
				create(t, fs, "/d/b", nil)
			},
			want: `a="data" `,
		},
		{
			name: "synced remove is final",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				must(t, fs.Remove("/d/a"))
				must(t, fs.SyncDir("/d"))
			},
			want: ``,
		},
		{
			name: "re-create truncates only after sync",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
				create(t, fs, "/d/a", []byte("x"))
			},
			want: `a="data" `,
		},
		{
			name: "unsynced mkdir is lost with its files",
			run: func(t *testing.T, fs *MemFS) {
				must(t, fs.RemoveAll("/d"))
				must(t, fs.SyncDir("/"))
				must(t, fs.MkdirAll("/d", 0o755))
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				must(t, fs.SyncDir("/d"))
			},
			want: `no /d`,
		},
		{
			name: "sync through a directory handle",
			run: func(t *testing.T, fs *MemFS) {
				f := create(t, fs, "/d/a", []byte("data"))
				must(t, f.Sync())
				d, err := fs.Open("/d")
				must(t, err)
				must(t, d.Sync())
				must(t, d.Close())
			},
			want: `a="data" `,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := durableDir(t)
			tt.run(t, fs)
			if got := state(t, fs.CrashClone()); got != tt.want {
				t.Errorf("after crash:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCrashCloneIsIndependent(t *testing.T) {
	fs := durableDir(t)
	f := create(t, fs, "/d/a", []byte("data"))
	must(t, f.Sync())
	must(t, fs.SyncDir("/d"))
	l, err := fs.Lock("/d/LOCK")
	must(t, err)
	defer l.Close()

	c := fs.CrashClone()
	cf, err := c.OpenReadWrite("/d/a")
	must(t, err)
	_, err = cf.WriteAt([]byte("XXXX"), 0)
	must(t, err)
	must(t, cf.Close())
	must(t, c.Remove("/d/a"))
	if got := contents(t, fs, "/d/a"); string(got) != "data" {
		t.Errorf("original changed to %q", got)
	}
	// The clone is a fresh "process": its locks are free.
	cl, err := c.Lock("/d/LOCK")
	must(t, err)
	must(t, cl.Close())
	// The clone follows the same rules: its unsynced remove and create are
	// undone by another crash.
	create(t, c, "/d/b", []byte("b"))
	if got := state(t, c.CrashClone()); got != `a="data" ` {
		t.Errorf("clone of clone: %s", got)
	}
}

func TestCrashCloneKeepTearsPages(t *testing.T) {
	const pages = 8
	fs := durableDir(t)
	f := create(t, fs, "/d/a", bytes.Repeat([]byte{'o'}, pages*CrashPageSize))
	must(t, f.Sync())
	must(t, fs.SyncDir("/d"))
	_, err := f.WriteAt(bytes.Repeat([]byte{'n'}, pages*CrashPageSize), 0)
	must(t, err)
	_, err = f.WriteAt([]byte("tail"), pages*CrashPageSize)
	must(t, err)

	var sawOld, sawNew, sawLong, sawShort bool
	for seed := range uint64(20) {
		c := fs.CrashCloneKeep(rand.New(rand.NewPCG(seed, 0)))
		got := contents(t, c, "/d/a")
		switch len(got) {
		case pages * CrashPageSize:
			sawShort = true
		case pages*CrashPageSize + 4:
			sawLong = true
		default:
			t.Fatalf("seed %d: size %d", seed, len(got))
		}
		for p := range pages {
			page := got[p*CrashPageSize : (p+1)*CrashPageSize]
			switch {
			case bytes.Equal(page, bytes.Repeat([]byte{'o'}, CrashPageSize)):
				sawOld = true
			case bytes.Equal(page, bytes.Repeat([]byte{'n'}, CrashPageSize)):
				sawNew = true
			default:
				t.Fatalf("seed %d: page %d is torn within the page", seed, p)
			}
		}
		if tail := got[pages*CrashPageSize:]; len(tail) > 0 && string(tail) != "tail" && string(tail) != "\x00\x00\x00\x00" {
			t.Fatalf("seed %d: tail %q", seed, tail)
		}
		again := contents(t, fs.CrashCloneKeep(rand.New(rand.NewPCG(seed, 0))), "/d/a")
		if !bytes.Equal(got, again) {
			t.Fatalf("seed %d: not deterministic", seed)
		}
	}
	if !sawOld || !sawNew || !sawLong || !sawShort {
		t.Errorf("outcomes old=%v new=%v long=%v short=%v, want all", sawOld, sawNew, sawLong, sawShort)
	}
	// Synced files are never torn.
	must(t, f.Sync())
	want := contents(t, fs, "/d/a")
	if got := contents(t, fs.CrashCloneKeep(rand.New(rand.NewPCG(1, 2))), "/d/a"); !bytes.Equal(got, want) {
		t.Error("synced file changed by CrashCloneKeep")
	}
}

func TestCapacityENOSPC(t *testing.T) {
	fs := NewMem()
	fs.SetCapacity(10_000)
	f := create(t, fs, "/a", nil)
	must(t, f.Allocate(6_000))
	du, err := fs.DiskUsage("/")
	must(t, err)
	if du != (DiskUsage{Total: 10_000, Free: 4_000}) {
		t.Errorf("DiskUsage = %+v", du)
	}

	g := create(t, fs, "/b", []byte("abc"))
	full := []struct {
		name string
		op   func() error
	}{
		{"Allocate", func() error { return g.Allocate(5_000) }},
		{"Truncate", func() error { return g.Truncate(5_000) }},
		{"WriteAt", func() error { _, err := g.WriteAt([]byte("x"), 4_999); return err }},
	}
	for _, tt := range full {
		if err := tt.op(); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s past capacity: err = %v, want ENOSPC", tt.name, err)
		}
		if got := contents(t, fs, "/b"); string(got) != "abc" {
			t.Errorf("%s past capacity changed the file to %d bytes", tt.name, len(got))
		}
	}
	must(t, g.Allocate(4_000)) // exactly full
	if du, _ := fs.DiskUsage("/"); du.Free != 0 {
		t.Errorf("Free = %d, want 0", du.Free)
	}

	// A removed file's space comes back when its last handle closes.
	must(t, fs.Remove("/a"))
	if du, _ := fs.DiskUsage("/"); du.Free != 0 {
		t.Errorf("Free with removed file open = %d, want 0", du.Free)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); err != nil {
		t.Errorf("removed open file unreadable: %v", err)
	}
	must(t, f.Close())
	if du, _ := fs.DiskUsage("/"); du.Free != 6_000 {
		t.Errorf("Free after close = %d, want 6000", du.Free)
	}
	must(t, fs.RemoveAll("/"))
	if du, _ := fs.DiskUsage("/"); du.Free != 6_000 {
		t.Errorf("Free with /b removed but open = %d, want 6000", du.Free)
	}
	must(t, g.Close())
	if du, _ := fs.DiskUsage("/"); du.Free != 10_000 {
		t.Errorf("Free when empty = %d, want 10000", du.Free)
	}
	// Rename over a file frees the replaced file.
	must(t, create(t, fs, "/x", make([]byte, 100)).Close())
	y := create(t, fs, "/y", make([]byte, 200))
	must(t, fs.Rename("/x", "/y"))
	if du, _ := fs.DiskUsage("/"); du.Free != 10_000-300 {
		t.Errorf("Free with replaced file open = %d, want 9700", du.Free)
	}
	must(t, y.Close())
	if du, _ := fs.DiskUsage("/"); du.Free != 10_000-100 {
		t.Errorf("Free after rename-replace = %d, want 9900", du.Free)
	}
}

func TestMemMapLimits(t *testing.T) {
	fs := NewMem()
	f := create(t, fs, "/a", nil)
	must(t, f.Allocate(100))
	if _, err := f.Map(101); err == nil {
		t.Error("Map past the end succeeded")
	}
	m, err := f.Map(100)
	must(t, err)
	if err := f.Truncate(1 << 20); err == nil {
		t.Error("growing a mapped file succeeded")
	}
	if _, err := f.WriteAt([]byte("x"), 1<<20); err == nil {
		t.Error("writing past the end of a mapped file succeeded")
	}
	must(t, f.Unmap(m))
	if err := f.Unmap(m); err == nil {
		t.Error("second Unmap succeeded")
	}
	must(t, f.Truncate(1<<20))
	if _, err := f.Map(1 << 20); err != nil {
		t.Error(err)
	}
	must(t, f.Close()) // releases the mapping
	g, err := fs.OpenReadWrite("/a")
	must(t, err)
	must(t, g.Truncate(2<<20))
	must(t, g.Close())
}

func TestMemClockAndPaths(t *testing.T) {
	fs := NewMem()
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	fs.SetClock(func() time.Time { return at })
	must(t, fs.MkdirAll("a/b", 0o755))
	create(t, fs, "/a/b/../b/f", []byte("x"))
	st, err := fs.Stat("a/b/f")
	must(t, err)
	if !st.ModTime().Equal(at) || st.Name() != "f" {
		t.Errorf("Stat = %s %v", st.Name(), st.ModTime())
	}
	if _, err := fs.Create("/a/b/f/g"); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("Create under a file: %v", err)
	}
	if err := fs.Rename("/a", "/a/b/c"); err == nil {
		t.Error("renaming a directory into itself succeeded")
	}
	names, err := fs.ReadDir("/")
	must(t, err)
	if !slices.Equal(names, []string{"a"}) {
		t.Errorf("ReadDir(/) = %v", names)
	}
}

func TestMemConcurrentUse(t *testing.T) {
	fs := NewMem()
	must(t, fs.MkdirAll("/d", 0o755))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("/d/f%d", i)
			f, err := fs.Create(name)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for j := range 100 {
				if _, err := f.WriteAt([]byte{byte(j)}, int64(j)); err != nil {
					t.Error(err)
					return
				}
				if j%10 == 0 {
					_ = f.Sync()
					_ = fs.SyncDir("/d")
					_, _ = fs.ReadDir("/d")
					_, _ = fs.DiskUsage("/")
					_ = fs.CrashClone()
				}
			}
		})
	}
	wg.Wait()
	names, err := fs.ReadDir("/d")
	must(t, err)
	if len(names) != 8 {
		t.Errorf("ReadDir = %v", names)
	}
}

func TestCrashCloneKeepUnsyncedTruncate(t *testing.T) {
	fs := durableDir(t)
	old := bytes.Repeat([]byte{'o'}, 2*CrashPageSize)
	f := create(t, fs, "/d/a", old)
	must(t, f.Sync())
	must(t, fs.SyncDir("/d"))
	must(t, f.Truncate(CrashPageSize+10))

	shrunk := old[:CrashPageSize+10]
	zeroed := slices.Concat(old[:CrashPageSize+10], make([]byte, CrashPageSize-10))
	seen := map[string]bool{}
	for seed := range uint64(20) {
		got := contents(t, fs.CrashCloneKeep(rand.New(rand.NewPCG(seed, 7))), "/d/a")
		switch {
		case bytes.Equal(got, old):
			seen["old"] = true
		case bytes.Equal(got, shrunk):
			seen["shrunk"] = true
		case bytes.Equal(got, zeroed):
			seen["old size, new page"] = true
		default:
			t.Fatalf("seed %d: unexpected %d bytes", seed, len(got))
		}
	}
	if len(seen) != 3 {
		t.Errorf("outcomes %v, want all three", seen)
	}
}
