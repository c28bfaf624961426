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
	"encoding/binary"
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

// ParseName returns the base offset encoded in a segment file name: exactly
// 20 decimal digits, as FileName writes them.
func ParseName(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	for i := range len(name) {
		// ParseInt alone would take a sign ("+000…1"), and the file would
		// then be looked up under a name it does not have.
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
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
	size int // len(data) until Close; kept so End and Size never race Close
	data []byte

	wrote   atomic.Int64 // bytes written (relative), published by the writer
	flushed atomic.Int64 // bytes known durable (relative)
}

// Create creates, allocates and maps a new segment of size bytes. The
// allocation is synced, so once the caller makes the name durable (SyncDir)
// a crash cannot leave the file shorter than size.
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
	// Without this the new size may not be durable when a later SyncDir
	// makes the name durable: a crash would leave a zero-length segment,
	// and one in the middle of a queue makes OpenQueue fail.
	if err := f.Sync(); err != nil {
		f.Close()
		fs.Remove(path)
		return nil, fmt.Errorf("segment: sync new %s: %w", path, err)
	}
	data, err := f.Map(size)
	if err != nil {
		f.Close()
		fs.Remove(path)
		return nil, fmt.Errorf("segment: map %s: %w", path, err)
	}
	return &File{fs: fs, f: f, path: path, base: base, size: size, data: data}, nil
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
	return &File{fs: fs, f: f, path: path, base: base, size: size, data: data}, nil
}

// Base is the logical offset of the segment's first byte.
func (s *File) Base() int64 { return s.base }

// Size is the segment's fixed size.
func (s *File) Size() int { return s.size }

// End is the logical offset just past the segment.
func (s *File) End() int64 { return s.base + int64(s.size) }

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
func (s *File) Full() bool { return s.Wrote() >= s.size }

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

// SyncRange makes the n bytes at off (relative to Base) durable wherever
// they lie, without moving the flushed position: for a writer that changed
// bytes past the write position, such as stale data cleared after a
// truncation, which Sync would never cover. Writer only.
func (s *File) SyncRange(off, n int) error {
	if off < 0 || n < 0 || off+n > s.size {
		return fmt.Errorf("segment: sync range [%d, +%d) outside %s (%d bytes)", off, n, s.path, s.size)
	}
	if n == 0 {
		return nil
	}
	if err := s.f.SyncRange(int64(off), int64(n)); err != nil {
		return fmt.Errorf("segment: sync %s: %w", s.path, err)
	}
	return nil
}

// ClearTail zeroes whatever an earlier run left past rel (relative to
// Base): records or units written and then truncated away, or written but
// torn by a crash. It makes the zeros durable, so no later recovery can take
// those bytes for data, and changes no byte that is already zero. Writer
// only, while nothing past rel is in use.
//
// Past what was ever written a segment holds zeros, so when the quiet bytes
// after rel are all zero the segment is taken to be clean and the scan stops
// there (a clean tail costs a few pages). Once anything else turns up, every
// non-zero page up to the end of the segment is cleared: a torn write can
// leave written pages after a hole.
func (s *File) ClearTail(rel, quiet int) error {
	if rel < 0 || rel > s.size {
		return fmt.Errorf("segment: clear %s from %d: outside %d bytes", s.path, rel, s.size)
	}
	lo, hi := -1, -1 // the range cleared
	for p := rel; p < s.size; {
		end := min(s.size, (p/pageSize+1)*pageSize)
		switch {
		case !isZero(s.data[p:end]):
			clear(s.data[p:end])
			if lo < 0 {
				lo = p
			}
			hi = end
		case lo < 0 && end-rel >= quiet:
			return nil
		}
		p = end
	}
	if lo < 0 {
		return nil
	}
	return s.SyncRange(lo, hi-lo)
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.NativeEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
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

// WriteAt writes b at off (relative to Base) through the file instead of the
// mapping (writer only; readers see it through the mapping, which shares
// the page cache). For a writer that syncs every few records: on ext4 an
// fdatasync after writes through a mapping got three times slower once a few
// hundred MiB had been written that way, and one after pwrite did not.
func (s *File) WriteAt(b []byte, off int) error {
	if off < 0 || off+len(b) > s.size {
		return fmt.Errorf("segment: write [%d, +%d) outside %s (%d bytes)", off, len(b), s.path, s.size)
	}
	if _, err := s.f.WriteAt(b, int64(off)); err != nil {
		return fmt.Errorf("segment: write %s at %d: %w", s.path, off, err)
	}
	return nil
}

// CanPrefault reports whether Prefault does anything for this segment.
func (s *File) CanPrefault() bool {
	_, ok := s.f.(vfs.Prefaulter)
	return ok
}

// Prefault faults in the pages holding [off, off+n) (relative to Base) as if
// written, without changing a byte, so the writer's later copies into them
// are plain memory copies; a page fault taken inside the copy costs more than
// the copy. Any goroutine, while the segment is open; it never races the
// writer, since no byte changes. A no-op when the file cannot (CanPrefault).
func (s *File) Prefault(off, n int) error {
	p, ok := s.f.(vfs.Prefaulter)
	if !ok || n <= 0 {
		return nil
	}
	lo := off / pageSize * pageSize
	hi := min(s.size, (off+n+pageSize-1)/pageSize*pageSize)
	if lo < 0 || lo >= hi {
		return nil
	}
	if err := p.Prefault(s.data[lo:hi]); err != nil {
		return fmt.Errorf("segment: prefault %s [%d, %d): %w", s.path, lo, hi, err)
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
