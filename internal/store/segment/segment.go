// Package segment holds fixed-size, preallocated, memory-mapped files and the
// ordered queues of them that make up the commit log and each consume queue.
//
// A segment is named by the logical offset of its first byte, zero-padded to
// 20 digits, and has a fixed size. It is allocated in full when created
// (fallocate, so running out of disk shows up here and never in the middle of
// an append), mapped shared read-write, and optionally pre-faulted ("warmed")
// so an append is a memory copy.
//
// Concurrency: one goroutine writes a segment (the owner of the log); readers
// may read any byte below the published write position at any time. A Queue's
// list of segments is guarded by a RWMutex: readers hold it (RLock) while they
// copy out of a mapping, and removing a segment takes it exclusively, so a
// mapping is never unmapped under a reader.
package segment

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// pageSize is the unit for warming and dirty tracking.
const pageSize = 4096

// FileName returns the 20-digit name of the segment starting at base.
func FileName(base int64) string { return fmt.Sprintf("%020d", base) }

// ParseName returns the base offset encoded in a segment file name.
func ParseName(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(name, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// File is one mapped segment.
type File struct {
	fs   vfs.FS
	f    vfs.File
	path string
	base int64
	data []byte

	wrote   atomic.Int64 // bytes written (relative), published by the writer
	flushed atomic.Int64 // bytes known durable (relative)
}

// Create creates, allocates and maps a new segment of size bytes.
func Create(fs vfs.FS, dir string, base int64, size int) (*File, error) {
	path := filepath.Join(dir, FileName(base))
	if _, err := fs.Stat(path); err == nil {
		return nil, fmt.Errorf("segment: create %s: %w", path, ErrExists)
	}
	f, err := fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", path, err)
	}
	if err := f.Allocate(int64(size)); err != nil {
		f.Close()
		fs.Remove(path)
		return nil, fmt.Errorf("segment: allocate %d bytes for %s: %w", size, path, err)
	}
	data, err := f.Map(size)
	if err != nil {
		f.Close()
		fs.Remove(path)
		return nil, fmt.Errorf("segment: map %s: %w", path, err)
	}
	return &File{fs: fs, f: f, path: path, base: base, data: data}, nil
}

// Open maps an existing segment, which must be exactly size bytes long. Its
// write and flush positions start at 0; recovery sets them.
func Open(fs vfs.FS, path string, base int64, size int) (*File, error) {
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment: stat %s: %w", path, err)
	}
	if st.Size() != int64(size) {
		f.Close()
		return nil, fmt.Errorf("segment: %s is %d bytes, want %d: %w", path, st.Size(), size, ErrBadSize)
	}
	data, err := f.Map(size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment: map %s: %w", path, err)
	}
	return &File{fs: fs, f: f, path: path, base: base, data: data}, nil
}

// Base is the logical offset of the segment's first byte.
func (s *File) Base() int64 { return s.base }

// Size is the segment's fixed size.
func (s *File) Size() int { return len(s.data) }

// End is the logical offset just past the segment.
func (s *File) End() int64 { return s.base + int64(len(s.data)) }

// Path is the segment's file path.
func (s *File) Path() string { return s.path }

// Data is the whole mapping. Only the writer writes it.
func (s *File) Data() []byte { return s.data }

// Wrote is the published write position, relative to Base.
func (s *File) Wrote() int { return int(s.wrote.Load()) }

// SetWrote publishes a new write position (writer only).
func (s *File) SetWrote(n int) { s.wrote.Store(int64(n)) }

// Flushed is the durable position, relative to Base.
func (s *File) Flushed() int { return int(s.flushed.Load()) }

// SetFlushed sets the durable position (recovery only).
func (s *File) SetFlushed(n int) { s.flushed.Store(int64(n)) }

// Full reports whether the write position reached the end.
func (s *File) Full() bool { return s.Wrote() >= len(s.data) }

// Sync makes everything written so far durable and returns the new flushed
// position. Concurrent calls are not allowed (one flusher per segment).
func (s *File) Sync() (int, error) {
	w, fl := s.Wrote(), s.Flushed()
	if w <= fl {
		return fl, nil
	}
	if err := s.f.SyncRange(int64(fl), int64(w-fl)); err != nil {
		return s.Flushed(), fmt.Errorf("segment: sync %s: %w", s.path, err)
	}
	s.flushed.Store(int64(w))
	return w, nil
}

// Warm pre-faults every page by writing a zero to it, then syncs the file
// so the pages are clean again: later appends pay only a cheap write-protect
// fault instead of allocating a page, and an fdatasync never has to write
// out warmed pages that hold no data. Only for a fresh segment nobody uses
// yet (its bytes are all zero, so this changes no content).
func (s *File) Warm() error {
	for i := 0; i < len(s.data); i += pageSize {
		s.data[i] = 0
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("segment: warm %s: %w", s.path, err)
	}
	return nil
}

// Close unmaps and closes the segment.
func (s *File) Close() error {
	err := s.f.Unmap(s.data)
	s.data = nil
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("segment: close %s: %w", s.path, err)
	}
	return nil
}

// Remove closes the segment and deletes its file.
func (s *File) Remove() error {
	if err := s.Close(); err != nil {
		return err
	}
	if err := s.fs.Remove(s.path); err != nil && !vfs.IsNotExist(err) {
		return fmt.Errorf("segment: remove %s: %w", s.path, err)
	}
	return nil
}
