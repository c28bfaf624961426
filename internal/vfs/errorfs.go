package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// Op is a kind of file system operation, as seen by an Injector.
type Op uint8

//go:generate go run golang.org/x/tools/cmd/stringer@v0.52.0 -type=Op -trimprefix=Op

// Operations an ErrorFS passes to its Injector. FS methods and File methods
// of the same name share an Op (OpStat covers FS.Stat and File.Stat).
const (
	OpCreate Op = iota + 1
	OpOpen
	OpOpenReadWrite
	OpRemove
	OpRemoveAll
	OpRename
	OpMkdirAll
	OpReadDir
	OpStat
	OpSyncDir
	OpDiskUsage
	OpLock
	OpReadAt
	OpWriteAt
	OpSync
	OpTruncate
	OpAllocate
	OpMap
	OpUnmap
	OpClose

	numOps = iota + 1 // size of tables indexed by Op
)

// Injector decides whether an operation fails. It is called before the
// operation runs, with the path it names (for File methods, the File's
// Name; for Rename, the old name); a nil result lets the operation through.
// Injectors must be safe for concurrent use.
//
// For OpWriteAt, returning a *ShortWriteError makes the write apply its
// first N bytes and then fail.
type Injector interface {
	MaybeError(op Op, path string) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op, path string) error

// MaybeError calls fn.
func (fn InjectorFunc) MaybeError(op Op, path string) error { return fn(op, path) }

// ShortWriteError, returned by an Injector for OpWriteAt, makes the write
// store only its first N bytes and return N with an error wrapping Err
// (io.ErrShortWrite when Err is nil). For other operations it fails them
// like any error.
type ShortWriteError struct {
	N   int
	Err error
}

func (e *ShortWriteError) Error() string {
	return fmt.Sprintf("vfs: injected short write of %d bytes: %v", e.N, e.Unwrap())
}

// Unwrap returns Err, or io.ErrShortWrite if Err is nil.
func (e *ShortWriteError) Unwrap() error {
	if e.Err == nil {
		return io.ErrShortWrite
	}
	return e.Err
}

// ErrorFS wraps an FS and fails the operations its Injector picks, for fault
// injection tests in the manner of pebble's errorfs. It counts every
// operation it sees and can be switched off and on while in use.
//
// Writes through a slice returned by Map go straight to memory and cannot
// be intercepted or counted; inject at OpMap or OpSync instead.
//
// Injected errors are wrapped in *os.PathError (*os.LinkError for Rename).
// Close and Unmap always run on the wrapped file, so an injected failure
// does not leak it; the injected error is returned in place of theirs.
//
// An ErrorFS is safe for concurrent use if the wrapped FS is.
type ErrorFS struct {
	fs      FS
	inj     Injector
	enabled atomic.Bool
	counts  [numOps]atomic.Int64
}

var _ FS = (*ErrorFS)(nil)

// Inject wraps fs, consulting inj before each operation. A nil inj
// never fails anything. The ErrorFS starts enabled.
func Inject(fs FS, inj Injector) *ErrorFS {
	e := &ErrorFS{fs: fs, inj: inj}
	e.enabled.Store(true)
	return e
}

// Enable makes e consult its Injector again.
func (e *ErrorFS) Enable() { e.enabled.Store(true) }

// Disable stops e from consulting its Injector: every operation passes
// through, and injectors such as FailNth do not see it. Operations are
// still counted.
func (e *ErrorFS) Disable() { e.enabled.Store(false) }

// Enabled reports whether e consults its Injector.
func (e *ErrorFS) Enabled() bool { return e.enabled.Load() }

// Count returns how many operations of kind op e has seen, failed or not,
// whether enabled or not.
func (e *ErrorFS) Count(op Op) int64 {
	if op >= numOps {
		return 0
	}
	return e.counts[op].Load()
}

// Unwrap returns the wrapped FS.
func (e *ErrorFS) Unwrap() FS { return e.fs }

// maybeError counts op and asks the injector about it.
func (e *ErrorFS) maybeError(op Op, path string) error {
	e.counts[op].Add(1)
	if e.inj == nil || !e.enabled.Load() {
		return nil
	}
	return e.inj.MaybeError(op, path)
}

func (e *ErrorFS) check(op Op, path string) error {
	if err := e.maybeError(op, path); err != nil {
		return &os.PathError{Op: op.String(), Path: path, Err: err}
	}
	return nil
}

func (e *ErrorFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &errorFile{f: f, e: e}, nil
}

// Create implements FS.
func (e *ErrorFS) Create(name string) (File, error) {
	if err := e.check(OpCreate, name); err != nil {
		return nil, err
	}
	return e.wrap(e.fs.Create(name))
}

// Open implements FS.
func (e *ErrorFS) Open(name string) (File, error) {
	if err := e.check(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.fs.Open(name))
}

// OpenReadWrite implements FS.
func (e *ErrorFS) OpenReadWrite(name string) (File, error) {
	if err := e.check(OpOpenReadWrite, name); err != nil {
		return nil, err
	}
	return e.wrap(e.fs.OpenReadWrite(name))
}

// Remove implements FS.
func (e *ErrorFS) Remove(name string) error {
	if err := e.check(OpRemove, name); err != nil {
		return err
	}
	return e.fs.Remove(name)
}

// RemoveAll implements FS.
func (e *ErrorFS) RemoveAll(name string) error {
	if err := e.check(OpRemoveAll, name); err != nil {
		return err
	}
	return e.fs.RemoveAll(name)
}

// Rename implements FS. The Injector sees oldname.
func (e *ErrorFS) Rename(oldname, newname string) error {
	if err := e.maybeError(OpRename, oldname); err != nil {
		return &os.LinkError{Op: OpRename.String(), Old: oldname, New: newname, Err: err}
	}
	return e.fs.Rename(oldname, newname)
}

// MkdirAll implements FS.
func (e *ErrorFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.check(OpMkdirAll, dir); err != nil {
		return err
	}
	return e.fs.MkdirAll(dir, perm)
}

// ReadDir implements FS.
func (e *ErrorFS) ReadDir(dir string) ([]string, error) {
	if err := e.check(OpReadDir, dir); err != nil {
		return nil, err
	}
	return e.fs.ReadDir(dir)
}

// Stat implements FS.
func (e *ErrorFS) Stat(name string) (os.FileInfo, error) {
	if err := e.check(OpStat, name); err != nil {
		return nil, err
	}
	return e.fs.Stat(name)
}

// SyncDir implements FS.
func (e *ErrorFS) SyncDir(dir string) error {
	if err := e.check(OpSyncDir, dir); err != nil {
		return err
	}
	return e.fs.SyncDir(dir)
}

// DiskUsage implements FS.
func (e *ErrorFS) DiskUsage(path string) (DiskUsage, error) {
	if err := e.check(OpDiskUsage, path); err != nil {
		return DiskUsage{}, err
	}
	return e.fs.DiskUsage(path)
}

// Lock implements FS.
func (e *ErrorFS) Lock(name string) (io.Closer, error) {
	if err := e.check(OpLock, name); err != nil {
		return nil, err
	}
	return e.fs.Lock(name)
}

type errorFile struct {
	f File
	e *ErrorFS
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.e.check(OpReadAt, f.f.Name()); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	err := f.e.maybeError(OpWriteAt, f.f.Name())
	if err == nil {
		return f.f.WriteAt(p, off)
	}
	var short *ShortWriteError
	if errors.As(err, &short) {
		k := min(max(short.N, 0), len(p))
		if k > 0 {
			if n, werr := f.f.WriteAt(p[:k], off); werr != nil {
				return n, werr
			}
		}
		return k, &os.PathError{Op: OpWriteAt.String(), Path: f.f.Name(), Err: err}
	}
	return 0, &os.PathError{Op: OpWriteAt.String(), Path: f.f.Name(), Err: err}
}

func (f *errorFile) Sync() error {
	if err := f.e.check(OpSync, f.f.Name()); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *errorFile) SyncRange(off, n int64) error {
	if err := f.e.check(OpSync, f.f.Name()); err != nil {
		return err
	}
	return f.f.SyncRange(off, n)
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.e.check(OpTruncate, f.f.Name()); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *errorFile) Allocate(size int64) error {
	if err := f.e.check(OpAllocate, f.f.Name()); err != nil {
		return err
	}
	return f.f.Allocate(size)
}

func (f *errorFile) Map(size int) ([]byte, error) {
	if err := f.e.check(OpMap, f.f.Name()); err != nil {
		return nil, err
	}
	return f.f.Map(size)
}

func (f *errorFile) Unmap(b []byte) error {
	ierr := f.e.check(OpUnmap, f.f.Name())
	if err := f.f.Unmap(b); err != nil {
		return err
	}
	return ierr
}

func (f *errorFile) Stat() (os.FileInfo, error) {
	if err := f.e.check(OpStat, f.f.Name()); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

func (f *errorFile) Name() string { return f.f.Name() }

func (f *errorFile) Close() error {
	ierr := f.e.check(OpClose, f.f.Name())
	if err := f.f.Close(); err != nil {
		return err
	}
	return ierr
}

// Nth is an Injector that fails operations of one kind by their sequence
// number among those it is asked about (counting from 1). Build one with
// FailNth or FailFromNth.
type Nth struct {
	op     Op
	n      int64
	err    error
	sticky bool
	seen   atomic.Int64
}

// FailNth returns an Injector that fails the nth operation of kind op with
// err, and no other.
func FailNth(op Op, n int64, err error) *Nth {
	return &Nth{op: op, n: n, err: err}
}

// FailFromNth returns an Injector that fails the nth operation of kind op
// and every later one with err, as a full disk would.
func FailFromNth(op Op, n int64, err error) *Nth {
	return &Nth{op: op, n: n, err: err, sticky: true}
}

// MaybeError implements Injector.
func (i *Nth) MaybeError(op Op, _ string) error {
	if op != i.op {
		return nil
	}
	k := i.seen.Add(1)
	if k == i.n || i.sticky && k > i.n {
		return i.err
	}
	return nil
}

// Seen returns how many operations of its kind i has been asked about.
func (i *Nth) Seen() int64 { return i.seen.Load() }

// FailPath returns an Injector that fails, with err, every operation whose
// path satisfies match and whose kind is one of ops (any kind if ops is
// empty).
func FailPath(match func(path string) bool, err error, ops ...Op) InjectorFunc {
	var kinds [numOps]bool
	for _, op := range ops {
		kinds[op] = true
	}
	return func(op Op, path string) error {
		if (len(ops) == 0 || kinds[op]) && match(path) {
			return err
		}
		return nil
	}
}

// Chain returns an Injector that asks each of injs in turn and returns the
// first error; later injectors do not see an operation an earlier one
// failed.
func Chain(injs ...Injector) InjectorFunc {
	return func(op Op, path string) error {
		for _, inj := range injs {
			if err := inj.MaybeError(op, path); err != nil {
				return err
			}
		}
		return nil
	}
}
