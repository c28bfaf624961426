package segment

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// Errors returned by Open and OpenQueue.
var (
	// ErrBadSize: a segment file that is not the last one has the wrong size,
	// or its name is not a multiple of the segment size (Open, OpenQueue).
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

	// syncMu is held by Sync for its whole pass and by whatever closes or
	// removes segments, so a segment is never closed under its fdatasync.
	// Lock order: syncMu before nextMu before mu.
	syncMu sync.Mutex

	// next is a segment created ahead of need (Preallocate). nextMu is
	// held while the allocator creates it, by Roll and Prepare, and guards
	// next, closed and sends on allocCh. Lock order: nextMu before mu.
	nextMu  sync.Mutex
	next    *File
	allocCh chan int64
	wg      sync.WaitGroup
	closed  bool
}

// OpenQueue loads the segments in dir (creating dir). Segments sorted by
// name must be contiguous, named by a multiple of the segment size and of
// the configured size; an empty last segment (a crash between creating and
// allocating it) is deleted, any other wrongly sized or named one aborts the
// load with an error wrapping ErrBadSize. Names that are not 20 digits are
// ignored.
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
		if b%int64(opts.SegmentSize) != 0 {
			// Every base is a multiple of the size (Roll enforces it); a
			// file that is not cannot be placed, and reading it would
			// misalign every unit and record.
			q.closeFiles()
			return nil, fmt.Errorf("segment: %s starts at %d, not a multiple of the segment size %d: %w", path, b, opts.SegmentSize, ErrBadSize)
		}
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

// allocLoop creates segments ahead of need, one at a time. It only ever
// creates the segment that follows the current last one, never over an
// existing file (Create refuses), and drops a segment it made earlier that
// no longer follows the last one (after a truncation) before making another,
// so no file is left behind untracked.
func (q *Queue) allocLoop() {
	defer q.wg.Done()
	for base := range q.allocCh {
		// nextMu is held while creating, so Roll waits for a segment in
		// the making instead of creating the same file beside it, and
		// Close cannot run until it is done.
		q.nextMu.Lock()
		if q.closed || (q.next != nil && q.next.Base() == base) {
			q.nextMu.Unlock()
			continue
		}
		if last := q.Last(); last != nil && last.End() != base {
			q.nextMu.Unlock()
			continue // stale request
		}
		if q.next != nil {
			q.next.Remove()
			q.next = nil
		}
		f, err := Create(q.fs, q.dir, base, q.opts.SegmentSize)
		if err == nil && q.opts.Warm {
			if err = f.Warm(); err != nil {
				f.Remove()
				f = nil
			}
		}
		q.next = f // nil when creation failed: Roll will try itself
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
// when it matches, and asks for the one after it. base must be a multiple of
// the segment size and, unless the queue is empty, the end of the last
// segment. On failure (for example ENOSPC) the queue is unchanged. Writer
// only.
func (q *Queue) Roll(base int64) (*File, error) {
	var f *File
	q.nextMu.Lock()
	defer q.nextMu.Unlock()
	if q.closed {
		return nil, fmt.Errorf("segment: roll %s at %d: queue closed", q.dir, base)
	}
	if base < 0 || base%int64(q.opts.SegmentSize) != 0 {
		return nil, fmt.Errorf("segment: roll %s at %d: not a multiple of the segment size %d", q.dir, base, q.opts.SegmentSize)
	}
	if last := q.Last(); last != nil && last.End() != base {
		return nil, fmt.Errorf("segment: roll %s at %d: the last segment ends at %d", q.dir, base, last.End())
	}
	if q.next != nil && q.next.Base() == base {
		f, q.next = q.next, nil
	} else if q.next != nil {
		q.next.Remove()
		q.next = nil
	}
	if f == nil {
		var err error
		if f, err = Create(q.fs, q.dir, base, q.opts.SegmentSize); err != nil {
			return nil, err
		}
	}
	if err := q.fs.SyncDir(q.dir); err != nil {
		f.Remove()
		return nil, fmt.Errorf("segment: sync dir %s: %w", q.dir, err)
	}
	q.mu.Lock()
	q.files = append(q.files, f)
	q.mu.Unlock()
	q.requestLocked(f.End())
	return f, nil
}

// requestLocked asks the allocator for the segment at base without
// waiting. A request still queued is replaced: it is older, so stale, and
// keeping it would drop this one. q.nextMu must be held, which keeps Close
// from closing allocCh under the send.
func (q *Queue) requestLocked(base int64) {
	if q.allocCh == nil || q.closed {
		return
	}
	for {
		select {
		case q.allocCh <- base:
			return
		default:
		}
		select {
		case <-q.allocCh:
		default:
		}
	}
}

// Prepare asks the background allocator to create the segment after the
// current last one (Preallocate only). It may be called from any goroutine;
// it waits while the allocator is creating a segment.
func (q *Queue) Prepare() {
	if !q.opts.Preallocate {
		return
	}
	q.nextMu.Lock()
	defer q.nextMu.Unlock()
	var base int64
	if f := q.Last(); f != nil {
		base = f.End()
	}
	q.requestLocked(base)
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
// after it are removed (the first one is kept, emptied, when offset is its
// start), and the segment holding it gets its write and flush positions
// moved back; they never move forward. Bytes after offset are left as they
// are; callers that need them gone clear them (and sync them with
// File.SyncRange). A preallocated segment that no longer follows the last
// one is removed too: left on disk it would make the queue fail to load.
func (q *Queue) TruncateFrom(offset int64) error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	q.nextMu.Lock()
	defer q.nextMu.Unlock()
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
		if f.Wrote() > rel {
			f.SetWrote(rel)
		}
		if f.Flushed() > rel {
			f.SetFlushed(rel)
		}
	}
	if q.next != nil && (len(q.files) == 0 || q.files[len(q.files)-1].End() != q.next.Base()) {
		if err := q.next.Remove(); err != nil {
			return err
		}
		q.next = nil
	}
	return q.fs.SyncDir(q.dir)
}

// RemoveFirst removes the oldest segment. It refuses to remove the last one.
func (q *Queue) RemoveFirst() error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.files) <= 1 {
		return nil
	}
	f := q.files[0]
	q.files = q.files[1:]
	return f.Remove()
}

// Reset removes every segment (and a preallocated one) and starts the queue
// empty at nothing.
func (q *Queue) Reset() error {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	q.nextMu.Lock()
	defer q.nextMu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next != nil {
		if err := q.next.Remove(); err != nil {
			return err
		}
		q.next = nil
	}
	for _, f := range q.files {
		if err := f.Remove(); err != nil {
			return err
		}
	}
	q.files = nil
	return nil
}

// Sync syncs every segment with unflushed writes, oldest first, and returns
// the logical offset known durable: the end of the longest prefix of the
// queue that is durable. (A segment filled up while the sync was under way
// may have a tail the sync missed; bytes of later segments are not reported
// durable before it is.) Segments are not closed or removed meanwhile
// (syncMu). One flusher at a time; it may run concurrently with the writer.
func (q *Queue) Sync() (int64, error) {
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	for _, f := range q.Segments() {
		if f.Wrote() <= f.Flushed() {
			continue
		}
		if _, err := f.Sync(); err != nil && q.holds(f) {
			return q.durable(), err
		}
	}
	return q.durable(), nil
}

// holds reports whether f is still one of the queue's segments.
func (q *Queue) holds(f *File) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return slices.Contains(q.files, f)
}

// durable is the end of the longest durable prefix of the queue, or 0.
func (q *Queue) durable() int64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	var d int64
	for _, f := range q.files {
		d = f.Base() + int64(f.Flushed())
		if f.Flushed() < f.Size() {
			break
		}
	}
	return d
}

// DurableOffset is what Sync last reported: the end of the longest durable
// prefix of the queue, or 0 when it is empty.
func (q *Queue) DurableOffset() int64 { return q.durable() }

// Close stops the allocator and closes all segments (a preallocated, unused
// segment is removed). Calling it again does nothing.
func (q *Queue) Close() error {
	q.nextMu.Lock()
	if q.closed {
		q.nextMu.Unlock()
		return nil
	}
	q.closed = true
	q.nextMu.Unlock()
	if q.allocCh != nil {
		close(q.allocCh)
		q.wg.Wait()
		if q.next != nil {
			q.next.Remove()
			q.next = nil
		}
	}
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
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
