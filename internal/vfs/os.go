package vfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Default is the operating system's file system.
var Default FS = osFS{}

type osFS struct{}

type osFile struct{ *os.File }

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) OpenReadWrite(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error               { return os.Remove(name) }
func (osFS) RemoveAll(name string) error            { return os.RemoveAll(name) }
func (osFS) Rename(o, n string) error               { return os.Rename(o, n) }
func (osFS) MkdirAll(d string, p os.FileMode) error { return os.MkdirAll(d, p) }
func (osFS) Stat(name string) (os.FileInfo, error)  { return os.Stat(name) }

func (osFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("vfs: sync dir %s: %w", dir, err)
	}
	return nil
}

func (osFS) DiskUsage(path string) (DiskUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return DiskUsage{}, fmt.Errorf("vfs: statfs %s: %w", path, err)
	}
	// As df counts: the capacity is what is used plus what this process
	// may still use, so blocks reserved for root, or held back by a quota
	// or a shared volume, do not count as used.
	bs := uint64(st.Bsize)
	used := (st.Blocks - min(st.Bfree, st.Blocks)) * bs
	return DiskUsage{Total: used + st.Bavail*bs, Free: st.Bavail * bs}, nil
}

type osLock struct{ f *os.File }

func (l osLock) Close() error {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	return l.f.Close()
}

func (osFS) Lock(name string) (io.Closer, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("vfs: lock %s: already held by another process: %w", name, err)
	}
	return osLock{f}, nil
}

func (f osFile) Sync() error {
	return unix.Fdatasync(int(f.Fd()))
}

// SyncRange syncs the whole file: fdatasync is cheaper than
// sync_file_range plus the metadata sync it would still need.
func (f osFile) SyncRange(off, n int64) error { return f.Sync() }

func (f osFile) Allocate(size int64) error {
	if size == 0 {
		return nil // fallocate(2) rejects an empty range with EINVAL
	}
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		// File systems without fallocate (tmpfs on old kernels, some
		// overlays): fall back to extending the file; blocks are then
		// allocated on first write.
		st, serr := f.File.Stat()
		if serr != nil {
			return serr
		}
		if st.Size() < size {
			return f.File.Truncate(size)
		}
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "fallocate", Path: f.File.Name(), Err: err}
	}
	return nil
}

func (f osFile) Map(size int) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.File.Name(), Err: err}
	}
	return b, nil
}

// Prefault implements Prefaulter.
func (f osFile) Prefault(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
		return &os.PathError{Op: "madvise", Path: f.File.Name(), Err: err}
	}
	return nil
}

func (f osFile) Unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Munmap(b)
}
