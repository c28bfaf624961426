package vfs

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultMemCapacity is the capacity a MemFS starts with (1 TiB). It is
// enforced like any capacity set with SetCapacity, but file data lives in
// memory, so tests run out of RAM long before they reach it.
const DefaultMemCapacity uint64 = 1 << 40

// CrashPageSize is the granularity at which CrashCloneKeep keeps or drops
// unsynced data.
const CrashPageSize = 4096

// MemFS is an in-memory FS for tests that can show what a disk would hold
// after a power loss.
//
// Durability follows pebble's memory FS. Each file has its current bytes
// and a durable copy; File.Sync copies the first into the second. Directory
// entries (creations, renames, removals, including directories made by
// MkdirAll) become durable only when SyncDir is called on the directory that
// holds them. CrashClone returns a new MemFS with only the durable state.
// The root directory always exists.
//
// Map returns a slice that aliases the file's current bytes, so writes
// through it are seen by ReadAt and other mappings at once, and become
// durable on Sync. A file cannot grow while it is mapped unless the growth
// fits in the memory already reserved for it; files are expected to be
// preallocated with Allocate or Truncate before Map, as the store does, and
// other growth fails with an error rather than silently detaching the
// mapping.
//
// Sync and CrashCloneKeep read a whole file's current bytes; a concurrent
// write through a mapping of that file is a data race that the race
// detector reports (on a real disk the kernel does the copy). ReadAt and
// WriteAt only touch the bytes they are given.
//
// Paths are slash-separated; a leading slash is optional ("/a/b" and "a/b"
// name the same file), and "." and ".." are cleaned lexically.
//
// A MemFS and its Files are safe for concurrent use; one mutex guards all
// state.
type MemFS struct {
	mu       sync.Mutex
	root     *memNode
	capacity uint64
	used     int64 // bytes in files that are linked or still open
	now      func() time.Time
	locks    map[string]bool
}

var _ FS = (*MemFS)(nil)

// NewMem returns an empty MemFS with capacity DefaultMemCapacity and
// modification times from time.Now.
func NewMem() *MemFS {
	return &MemFS{
		root:     newMemDir(time.Now()),
		capacity: DefaultMemCapacity,
		now:      time.Now,
		locks:    make(map[string]bool),
	}
}

// memNode is a file or a directory: an inode. A node may be reachable from
// both the current and the durable namespace under different names.
type memNode struct {
	isDir   bool
	mode    os.FileMode
	modTime time.Time

	// Files.
	data   []byte // current bytes; mappings alias data[:len]
	synced []byte // durable bytes
	linked bool   // named in the current namespace
	opens  int    // open Files
	maps   int    // live mappings

	// Directories.
	children map[string]*memNode // current entries
	durable  map[string]*memNode // entries as of the last SyncDir
}

func newMemDir(now time.Time) *memNode {
	return &memNode{
		isDir:    true,
		mode:     os.ModeDir | 0o755,
		modTime:  now,
		children: make(map[string]*memNode),
		durable:  make(map[string]*memNode),
	}
}

// counted reports whether the node's bytes take up capacity: a file uses
// space while it has a name or an open handle, as on a real disk.
func (n *memNode) counted() bool { return !n.isDir && (n.linked || n.opens > 0) }

// SetCapacity sets the size of the simulated disk in bytes. Operations that
// would make the files' total size exceed it fail with an error wrapping
// syscall.ENOSPC and leave the file unchanged. Lowering the capacity below
// the space in use does not touch existing files.
func (m *MemFS) SetCapacity(total uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = total
}

// SetClock sets the function that stamps modification times.
func (m *MemFS) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// split cleans name and returns its components; the root has none.
func split(name string) []string {
	p := filepath.ToSlash(filepath.Clean("/" + name))
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// lookupDir walks to the directory that holds the last component of name.
// It returns that directory and the last component, or the root and "" for
// the root itself. m.mu must be held.
func (m *MemFS) lookupDir(op, name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return m.root, "", nil
	}
	dir := m.root
	for _, p := range parts[:len(parts)-1] {
		c := dir.children[p]
		if c == nil {
			return nil, "", &os.PathError{Op: op, Path: name, Err: syscall.ENOENT}
		}
		if !c.isDir {
			return nil, "", &os.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		dir = c
	}
	return dir, parts[len(parts)-1], nil
}

// lookup returns the node named name. m.mu must be held.
func (m *MemFS) lookup(op, name string) (*memNode, error) {
	dir, base, err := m.lookupDir(op, name)
	if err != nil {
		return nil, err
	}
	if base == "" {
		return m.root, nil
	}
	n := dir.children[base]
	if n == nil {
		return nil, &os.PathError{Op: op, Path: name, Err: syscall.ENOENT}
	}
	return n, nil
}

// link names n in dir as base, replacing (and unlinking) any previous entry.
// m.mu must be held.
func (m *MemFS) link(dir *memNode, base string, n *memNode) {
	if old := dir.children[base]; old != nil && old != n {
		m.unlink(old)
	}
	dir.children[base] = n
	if !n.isDir && !n.linked {
		n.linked = true
		if n.opens == 0 {
			m.used += int64(len(n.data))
		}
	}
	dir.modTime = m.now()
}

// unlink marks n and everything under it as no longer named in the current
// namespace, releasing the space of files that are not open. The caller
// removes the directory entry. m.mu must be held.
func (m *MemFS) unlink(n *memNode) {
	if n.isDir {
		for _, c := range n.children {
			m.unlink(c)
		}
		return
	}
	if n.linked {
		n.linked = false
		if n.opens == 0 {
			m.used -= int64(len(n.data))
		}
	}
}

// resize sets the length of a file's current bytes, zero-filling growth.
// It fails without changing anything if the disk is full or if growing
// would move a mapped file's bytes. m.mu must be held.
func (m *MemFS) resize(op, name string, n *memNode, size int64) error {
	if size < 0 {
		return &os.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	old := int64(len(n.data))
	delta := size - old
	if delta > 0 && n.counted() && (m.used < 0 || uint64(m.used)+uint64(delta) > m.capacity) {
		return &os.PathError{Op: op, Path: name, Err: syscall.ENOSPC}
	}
	if size > int64(cap(n.data)) {
		if n.maps > 0 {
			return &os.PathError{Op: op, Path: name,
				Err: fmt.Errorf("vfs: mem: cannot grow a mapped file from %d to %d bytes: %w", old, size, syscall.EINVAL)}
		}
		n.data = slices.Grow(n.data, int(size-old))
	}
	n.data = n.data[:size]
	if delta > 0 {
		clear(n.data[old:])
	}
	if n.counted() {
		m.used += delta
	}
	n.modTime = m.now()
	return nil
}

// Create creates or truncates the named file. As with O_TRUNC, truncating an
// existing file keeps its durable bytes until the next Sync.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupDir("open", name)
	if err != nil {
		return nil, err
	}
	n := dir.children[base]
	switch {
	case base == "" || n != nil && n.isDir:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case n != nil:
		if err := m.resize("open", name, n, 0); err != nil {
			return nil, err
		}
	default:
		n = &memNode{mode: 0o644, modTime: m.now()}
		m.link(dir, base, n)
	}
	n.opens++
	return &memFile{fs: m, n: n, name: name, write: true}, nil
}

// Open opens the named file or directory read-only.
func (m *MemFS) Open(name string) (File, error) {
	return m.open(name, false)
}

// OpenReadWrite opens an existing file for reading and writing.
func (m *MemFS) OpenReadWrite(name string) (File, error) {
	return m.open(name, true)
}

func (m *MemFS) open(name string, write bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if write && n.isDir {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	n.opens++
	return &memFile{fs: m, n: n, name: name, write: write}, nil
}

// Remove removes the named file or empty directory.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupDir("remove", name)
	if err != nil {
		return err
	}
	if base == "" {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	}
	n := dir.children[base]
	if n == nil {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOENT}
	}
	if n.isDir && len(n.children) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	m.unlink(n)
	delete(dir.children, base)
	dir.modTime = m.now()
	return nil
}

// RemoveAll removes name and everything under it. It returns nil if name
// does not exist. RemoveAll of the root empties it.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupDir("removeall", name)
	if err != nil {
		if IsNotExist(err) {
			return nil
		}
		return err
	}
	if base == "" {
		for k, c := range m.root.children {
			m.unlink(c)
			delete(m.root.children, k)
		}
		return nil
	}
	n := dir.children[base]
	if n == nil {
		return nil
	}
	m.unlink(n)
	delete(dir.children, base)
	dir.modTime = m.now()
	return nil
}

// Rename renames oldname to newname, replacing a file or an empty directory
// at newname, as rename(2) does.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	lerr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	odir, obase, err := m.lookupDir("rename", oldname)
	if err != nil {
		return lerr(err.(*os.PathError).Err)
	}
	ndir, nbase, err := m.lookupDir("rename", newname)
	if err != nil {
		return lerr(err.(*os.PathError).Err)
	}
	if obase == "" || nbase == "" {
		return lerr(syscall.EBUSY)
	}
	n := odir.children[obase]
	if n == nil {
		return lerr(syscall.ENOENT)
	}
	target := ndir.children[nbase]
	if target == n {
		return nil
	}
	if n.isDir {
		op, np := strings.Join(split(oldname), "/"), strings.Join(split(newname), "/")
		if strings.HasPrefix(np, op+"/") {
			return lerr(syscall.EINVAL)
		}
	}
	if target != nil {
		switch {
		case n.isDir && !target.isDir:
			return lerr(syscall.ENOTDIR)
		case !n.isDir && target.isDir:
			return lerr(syscall.EISDIR)
		case target.isDir && len(target.children) > 0:
			return lerr(syscall.ENOTEMPTY)
		}
	}
	delete(odir.children, obase)
	odir.modTime = m.now()
	// n stays linked throughout, so its space is not released.
	if target != nil {
		m.unlink(target)
	}
	ndir.children[nbase] = n
	ndir.modTime = m.now()
	return nil
}

// MkdirAll creates dir and any missing parents. The new entries become
// durable when their parent directories are synced.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.root
	for _, p := range split(dir) {
		c := d.children[p]
		if c == nil {
			c = newMemDir(m.now())
			c.mode = os.ModeDir | perm.Perm()
			m.link(d, p, c)
		} else if !c.isDir {
			return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		d = c
	}
	return nil
}

// ReadDir lists the current entries of dir, sorted.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("open", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, &os.PathError{Op: "readdirent", Path: dir, Err: syscall.ENOTDIR}
	}
	return slices.Sorted(maps.Keys(n.children)), nil
}

// Stat describes the named file or directory.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(name), nil
}

// SyncDir makes the current entries of dir durable: after it returns,
// CrashClone sees exactly the entries dir has now.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("open", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return &os.PathError{Op: "sync", Path: dir, Err: syscall.ENOTDIR}
	}
	n.durable = maps.Clone(n.children)
	return nil
}

// DiskUsage reports the capacity set with SetCapacity and the space left:
// Free is the capacity less the sizes of all files (including removed files
// that are still open).
func (m *MemFS) DiskUsage(path string) (DiskUsage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.lookup("statfs", path); err != nil {
		return DiskUsage{}, err
	}
	var free uint64
	if m.used >= 0 && uint64(m.used) < m.capacity {
		free = m.capacity - uint64(m.used)
	}
	return DiskUsage{Total: m.capacity, Free: free}, nil
}

// Lock takes an exclusive lock on name within this MemFS, creating the file
// and its parents if needed. A second Lock of the same name fails with an
// error wrapping syscall.EWOULDBLOCK until the first is closed. Locks are not
// carried over by CrashClone.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	key := strings.Join(split(name), "/")
	if err := m.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupDir("open", name)
	if err != nil {
		return nil, err
	}
	n := dir.children[base]
	switch {
	case base == "" || n != nil && n.isDir:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case m.locks[key]:
		return nil, fmt.Errorf("vfs: lock %s: already held: %w", name, syscall.EWOULDBLOCK)
	case n == nil:
		m.link(dir, base, &memNode{mode: 0o644, modTime: m.now()})
	}
	m.locks[key] = true
	return &memLock{fs: m, key: key, name: name}, nil
}

type memLock struct {
	fs     *MemFS
	key    string
	name   string
	closed bool // guarded by fs.mu
}

func (l *memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.closed {
		return &os.PathError{Op: "close", Path: l.name, Err: os.ErrClosed}
	}
	l.closed = true
	delete(l.fs.locks, l.key)
	return nil
}

// CrashClone returns a new, independent MemFS holding what a disk would hold
// after a power loss now: the entries of every directory as of its last
// SyncDir, and the bytes of every file as of its last Sync. Capacity and
// clock are copied; locks and open files are not.
func (m *MemFS) CrashClone() *MemFS {
	return m.crashClone(nil)
}

// CrashCloneKeep is CrashClone, except that data written since a file's last
// Sync may have partly reached the disk, as in a torn write: each
// CrashPageSize page that differs from the durable bytes keeps its current
// contents with probability 1/2, and a file whose size changed has either
// its durable or its current size. Directory entries follow SyncDir as in
// CrashClone. The outcome depends only on rng and the state.
func (m *MemFS) CrashCloneKeep(rng *rand.Rand) *MemFS {
	return m.crashClone(rng)
}

func (m *MemFS) crashClone(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MemFS{
		capacity: m.capacity,
		now:      m.now,
		locks:    make(map[string]bool),
	}
	seen := make(map[*memNode]*memNode)
	// Directories are cloned in a fixed order so that rng is consumed
	// deterministically.
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if d, ok := seen[n]; ok {
			if n.isDir {
				// A directory reachable twice (possible only when a rename
				// was synced in one directory but not the other) keeps its
				// first name.
				return nil
			}
			return d // a file reachable twice acts as a hard link
		}
		d := &memNode{isDir: n.isDir, mode: n.mode, modTime: n.modTime}
		seen[n] = d
		if !n.isDir {
			d.data = tornBytes(n.synced, n.data, rng)
			d.synced = slices.Clone(d.data)
			d.linked = true
			c.used += int64(len(d.data))
			return d
		}
		d.children = make(map[string]*memNode, len(n.durable))
		for _, name := range slices.Sorted(maps.Keys(n.durable)) {
			if cd := clone(n.durable[name]); cd != nil {
				d.children[name] = cd
			}
		}
		d.durable = maps.Clone(d.children)
		return d
	}
	c.root = clone(m.root)
	return c
}

// tornBytes returns what a file holds after a crash: a copy of synced, or
// if rng is not nil, synced with some pages of cur mixed in.
func tornBytes(synced, cur []byte, rng *rand.Rand) []byte {
	if rng == nil || slices.Equal(synced, cur) {
		return slices.Clone(synced)
	}
	size := len(synced)
	if len(cur) != size && rng.IntN(2) == 1 {
		size = len(cur)
	}
	out := make([]byte, size)
	copy(out, synced)
	for lo := 0; lo < size; lo += CrashPageSize {
		hi := min(lo+CrashPageSize, size)
		page := out[lo:hi]
		var next []byte
		if lo < len(cur) {
			next = cur[lo:min(hi, len(cur))]
		}
		// Unwritten bytes past the current end read as zeros.
		same := slices.Equal(page[:len(next)], next) && isZero(page[len(next):])
		if !same && rng.IntN(2) == 1 {
			clear(page[copy(page, next):])
		}
	}
	return out
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// memFileInfo is a snapshot of a node's metadata.
type memFileInfo struct {
	name    string
	size    int64
	mode    os.FileMode
	modTime time.Time
}

func (n *memNode) info(name string) memFileInfo {
	base := "/"
	if parts := split(name); len(parts) > 0 {
		base = parts[len(parts)-1]
	}
	fi := memFileInfo{name: base, mode: n.mode, modTime: n.modTime}
	if !n.isDir {
		fi.size = int64(len(n.data))
	}
	return fi
}

func (fi memFileInfo) Name() string       { return fi.name }
func (fi memFileInfo) Size() int64        { return fi.size }
func (fi memFileInfo) Mode() os.FileMode  { return fi.mode }
func (fi memFileInfo) ModTime() time.Time { return fi.modTime }
func (fi memFileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi memFileInfo) Sys() any           { return nil }

// memFile is an open handle on a node. Its fields other than fs, n, name
// and write are guarded by fs.mu.
type memFile struct {
	fs     *MemFS
	n      *memNode
	name   string
	write  bool
	closed bool
	maps   int // live mappings made through this handle
}

var _ File = (*memFile)(nil)

// check returns an error if f cannot serve op. fs.mu must be held.
func (f *memFile) check(op string, write bool) error {
	switch {
	case f.closed:
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	case f.n.isDir:
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EISDIR}
	case write && !f.write:
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		if err := f.fs.resize("write", f.name, f.n, end); err != nil {
			return 0, err
		}
	}
	copy(f.n.data[off:], p)
	f.n.modTime = f.fs.now()
	return len(p), nil
}

// Sync makes the file's current bytes durable. On a directory it acts as
// SyncDir.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "sync", Path: f.name, Err: os.ErrClosed}
	}
	if f.n.isDir {
		f.n.durable = maps.Clone(f.n.children)
		return nil
	}
	f.n.synced = append(f.n.synced[:0], f.n.data...)
	return nil
}

// SyncRange makes [off, off+n) durable, and the file's current size. Bytes
// outside the range keep their durable state (zeros where never synced).
func (f *memFile) SyncRange(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "sync", Path: f.name, Err: os.ErrClosed}
	}
	if f.n.isDir || off < 0 || n < 0 {
		return &os.PathError{Op: "sync", Path: f.name, Err: syscall.EINVAL}
	}
	size := int64(len(f.n.data))
	if int64(len(f.n.synced)) < size {
		f.n.synced = append(f.n.synced, make([]byte, size-int64(len(f.n.synced)))...)
	}
	f.n.synced = f.n.synced[:size]
	end := min(off+n, size)
	if off < end {
		copy(f.n.synced[off:end], f.n.data[off:end])
	}
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	return f.fs.resize("truncate", f.name, f.n, size)
}

func (f *memFile) Allocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("fallocate", true); err != nil {
		return err
	}
	if size < 0 {
		return &os.PathError{Op: "fallocate", Path: f.name, Err: syscall.EINVAL}
	}
	if size <= int64(len(f.n.data)) {
		return nil
	}
	return f.fs.resize("fallocate", f.name, f.n, size)
}

// Map returns the file's first size bytes, aliasing its current contents.
// Unlike mmap(2), it fails if the file is shorter than size.
func (f *memFile) Map(size int) ([]byte, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("mmap", false); err != nil {
		return nil, err
	}
	switch {
	case size < 0:
		return nil, &os.PathError{Op: "mmap", Path: f.name, Err: syscall.EINVAL}
	case size == 0:
		return nil, nil
	case !f.write:
		return nil, &os.PathError{Op: "mmap", Path: f.name, Err: syscall.EACCES}
	case size > len(f.n.data):
		return nil, &os.PathError{Op: "mmap", Path: f.name,
			Err: fmt.Errorf("vfs: mem: map %d bytes of a %d-byte file: %w", size, len(f.n.data), syscall.EINVAL)}
	}
	f.maps++
	f.n.maps++
	return f.n.data[:size:size], nil
}

func (f *memFile) Unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return nil // Close released the mapping
	}
	if f.maps == 0 {
		return &os.PathError{Op: "munmap", Path: f.name, Err: syscall.EINVAL}
	}
	f.maps--
	f.n.maps--
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return nil, &os.PathError{Op: "stat", Path: f.name, Err: os.ErrClosed}
	}
	return f.n.info(f.name), nil
}

func (f *memFile) Name() string { return f.name }

// Close releases the handle and any mappings made through it. The space of
// a removed file is released when its last handle is closed.
func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.closed = true
	f.n.maps -= f.maps
	f.maps = 0
	f.n.opens--
	if !f.n.isDir && !f.n.linked && f.n.opens == 0 {
		f.fs.used -= int64(len(f.n.data))
	}
	return nil
}
