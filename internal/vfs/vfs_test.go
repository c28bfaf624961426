package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fsCase is one implementation under the conformance suite: a fresh FS and
// an existing, empty directory in it.
type fsCase struct {
	name string
	new  func(t *testing.T) (FS, string)
}

func allFS() []fsCase {
	mem := func(t *testing.T) (FS, string) {
		fs := NewMem()
		if err := fs.MkdirAll("/data", 0o755); err != nil {
			t.Fatal(err)
		}
		return fs, "/data"
	}
	return []fsCase{
		{"os", func(t *testing.T) (FS, string) { return Default, t.TempDir() }},
		{"mem", mem},
		{"errorfs-mem", func(t *testing.T) (FS, string) {
			fs, dir := mem(t)
			return Inject(fs, nil), dir
		}},
		{"errorfs-os", func(t *testing.T) (FS, string) { return Inject(Default, nil), t.TempDir() }},
	}
}

// TestConformance runs the same behaviours against every FS, so that tests
// written against MemFS hold on a real disk.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, fs FS, dir string)
	}{
		{"WriteReadStat", testWriteReadStat},
		{"ReadAtPastEndIsEOF", testReadAtPastEnd},
		{"WriteAtPastEndZeroFills", testWriteAtPastEnd},
		{"AllocateExtendsNeverShrinks", testAllocate},
		{"TruncateShrinksAndZeroFills", testTruncate},
		{"MapAliasesFile", testMap},
		{"CreateTruncatesExisting", testCreateTruncates},
		{"OpenReadOnlyRejectsWrites", testOpenReadOnly},
		{"MissingFilesAreNotExist", testNotExist},
		{"RenameReplaces", testRename},
		{"ReadDirSorted", testReadDir},
		{"RemoveAndRemoveAll", testRemove},
		{"MkdirAll", testMkdirAll},
		{"LockExcludesSecondLock", testLock},
		{"StatDescribesDirsAndFiles", testStat},
		{"DiskUsage", testDiskUsage},
		{"ClosedFileFails", testClosed},
	}
	for _, c := range allFS() {
		t.Run(c.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					fs, dir := c.new(t)
					tt.fn(t, fs, dir)
				})
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, fs FS, name string, data []byte) File {
	t.Helper()
	f, err := fs.Create(name)
	must(t, err)
	t.Cleanup(func() { f.Close() })
	if len(data) > 0 {
		n, err := f.WriteAt(data, 0)
		must(t, err)
		if n != len(data) {
			t.Fatalf("WriteAt wrote %d of %d bytes", n, len(data))
		}
	}
	return f
}

func contents(t *testing.T, fs FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	must(t, err)
	defer f.Close()
	st, err := f.Stat()
	must(t, err)
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

func size(t *testing.T, f File) int64 {
	t.Helper()
	st, err := f.Stat()
	must(t, err)
	return st.Size()
}

func testWriteReadStat(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "a")
	f := create(t, fs, name, []byte("hello world"))
	if f.Name() != name {
		t.Errorf("Name() = %q, want %q", f.Name(), name)
	}
	must(t, f.Sync())
	if _, err := f.WriteAt([]byte("W"), 6); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	n, err := f.ReadAt(b, 6)
	if err != nil || n != 5 || string(b) != "World" {
		t.Fatalf("ReadAt = %d, %q, %v", n, b, err)
	}
	if got := size(t, f); got != 11 {
		t.Errorf("size = %d, want 11", got)
	}
	if got := contents(t, fs, name); string(got) != "hello World" {
		t.Errorf("contents = %q", got)
	}
}

func testReadAtPastEnd(t *testing.T, fs FS, dir string) {
	f := create(t, fs, filepath.Join(dir, "a"), []byte("abc"))
	b := make([]byte, 5)
	n, err := f.ReadAt(b, 1)
	if n != 2 || err != io.EOF || string(b[:n]) != "bc" {
		t.Errorf("ReadAt across end = %d, %v", n, err)
	}
	n, err = f.ReadAt(b, 3)
	if n != 0 || err != io.EOF {
		t.Errorf("ReadAt at end = %d, %v", n, err)
	}
}

func testWriteAtPastEnd(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "a")
	f := create(t, fs, name, []byte("ab"))
	_, err := f.WriteAt([]byte("z"), 5)
	must(t, err)
	if got := contents(t, fs, name); !bytes.Equal(got, []byte("ab\x00\x00\x00z")) {
		t.Errorf("contents = %q", got)
	}
}

func testAllocate(t *testing.T, fs FS, dir string) {
	f := create(t, fs, filepath.Join(dir, "a"), []byte("xy"))
	must(t, f.Allocate(8192))
	if got := size(t, f); got != 8192 {
		t.Errorf("size after Allocate(8192) = %d", got)
	}
	must(t, f.Allocate(100))
	must(t, f.Allocate(0))
	if err := f.Allocate(-1); err == nil {
		t.Error("Allocate(-1) succeeded")
	}
	if got := size(t, f); got != 8192 {
		t.Errorf("size after Allocate(100) = %d, want unchanged 8192", got)
	}
	b := make([]byte, 4)
	_, err := f.ReadAt(b, 0)
	must(t, err)
	if !bytes.Equal(b, []byte("xy\x00\x00")) {
		t.Errorf("head after Allocate = %q", b)
	}
}

func testTruncate(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "a")
	f := create(t, fs, name, []byte("abcdef"))
	must(t, f.Truncate(2))
	must(t, f.Truncate(4))
	if got := contents(t, fs, name); !bytes.Equal(got, []byte("ab\x00\x00")) {
		t.Errorf("contents = %q", got)
	}
}

func testMap(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "a")
	f := create(t, fs, name, nil)
	must(t, f.Allocate(8192))
	m1, err := f.Map(8192)
	must(t, err)
	m2, err := f.Map(4096)
	must(t, err)
	if len(m1) != 8192 || len(m2) != 4096 {
		t.Fatalf("map lengths %d, %d", len(m1), len(m2))
	}
	copy(m1[10:], "mapped")
	if string(m2[10:16]) != "mapped" {
		t.Errorf("second mapping sees %q", m2[10:16])
	}
	b := make([]byte, 6)
	_, err = f.ReadAt(b, 10)
	must(t, err)
	if string(b) != "mapped" {
		t.Errorf("ReadAt sees %q", b)
	}
	_, err = f.WriteAt([]byte("WRITE"), 5000)
	must(t, err)
	if string(m1[5000:5005]) != "WRITE" {
		t.Errorf("mapping sees %q after WriteAt", m1[5000:5005])
	}
	must(t, f.Sync())
	must(t, f.Unmap(m2))
	must(t, f.Unmap(m1))
	if got := contents(t, fs, name); string(got[10:16]) != "mapped" {
		t.Errorf("after unmap contents = %q", got[10:16])
	}
	if b, err := f.Map(0); err != nil || b != nil {
		t.Errorf("Map(0) = %v, %v", b, err)
	}
}

func testCreateTruncates(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "a")
	create(t, fs, name, []byte("old data"))
	f := create(t, fs, name, nil)
	if got := size(t, f); got != 0 {
		t.Errorf("size after re-Create = %d", got)
	}
}

func testOpenReadOnly(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "a")
	create(t, fs, name, []byte("abc"))
	f, err := fs.Open(name)
	must(t, err)
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Error("WriteAt on read-only file succeeded")
	}
	if err := f.Truncate(0); err == nil {
		t.Error("Truncate on read-only file succeeded")
	}
	if _, err := f.Map(3); err == nil {
		t.Error("Map on read-only file succeeded")
	}
	rw, err := fs.OpenReadWrite(name)
	must(t, err)
	defer rw.Close()
	_, err = rw.WriteAt([]byte("X"), 0)
	must(t, err)
	b := make([]byte, 3)
	_, err = f.ReadAt(b, 0)
	must(t, err)
	if string(b) != "Xbc" {
		t.Errorf("read-only handle sees %q", b)
	}
}

func testNotExist(t *testing.T, fs FS, dir string) {
	missing := filepath.Join(dir, "missing")
	_, err := fs.Open(missing)
	check := func(what string, err error) {
		t.Helper()
		if !IsNotExist(err) {
			t.Errorf("%s: err = %v, want not exist", what, err)
		}
		var pe *os.PathError
		var le *os.LinkError
		if !errors.As(err, &pe) && !errors.As(err, &le) {
			t.Errorf("%s: err %T is not a *os.PathError", what, err)
		}
	}
	check("Open", err)
	_, err = fs.OpenReadWrite(missing)
	check("OpenReadWrite", err)
	_, err = fs.Stat(missing)
	check("Stat", err)
	_, err = fs.ReadDir(missing)
	check("ReadDir", err)
	check("Remove", fs.Remove(missing))
	check("Rename", fs.Rename(missing, filepath.Join(dir, "b")))
	_, err = fs.Create(filepath.Join(dir, "nodir", "a"))
	check("Create in missing dir", err)
	check("SyncDir", fs.SyncDir(missing))
	must(t, fs.RemoveAll(missing))
}

func testRename(t *testing.T, fs FS, dir string) {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	create(t, fs, a, []byte("new"))
	create(t, fs, b, []byte("old"))
	must(t, fs.Rename(a, b))
	if _, err := fs.Stat(a); !IsNotExist(err) {
		t.Errorf("old name still there: %v", err)
	}
	if got := contents(t, fs, b); string(got) != "new" {
		t.Errorf("renamed contents = %q", got)
	}
	sub := filepath.Join(dir, "sub")
	must(t, fs.MkdirAll(sub, 0o755))
	must(t, fs.Rename(b, filepath.Join(sub, "c")))
	if got := contents(t, fs, filepath.Join(sub, "c")); string(got) != "new" {
		t.Errorf("moved contents = %q", got)
	}
	must(t, fs.Rename(sub, filepath.Join(dir, "sub2")))
	if got := contents(t, fs, filepath.Join(dir, "sub2", "c")); string(got) != "new" {
		t.Errorf("contents after dir rename = %q", got)
	}
	must(t, fs.SyncDir(dir))
}

func testReadDir(t *testing.T, fs FS, dir string) {
	for _, n := range []string{"c", "a", "b"} {
		create(t, fs, filepath.Join(dir, n), nil)
	}
	must(t, fs.MkdirAll(filepath.Join(dir, "d", "e"), 0o755))
	got, err := fs.ReadDir(dir)
	must(t, err)
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir = %v, want %v", got, want)
	}
	if _, err := fs.ReadDir(filepath.Join(dir, "a")); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
}

func testRemove(t *testing.T, fs FS, dir string) {
	a := filepath.Join(dir, "a")
	create(t, fs, a, []byte("x"))
	must(t, fs.Remove(a))
	if _, err := fs.Stat(a); !IsNotExist(err) {
		t.Errorf("Stat after Remove: %v", err)
	}
	d := filepath.Join(dir, "d")
	must(t, fs.MkdirAll(filepath.Join(d, "e"), 0o755))
	create(t, fs, filepath.Join(d, "e", "f"), []byte("x"))
	if err := fs.Remove(d); err == nil {
		t.Error("Remove of a non-empty dir succeeded")
	}
	must(t, fs.RemoveAll(d))
	if _, err := fs.Stat(d); !IsNotExist(err) {
		t.Errorf("Stat after RemoveAll: %v", err)
	}
	must(t, fs.MkdirAll(d, 0o755))
	must(t, fs.Remove(d))
}

func testMkdirAll(t *testing.T, fs FS, dir string) {
	d := filepath.Join(dir, "x", "y", "z")
	must(t, fs.MkdirAll(d, 0o755))
	must(t, fs.MkdirAll(d, 0o755))
	must(t, fs.SyncDir(d))
	create(t, fs, filepath.Join(dir, "file"), nil)
	if err := fs.MkdirAll(filepath.Join(dir, "file", "sub"), 0o755); err == nil {
		t.Error("MkdirAll under a file succeeded")
	}
	if err := fs.MkdirAll(filepath.Join(dir, "file"), 0o755); err == nil {
		t.Error("MkdirAll over a file succeeded")
	}
}

func testLock(t *testing.T, fs FS, dir string) {
	name := filepath.Join(dir, "sub", "LOCK")
	l, err := fs.Lock(name)
	must(t, err)
	if _, err := fs.Lock(name); err == nil {
		t.Fatal("second Lock succeeded")
	}
	other, err := fs.Lock(filepath.Join(dir, "OTHER"))
	must(t, err)
	must(t, other.Close())
	must(t, l.Close())
	l, err = fs.Lock(name)
	must(t, err)
	must(t, l.Close())
}

func testStat(t *testing.T, fs FS, dir string) {
	create(t, fs, filepath.Join(dir, "f"), []byte("12345"))
	must(t, fs.MkdirAll(filepath.Join(dir, "d"), 0o755))
	st, err := fs.Stat(filepath.Join(dir, "f"))
	must(t, err)
	if st.Name() != "f" || st.Size() != 5 || st.IsDir() || st.ModTime().IsZero() || !st.Mode().IsRegular() {
		t.Errorf("Stat(f) = %s %d dir=%v mode=%v %v", st.Name(), st.Size(), st.IsDir(), st.Mode(), st.ModTime())
	}
	st, err = fs.Stat(filepath.Join(dir, "d"))
	must(t, err)
	if st.Name() != "d" || !st.IsDir() {
		t.Errorf("Stat(d) = %s dir=%v", st.Name(), st.IsDir())
	}
}

func testDiskUsage(t *testing.T, fs FS, dir string) {
	du, err := fs.DiskUsage(dir)
	must(t, err)
	if du.Total == 0 || du.Free > du.Total {
		t.Errorf("DiskUsage = %+v", du)
	}
	if r := du.UsedRatio(); r < 0 || r > 1 {
		t.Errorf("UsedRatio = %v", r)
	}
	if _, err := fs.DiskUsage(filepath.Join(dir, "missing")); !IsNotExist(err) {
		t.Errorf("DiskUsage(missing) err = %v", err)
	}
}

func testClosed(t *testing.T, fs FS, dir string) {
	f, err := fs.Create(filepath.Join(dir, "a"))
	must(t, err)
	must(t, f.Close())
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("WriteAt after Close: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close: %v", err)
	}
	if err := f.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}
