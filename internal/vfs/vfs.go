// Package vfs is the one seam through which Quiver touches the disk.
//
// Every file the store reads or writes is opened through an FS. Production code
// uses Default (the operating system); tests use NewMem, an in-memory file
// system that can show the state a machine would have after a crash (all that
// was not synced is lost), and errorfs-style wrappers (see Inject) that fail
// chosen operations with ENOSPC, EIO or short writes.
//
// The model follows pebble's vfs package. Files that hold data are fixed-size
// and preallocated: Allocate reserves the blocks up front (so running out of
// disk is reported when a segment is created, never in the middle of an
// append), and Map exposes the file as a shared memory mapping into which the
// store copies records. Sync makes both WriteAt data and writes through the
// mapping durable (fdatasync on Linux covers dirty pages of shared mappings).
//
// An FS and its Files are safe for concurrent use unless a method says
// otherwise; the store still serialises writes to one region itself.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// File is an open file.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync flushes file data (and writes made through a mapping) to stable
	// storage, like fdatasync(2).
	Sync() error
	// SyncRange makes at least the n bytes at off durable (and may sync
	// more). Unlike Sync it reads nothing outside the range, so a writer may
	// keep writing elsewhere in a mapping meanwhile.
	SyncRange(off, n int64) error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Allocate reserves disk blocks for [0, size) and extends the file to at
	// least size bytes. It fails with an error wrapping syscall.ENOSPC when the
	// disk cannot hold them.
	Allocate(size int64) error
	// Map maps the first size bytes of the file read-write and shared. The
	// file must already be at least size bytes long. The returned slice stays
	// valid until Unmap or Close.
	Map(size int) ([]byte, error)
	// Unmap releases a mapping obtained from Map.
	Unmap(b []byte) error
	// Stat returns the file's metadata.
	Stat() (os.FileInfo, error)
	// Name returns the path the file was opened with.
	Name() string
}

// FS is a file system.
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	Create(name string) (File, error)
	// Open opens the named file read-only.
	Open(name string) (File, error)
	// OpenReadWrite opens an existing file for reading and writing.
	OpenReadWrite(name string) (File, error)
	// Remove removes the named file or empty directory.
	Remove(name string) error
	// RemoveAll removes a path and all it contains.
	RemoveAll(name string) error
	// Rename atomically renames oldname to newname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and all missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists the names in a directory, sorted.
	ReadDir(dir string) ([]string, error)
	// Stat describes the named file.
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the directory's entries (creations, renames, removals)
	// durable.
	SyncDir(dir string) error
	// DiskUsage reports the capacity of the file system holding path.
	DiskUsage(path string) (DiskUsage, error)
	// Lock takes an exclusive advisory lock on the named file, creating it if
	// needed. It fails if another process (or FS user) holds it.
	Lock(name string) (io.Closer, error)
}

// DiskUsage is the capacity of a file system, in bytes.
type DiskUsage struct {
	Total uint64
	Free  uint64 // available to unprivileged users (Total is what is used plus Free, as df counts)
}

// UsedRatio is the share of the disk in use, in [0, 1].
func (d DiskUsage) UsedRatio() float64 {
	if d.Total == 0 {
		return 0
	}
	return float64(d.Total-d.Free) / float64(d.Total)
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Prefaulter is implemented by files whose mappings are real memory maps
// (the OS file system): Prefault faults in the pages of b, a page-aligned
// part of a mapping from Map, as if written, without changing a byte
// (madvise MADV_POPULATE_WRITE). A writer copying into them afterwards does
// not stop for page faults. Other files (in memory, with injected faults)
// do not implement it and need nothing of the kind.
type Prefaulter interface {
	Prefault(b []byte) error
}
