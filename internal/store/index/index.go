package index

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// tmpSuffix marks a file being created; Open removes leftovers.
const tmpSuffix = ".tmp"

// Options set the geometry of index files. Every file in a directory must
// have the same geometry; RocketMQ's defaults make 420,000,040-byte files.
type Options struct {
	// SlotCount is the number of hash slots per file (RocketMQ
	// maxHashSlotNum). 0 means DefaultSlotCount.
	SlotCount int
	// MaxEntries is the number of 20-byte entry positions per file,
	// including position 0, which is never used, so a file holds
	// MaxEntries-1 entries (RocketMQ maxIndexNum). 0 means
	// DefaultMaxEntries.
	MaxEntries int
}

// DefaultOptions returns RocketMQ's geometry: 5,000,000 slots and
// 20,000,000 entries.
func DefaultOptions() Options {
	return Options{SlotCount: DefaultSlotCount, MaxEntries: DefaultMaxEntries}
}

func (o Options) withDefaults() Options {
	if o.SlotCount == 0 {
		o.SlotCount = DefaultSlotCount
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o
}

// Validate reports whether o (after defaults) describes files RocketMQ can
// use: SlotCount >= 1, MaxEntries >= 2, and FileSize at most MaxInt32 (a
// Java int). The error wraps ErrInvalidOptions.
func (o Options) Validate() error {
	o = o.withDefaults()
	return checkGeometry(o.SlotCount, o.MaxEntries)
}

// Index is the set of index files in one directory, oldest first.
type Index struct {
	fs   vfs.FS
	dir  string
	opts Options // with defaults
	size int64
	now  func() time.Time
	// syncBesidePut: the file system's Sync reads no mapped memory (the
	// OS), so the newest file can be synced while Put writes into it.
	syncBesidePut bool

	// syncMu is held by Sync for its whole run, and by the calls other
	// than Put that change or close files (Truncate, DeleteBefore, Close),
	// so Sync can fsync files without mu.
	// Lock order: syncMu, then mu.
	syncMu sync.Mutex
	// mu guards files, closed, and the bytes and headers of the files:
	// Query reads under RLock, writers hold Lock.
	mu     sync.RWMutex
	files  []*file
	closed bool
}

// file is one open index file.
type file struct {
	name  string // base name, yyyyMMddHHmmssSSS
	f     vfs.File
	v     view // over the mapping
	dirty atomic.Bool
}

// Open opens the index in dir, creating the directory if needed, and loads
// every file in it in name order. A file whose size is not
// FileSize(SlotCount, MaxEntries) fails Open (ErrBadSize), as does a name
// that is not a file time (ErrBadName); both errors name the file.
// Leftovers of a file creation cut short by a crash are removed.
//
// Open accepts any contents of the right size: after a crash a file may
// hold a mix of old and new pages, and IndexCount is clamped into
// [1, MaxEntries] so reads stay in bounds. After an unclean shutdown call
// Truncate with the recovered end of the commit log, which repairs what
// the crash left.
func Open(fs vfs.FS, dir string, opts Options) (*Index, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := mkdirDurable(fs, dir); err != nil {
		return nil, err
	}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("index: list %s: %w", dir, err)
	}
	ix := &Index{
		fs:   fs,
		dir:  dir,
		opts: opts,
		size: FileSize(opts.SlotCount, opts.MaxEntries),
		now:  time.Now,

		syncBesidePut: fs == vfs.Default,
	}
	removed := false
	for _, name := range names {
		if strings.HasSuffix(name, tmpSuffix) {
			if err := fs.Remove(filepath.Join(dir, name)); err != nil {
				ix.closeFiles()
				return nil, fmt.Errorf("index: remove leftover %s: %w", filepath.Join(dir, name), err)
			}
			removed = true
			continue
		}
		f, err := ix.openFile(name)
		if err != nil {
			ix.closeFiles()
			return nil, err
		}
		ix.files = append(ix.files, f)
	}
	if removed {
		if err := fs.SyncDir(dir); err != nil {
			ix.closeFiles()
			return nil, fmt.Errorf("index: sync dir %s: %w", dir, err)
		}
	}
	return ix, nil
}

// mkdirDurable creates dir and its missing parents, and syncs the parent
// of each directory it creates so that the new entries survive a crash.
func mkdirDurable(fs vfs.FS, dir string) error {
	var missing []string // deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := fs.Stat(d)
		if err == nil {
			break
		}
		if !vfs.IsNotExist(err) {
			return fmt.Errorf("index: stat %s: %w", d, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("index: create dir %s: %w", dir, err)
	}
	for _, d := range missing {
		if err := fs.SyncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("index: sync dir %s: %w", filepath.Dir(d), err)
		}
	}
	return nil
}

func (ix *Index) openFile(name string) (*file, error) {
	path := filepath.Join(ix.dir, name)
	if _, ok := parseName(name); !ok {
		return nil, fmt.Errorf("index: %s: %w", path, ErrBadName)
	}
	f, err := ix.fs.OpenReadWrite(path)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("index: stat %s: %w", path, err)
	}
	if st.Size() != ix.size {
		f.Close()
		return nil, fmt.Errorf("index: %s: size %d, want %d: %w", path, st.Size(), ix.size, ErrBadSize)
	}
	b, err := f.Map(int(ix.size))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("index: map %s: %w", path, err)
	}
	v, err := newView(b, ix.opts.SlotCount, ix.opts.MaxEntries)
	if err != nil { // cannot happen: geometry and size were checked
		f.Unmap(b)
		f.Close()
		return nil, fmt.Errorf("index: %s: %w", path, err)
	}
	return &file{name: name, f: f, v: v}, nil
}

// createFile makes a new, empty file after the newest one, inheriting its
// end offset and time as RocketMQ does. The file is built under a
// temporary name and renamed once allocated, so a crash never leaves a
// short file for Open to reject. ix.mu is held.
func (ix *Index) createFile() (*file, error) {
	var last string
	var h Header
	if n := len(ix.files); n > 0 {
		prev := ix.files[n-1].v.h
		last = ix.files[n-1].name
		h = Header{
			BeginTimestamp: prev.EndTimestamp,
			EndTimestamp:   prev.EndTimestamp,
			BeginPhyOffset: prev.EndPhyOffset,
			EndPhyOffset:   prev.EndPhyOffset,
		}
	}
	h.IndexCount = 1
	name, err := nextName(ix.now(), last)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(ix.dir, name)
	tmp := path + tmpSuffix
	f, err := ix.fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("index: create %s: %w", tmp, err)
	}
	fail := func(op string, err error) (*file, error) {
		f.Close()
		ix.fs.Remove(tmp)
		return nil, fmt.Errorf("index: %s %s: %w", op, tmp, err)
	}
	if err := f.Allocate(ix.size); err != nil {
		return fail("allocate", err)
	}
	b, err := f.Map(int(ix.size))
	if err != nil {
		return fail("map", err)
	}
	v := view{b: b, slots: ix.opts.SlotCount, max: ix.opts.MaxEntries, h: h}
	v.writeHeader()
	if err := f.Sync(); err != nil {
		f.Unmap(b)
		return fail("sync", err)
	}
	if err := ix.fs.Rename(tmp, path); err != nil {
		f.Unmap(b)
		return fail("rename", err)
	}
	if err := ix.fs.SyncDir(ix.dir); err != nil {
		f.Unmap(b)
		f.Close()
		ix.fs.Remove(path)
		return nil, fmt.Errorf("index: sync dir %s: %w", ix.dir, err)
	}
	return &file{name: name, f: f, v: v}, nil
}

// Put indexes key (already prefixed with "topic#") for the message at
// phyOffset stored at storeTimestamp (Unix ms). It appends one entry to the
// newest file, creating a file when there is none or the newest is full.
//
// Messages must arrive in non-decreasing phyOffset. A put below the newest
// file's EndPhyOffset is skipped and returns nil: the dispatcher replays
// messages after recovery. Several keys of one message share its offset,
// so a put at exactly EndPhyOffset is kept.
//
// Put is called by one goroutine at a time (the store's dispatcher).
func (ix *Index) Put(key string, phyOffset, storeTimestamp int64) error {
	if phyOffset < 0 {
		return fmt.Errorf("index: put at %d: %w", phyOffset, ErrNegativeOffset)
	}
	kh := KeyHash(key)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	var last *file
	if n := len(ix.files); n > 0 {
		last = ix.files[n-1]
		if phyOffset < last.v.h.EndPhyOffset {
			return nil
		}
	}
	if last == nil || last.v.full() {
		f, err := ix.createFile()
		if err != nil {
			return err
		}
		ix.files = append(ix.files, f)
		last = f
	}
	last.v.add(kh, phyOffset, storeTimestamp)
	last.dirty.Store(true)
	return nil
}

// Query returns the commit-log offsets of up to maxNum entries whose key
// hash equals that of key and whose store time is in [begin, end] (Unix
// ms, inclusive), newest first, searching every file whose time range
// touches [begin, end], newest file first. Times have second resolution
// within a file (see Entry.TimeDiff). Only hashes are compared: callers
// must check the key on each message.
//
// Query may be called from any goroutine, concurrently with everything.
func (ix *Index) Query(key string, maxNum int, begin, end int64) ([]int64, error) {
	kh := KeyHash(key)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	if maxNum <= 0 || begin > end {
		return nil, nil
	}
	out := make([]int64, 0, min(maxNum, 32))
	for i := len(ix.files) - 1; i >= 0 && len(out) < maxNum; i-- {
		v := &ix.files[i].v
		if v.h.IndexCount > 1 && v.timeMatched(begin, end) {
			out = v.lookup(out, kh, maxNum, begin, end)
		}
	}
	return out, nil
}

// EndPhyOffset returns the newest file's EndPhyOffset: the offset of the
// last message indexed, 0 if there is none. Puts below it are skipped.
func (ix *Index) EndPhyOffset() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if n := len(ix.files); n > 0 {
		return ix.files[n-1].v.h.EndPhyOffset
	}
	return 0
}

// Sync makes every change to the files durable (fdatasync of each file
// written since its last sync): every entry Put before Sync was called.
// Sync may be called from any goroutine, concurrently with Put.
//
// Sealed files are synced without blocking Put. So is the newest one on the
// operating system's file system: Put may keep writing into its mapping,
// since fdatasync reads no Go memory and makes durable at least what was
// written before it started. Other file systems (the in-memory one of the
// tests) copy the mapping on a sync, so there the newest file is synced
// under the read lock and Put waits for it.
func (ix *Index) Sync() error {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	ix.mu.RLock()
	if ix.closed {
		ix.mu.RUnlock()
		return ErrClosed
	}
	files := slices.Clone(ix.files)
	var err error
	if n := len(files); n > 0 && !ix.syncBesidePut {
		err = files[n-1].sync()
		files = files[:n-1]
	}
	ix.mu.RUnlock()
	// Whatever could change or close the files waits for syncMu; Put only
	// writes the newest and may add files after these.
	for _, f := range files {
		err = errors.Join(err, f.sync())
	}
	return err
}

func (f *file) sync() error {
	if !f.dirty.Swap(false) {
		return nil
	}
	if err := f.f.Sync(); err != nil {
		f.dirty.Store(true)
		return fmt.Errorf("index: sync %s: %w", f.name, err)
	}
	return nil
}

// Truncate removes every entry whose offset is >= phyOffset, for crash
// recovery. Files whose BeginPhyOffset is >= phyOffset are deleted; in the
// newest remaining file IndexCount goes back to the first entry at or past
// phyOffset (trailing entries a crash left zero go too), the slot table and
// chains are rebuilt from the kept entries, and the header's begin and end
// are recomputed from them. A file left empty is deleted. Truncate copes
// with any contents; call Sync to make its work durable.
//
// Only the newest remaining file is repaired, so phyOffset should be one
// below which the index was synced: a dispatch position read before a
// Sync that succeeded (the store's checkpointed safe offset). Files created
// after that Sync then hold only entries at or past it and are deleted
// whole, and the file that was newest then is repaired. With a
// later offset (say the commit log's recovered end), older files that a
// power loss damaged stay as they are: lookups in them stay safe but may
// miss keys.
//
// Truncate is called by the goroutine that calls Put.
func (ix *Index) Truncate(phyOffset int64) error {
	if phyOffset < 0 {
		return fmt.Errorf("index: truncate at %d: %w", phyOffset, ErrNegativeOffset)
	}
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	var errs []error
	removed := false
	kept := ix.files[:0]
	for _, f := range ix.files {
		if f.v.h.BeginPhyOffset >= phyOffset {
			errs = append(errs, ix.removeFile(f))
			removed = true
			continue
		}
		kept = append(kept, f)
	}
	clear(ix.files[len(kept):])
	ix.files = kept
	for n := len(ix.files); n > 0; n-- {
		last := ix.files[n-1]
		count, changed := last.v.truncate(phyOffset)
		if changed {
			last.dirty.Store(true)
		}
		if count > 1 {
			break
		}
		errs = append(errs, ix.removeFile(last))
		removed = true
		ix.files[n-1] = nil
		ix.files = ix.files[:n-1]
	}
	if removed {
		if err := ix.fs.SyncDir(ix.dir); err != nil {
			errs = append(errs, fmt.Errorf("index: sync dir %s: %w", ix.dir, err))
		}
	}
	return errors.Join(errs...)
}

// DeleteBefore deletes, oldest first, the files whose EndPhyOffset is below
// phyOffset (the commit log's minimum offset), stopping at the first file
// that is not and never deleting the newest, as RocketMQ's
// IndexService.deleteExpiredFile does. It returns how many files it
// deleted.
//
// DeleteBefore is called by the goroutine that calls Put.
func (ix *Index) DeleteBefore(phyOffset int64) (int, error) {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return 0, ErrClosed
	}
	n := 0
	var err error
	for n < len(ix.files)-1 && ix.files[n].v.h.EndPhyOffset < phyOffset {
		f := ix.files[n]
		n++
		if err = ix.removeFile(f); err != nil {
			break
		}
	}
	ix.files = slices.Delete(ix.files, 0, n)
	if err != nil {
		return n - 1, err
	}
	if n > 0 {
		if err := ix.fs.SyncDir(ix.dir); err != nil {
			return n, fmt.Errorf("index: sync dir %s: %w", ix.dir, err)
		}
	}
	return n, nil
}

// removeFile unmaps, closes and deletes f. ix.mu is held and f is being
// dropped from ix.files.
func (ix *Index) removeFile(f *file) error {
	path := filepath.Join(ix.dir, f.name)
	err := errors.Join(f.f.Unmap(f.v.b), f.f.Close(), ix.fs.Remove(path))
	f.v.b = nil
	if err != nil {
		return fmt.Errorf("index: remove %s: %w", path, err)
	}
	return nil
}

// Close syncs every file written since its last sync, then unmaps and
// closes them all. Later calls return ErrClosed.
func (ix *Index) Close() error {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	ix.closed = true
	var err error
	for _, f := range ix.files {
		err = errors.Join(err, f.sync())
	}
	return errors.Join(err, ix.closeFiles())
}

// closeFiles unmaps and closes every file and forgets them.
func (ix *Index) closeFiles() error {
	var err error
	for _, f := range ix.files {
		if e := errors.Join(f.f.Unmap(f.v.b), f.f.Close()); e != nil {
			err = errors.Join(err, fmt.Errorf("index: close %s: %w", f.name, e))
		}
		f.v.b = nil
	}
	ix.files = nil
	return err
}
