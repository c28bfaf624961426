package segment

import (
	"errors"
	"fmt"
	"sync"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// Errors returned by Open and OpenQueue.
var (
	// ErrBadSize: a segment file that is not the last one has the wrong size.
	ErrBadSize = errors.New("segment: file has the wrong size")
	// ErrExists: Create found a segment file of that name already (Create,
	// Queue.Roll); segments are never overwritten.
	ErrExists = errors.New("segment: file already exists")
)

// QueueOptions configure a Queue.
type QueueOptions struct {
	// SegmentSize is the fixed size of every segment, in bytes.
	SegmentSize int
	// Preallocate creates the next segment in the background ahead of need.
	Preallocate bool
	// Warm pre-faults new segments so appends are memory copies.
	Warm bool
}

// Queue is an ordered list of contiguous segments.
type Queue struct {
	fs   vfs.FS
	dir  string
	opts QueueOptions

	mu    sync.RWMutex
	files []*File

	// next is a segment created ahead of need (Preallocate). nextMu is
	// held while the allocator creates it.
	nextMu  sync.Mutex
	next    *File
	allocCh chan int64
	wg      sync.WaitGroup
	closed  bool
}

// OpenQueue loads the segments in dir (creating dir). Segments sorted by
// name must be contiguous and of the configured size; an empty last segment
// (a crash between creating and allocating it) is deleted, any other
// wrongly sized one aborts the load with an error wrapping ErrBadSize.
func OpenQueue(fs vfs.FS, dir string, opts QueueOptions) (*Queue, error) {
	if opts.SegmentSize <= 0 {
		return nil, fmt.Errorf("segment: queue %s: segment size %d must be positive", dir, opts.SegmentSize)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("segment: mkdir %s: %w", dir, err)
	}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("segment: list %s: %w", dir, err)
	}
	q := &Queue{fs: fs, dir: dir, opts: opts}
	var bases []int64
	for _, n := range names {
		if b, ok := ParseName(n); ok {
			bases = append(bases, b)
		}
	}
	for i, b := range bases {
		path := dir + "/" + FileName(b)
		f, err := Open(fs, path, b, opts.SegmentSize)
		if errors.Is(err, ErrBadSize) && i == len(bases)-1 {
			if st, serr := fs.Stat(path); serr == nil && st.Size() == 0 {
				// Created but never allocated: nothing was written.
				if rerr := fs.Remove(path); rerr != nil {
					q.closeFiles()
					return nil, fmt.Errorf("segment: remove partial %s: %w", path, rerr)
				}
				continue
			}
		}
		if err != nil {
			q.closeFiles()
			return nil, err
		}
		if n := len(q.files); n > 0 && q.files[n-1].End() != b {
			err := fmt.Errorf("segment: %s does not follow %s: gap or overlap", path, q.files[n-1].Path())
			f.Close()
			q.closeFiles()
			return nil, err
		}
		q.files = append(q.files, f)
	}
	if opts.Preallocate {
		q.allocCh = make(chan int64, 1)
		q.wg.Add(1)
		go q.allocLoop()
	}
	return q, nil
}

func (q *Queue) closeFiles() {
	for _, f := range q.files {
		f.Close()
	}
	q.files = nil
}

// allocLoop creates segments ahead of need, one at a time.
func (q *Queue) allocLoop() {
	defer q.wg.Done()
	for base := range q.allocCh {
		// nextMu is held while creating, so Roll waits for a segment in
		// the making instead of creating the same file beside it.
		q.nextMu.Lock()
		if q.closed || (q.next != nil && q.next.Base() == base) {
			q.nextMu.Unlock()
			continue
		}
		if last := q.Last(); last != nil && last.End() != base {
			q.nextMu.Unlock()
			continue // stale request
		}
		f, err := Create(q.fs, q.dir, base, q.opts.SegmentSize)
		if err == nil && q.opts.Warm {
			if err = f.Warm(); err != nil {
				f.Remove()
				f = nil
			}
		}
		if q.closed {
			q.nextMu.Unlock()
			if f != nil {
				f.Remove()
			}
			continue
		}
		q.next = f
		q.nextMu.Unlock()
	}
}

// Dir is the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// SegmentSize is the size of each segment.
func (q *Queue) SegmentSize() int { return q.opts.SegmentSize }

// Segments returns a snapshot of the segment list.
func (q *Queue) Segments() []*File {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return append([]*File(nil), q.files...)
}

// Last returns the newest segment, or nil.
func (q *Queue) Last() *File {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.files) == 0 {
		return nil
	}
	return q.files[len(q.files)-1]
}

// First returns the oldest segment, or nil.
func (q *Queue) First() *File {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.files) == 0 {
		return nil
	}
	return q.files[0]
}

// MinOffset is the logical offset of the first byte held, or 0.
func (q *Queue) MinOffset() int64 {
	if f := q.First(); f != nil {
		return f.Base()
	}
	return 0
}

// WriteOffset is the logical offset just past the last written byte.
func (q *Queue) WriteOffset() int64 {
	if f := q.Last(); f != nil {
		return f.Base() + int64(f.Wrote())
	}
	return 0
}

// Roll appends a new segment starting at base, using the preallocated one
// when it matches, and asks for the one after it. Writer only.
func (q *Queue) Roll(base int64) (*File, error) {
	var f *File
	q.nextMu.Lock()
	if q.next != nil && q.next.Base() == base {
		f, q.next = q.next, nil
	} else if q.next != nil {
		q.next.Remove()
		q.next = nil
	}
	if f == nil {
		var err error
		if f, err = Create(q.fs, q.dir, base, q.opts.SegmentSize); err != nil {
			q.nextMu.Unlock()
			return nil, err
		}
	}
	if err := q.fs.SyncDir(q.dir); err != nil {
		q.nextMu.Unlock()
		f.Remove()
		return nil, fmt.Errorf("segment: sync dir %s: %w", q.dir, err)
	}
	q.mu.Lock()
	q.files = append(q.files, f)
	q.mu.Unlock()
	q.nextMu.Unlock()
	if q.opts.Preallocate {
		select {
		case q.allocCh <- f.End():
		default:
		}
	}
	return f, nil
}

// Prepare asks the background allocator to create the segment after the
// current last one (Preallocate only).
func (q *Queue) Prepare() {
	if !q.opts.Preallocate {
		return
	}
	var base int64
	if f := q.Last(); f != nil {
		base = f.End()
	}
	select {
	case q.allocCh <- base:
	default:
	}
}

// View calls fn with the segment holding offset while holding the read lock,
// so the mapping stays valid during fn. It returns false when no segment
// holds offset.
func (q *Queue) View(offset int64, fn func(f *File)) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	f := q.find(offset)
	if f == nil {
		return false
	}
	fn(f)
	return true
}

func (q *Queue) find(offset int64) *File {
	if len(q.files) == 0 || offset < q.files[0].Base() {
		return nil
	}
	i := int((offset - q.files[0].Base()) / int64(q.opts.SegmentSize))
	if i >= len(q.files) {
		return nil
	}
	return q.files[i]
}

// Find returns the segment holding offset, or nil. The caller must not use
// the mapping after the segment may have been removed; use View for that.
func (q *Queue) Find(offset int64) *File {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.find(offset)
}

// TruncateFrom drops everything at or after offset: segments starting at or
// after it are removed, and the segment holding it gets its write and flush
// positions moved back. Bytes after offset are left as they are; callers
// that need them gone clear them.
func (q *Queue) TruncateFrom(offset int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		if f.Base() < offset || (f.Base() == offset && len(q.files) == 1) {
			break
		}
		if err := f.Remove(); err != nil {
			return err
		}
		q.files = q.files[:len(q.files)-1]
	}
	if len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		rel := int(min(offset-f.Base(), int64(f.Size())))
		f.SetWrote(rel)
		if f.Flushed() > rel {
			f.SetFlushed(rel)
		}
	}
	return q.fs.SyncDir(q.dir)
}

// RemoveFirst removes the oldest segment. It refuses to remove the last one.
func (q *Queue) RemoveFirst() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.files) <= 1 {
		return nil
	}
	f := q.files[0]
	q.files = q.files[1:]
	return f.Remove()
}

// Reset removes every segment and starts the queue empty at nothing.
func (q *Queue) Reset() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range q.files {
		if err := f.Remove(); err != nil {
			return err
		}
	}
	q.files = nil
	return nil
}

// Sync syncs every segment with unflushed writes, oldest first, and returns
// the logical offset known durable.
func (q *Queue) Sync() (int64, error) {
	segs := q.Segments()
	var durable int64
	for _, f := range segs {
		if f.Wrote() > f.Flushed() {
			if _, err := f.Sync(); err != nil {
				return durable, err
			}
		}
		durable = f.Base() + int64(f.Flushed())
	}
	return durable, nil
}

// Close stops the allocator and closes all segments (a preallocated, unused
// segment is removed).
func (q *Queue) Close() error {
	if q.allocCh != nil {
		q.nextMu.Lock()
		q.closed = true
		q.nextMu.Unlock()
		close(q.allocCh)
		q.wg.Wait()
		if q.next != nil {
			q.next.Remove()
			q.next = nil
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var first error
	for _, f := range q.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	q.files = nil
	return first
}
