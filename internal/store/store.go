package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/store/commitlog"
	"github.com/quiver-mq/quiver/internal/store/consumequeue"
	"github.com/quiver-mq/quiver/internal/store/index"
	"github.com/quiver-mq/quiver/internal/store/segment"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// Errors returned by the Store.
var (
	// ErrClosed: the store is closed (Put, Get).
	ErrClosed = errors.New("store: closed")
	// ErrDiskFull: the disk is above diskMaxUsedSpaceRatio or out of space
	// (Put). Nothing was written.
	ErrDiskFull = errors.New("store: disk full")
	// ErrNotWritable: an earlier flush failed; the store refuses appends
	// until restarted (Put).
	ErrNotWritable = errors.New("store: not writable after a flush failure")
	// ErrFlushTimeout: the message is stored but no sync covered it within
	// syncFlushTimeout (Put, SYNC_FLUSH). RocketMQ's FLUSH_DISK_TIMEOUT.
	ErrFlushTimeout = errors.New("store: sync flush timed out")
	// ErrMessageIllegal: the message breaks a format limit (Put).
	ErrMessageIllegal = errors.New("store: message illegal")
	// ErrMessageTooLarge: the body exceeds maxMessageSize (Put).
	ErrMessageTooLarge = errors.New("store: message body too large")
)

type queueKey struct {
	topic string
	queue int32
}

// Store is the message store.
type Store struct {
	opts Options
	fs   vfs.FS
	log  *slog.Logger
	lock io.Closer
	clog *commitlog.Log
	idx  *index.Index
	ckpt *checkpointFile
	// rebuildAll: a consume queue was damaged; recovery re-dispatches the
	// whole commit log (units and index entries already present are skipped).
	rebuildAll bool

	mu  sync.RWMutex
	cqs map[queueKey]*consumequeue.Queue

	sendMu   sync.RWMutex
	stopping bool // guarded by sendMu; no new puts

	app          combiner           // the commit log's one writer at a time (put.go)
	queueOffsets map[queueKey]int64 // guarded by app.mu after recovery

	// Group commit (put.go): one sync at a time, led by a waiting put or
	// the flusher; the fields are guarded by syncMu.
	syncMu     sync.Mutex
	syncing    bool
	syncDone   chan struct{} // closed when the running sync ends
	syncErr    error         // a failed sync; the store takes no more writes
	syncClosed bool          // Close made its last sync

	appendSeq  atomic.Int64 // puts appended that wait for a sync
	coveredSeq atomic.Int64 // of those, how many a sync covered
	gatherWant atomic.Int64 // a leader gathering waits for this many
	gatherSig  chan struct{}
	// Leader only.
	groups        [gatherWindow]int64 // puts covered by recent syncs
	lastSyncNanos int64
	gatherTimer   *time.Timer

	dispatchWake chan struct{}
	dispatchMu   sync.Mutex   // held while dispatching (dispatcher or an appending put)
	dispatched   atomic.Int64 // commit-log offset dispatched up to
	flushed      atomic.Int64 // commit-log offset known durable
	lastStoreTS  atomic.Int64 // store time of the last appended record
	flushedTS    atomic.Int64 // store time of the last flushed record
	dispatchedTS atomic.Int64 // store time of the last dispatched record

	syncs       atomic.Int64
	diskFull    atomic.Bool
	diskFullWhy atomic.Pointer[string]
	notWritable atomic.Bool
	corruptions []*commitlog.CorruptionError

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// Open opens (creating if needed) and recovers the store in opts.Dir, then
// starts its background goroutines.
func Open(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := &Store{
		opts:         opts,
		fs:           opts.FS,
		log:          opts.Logger.With("component", "store"),
		cqs:          make(map[queueKey]*consumequeue.Queue),
		queueOffsets: make(map[queueKey]int64),
		dispatchWake: make(chan struct{}, 1),
		gatherSig:    make(chan struct{}, 1),
	}
	s.app.pool.New = func() any { return &appendReq{done: make(chan struct{}, 1)} }
	if err := s.fs.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: mkdir %s: %w", opts.Dir, err)
	}
	lock, err := s.fs.Lock(filepath.Join(opts.Dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("store: %s is in use by another process: %w", opts.Dir, err)
	}
	s.lock = lock
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.checkDisk()
	s.start()
	return s, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.opts.Dir, name) }

// load opens every file and recovers.
func (s *Store) load() error {
	_, err := s.fs.Stat(s.path("abort"))
	crashed := err == nil
	if crashed {
		s.log.Warn("abort file found: the last run did not stop cleanly, recovering")
	}
	// Under ASYNC_FLUSH appends run ahead of page faults; under SYNC_FLUSH
	// the zeros prefaulted ahead would be written by every next fdatasync.
	prefault := 0
	if s.opts.FlushDiskType == AsyncFlush && !s.opts.WarmSegments {
		prefault = 8 << 20
	}
	if s.clog, err = commitlog.Open(s.fs, s.opts.CommitLogDir, commitlog.Options{
		SegmentSize: s.opts.SegmentSize, Warm: s.opts.WarmSegments, PrefaultAhead: prefault,
		WriteThrough: s.opts.FlushDiskType == SyncFlush,
	}); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s.idx, err = index.Open(s.fs, s.path("index"), index.Options{
		SlotCount: s.opts.IndexSlots, MaxEntries: s.opts.IndexEntries,
	}); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := s.loadConsumeQueues(); err != nil {
		return err
	}
	for _, d := range []string{s.opts.Dir, filepath.Dir(s.opts.CommitLogDir)} {
		if err := s.fs.SyncDir(d); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	ck, ok, err := readCheckpoint(s.fs, s.path("checkpoint"))
	if err != nil {
		return err
	}
	if !ok && len(s.clog.Segments()) > 0 {
		s.log.Warn("checkpoint missing or damaged: rebuilding consume queues and index from the whole commit log")
	}
	if err := s.recover(ck, ok, crashed); err != nil {
		return err
	}
	if s.ckpt, err = openCheckpointFile(s.fs, s.path("checkpoint")); err != nil {
		return err
	}
	if err := s.writeCheckpoint(s.dispatched.Load()); err != nil {
		return err
	}
	return s.createAbort()
}

func (s *Store) loadConsumeQueues() error {
	root := s.path("consumequeue")
	if err := s.fs.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("store: mkdir %s: %w", root, err)
	}
	topics, err := s.fs.ReadDir(root)
	if err != nil {
		return fmt.Errorf("store: list %s: %w", root, err)
	}
	for _, topic := range topics {
		qids, err := s.fs.ReadDir(filepath.Join(root, topic))
		if err != nil {
			continue // a stray file
		}
		for _, q := range qids {
			id, err := strconv.ParseInt(q, 10, 32)
			if err != nil || id < 0 {
				s.log.Warn("ignoring stray entry in consumequeue", "path", filepath.Join(root, topic, q))
				continue
			}
			dir := filepath.Join(root, topic, q)
			cq, err := consumequeue.Open(s.fs, dir, topic, int32(id), s.opts.ConsumeQueueUnits)
			if errors.Is(err, segment.ErrBadSize) {
				// A damaged consume queue is derived data: drop it and
				// rebuild it from the whole commit log.
				s.log.Warn("consume queue damaged: rebuilding it from the commit log", "topic", topic, "queue", id, "err", err)
				if err := s.fs.RemoveAll(dir); err != nil {
					return fmt.Errorf("store: remove damaged consume queue %s: %w", dir, err)
				}
				s.rebuildAll = true
				cq, err = consumequeue.Open(s.fs, dir, topic, int32(id), s.opts.ConsumeQueueUnits)
			}
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			s.cqs[queueKey{topic, int32(id)}] = cq
		}
	}
	return nil
}

func (s *Store) createAbort() error {
	f, err := s.fs.Create(s.path("abort"))
	if err != nil {
		return fmt.Errorf("store: create abort file: %w", err)
	}
	_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.SyncDir(s.opts.Dir)
	}
	if err != nil {
		return fmt.Errorf("store: create abort file: %w", err)
	}
	return nil
}

// consumeQueue returns the queue for topic/queueID, creating it when create
// is set.
func (s *Store) consumeQueue(topic string, queueID int32, create bool) (*consumequeue.Queue, error) {
	k := queueKey{topic, queueID}
	s.mu.RLock()
	cq := s.cqs[k]
	s.mu.RUnlock()
	if cq != nil || !create {
		return cq, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cq = s.cqs[k]; cq != nil {
		return cq, nil
	}
	dir := filepath.Join(s.path("consumequeue"), topic, strconv.Itoa(int(queueID)))
	cq, err := consumequeue.Open(s.fs, dir, topic, queueID, s.opts.ConsumeQueueUnits)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Make the new directories durable, or a crash could lose a whole queue.
	for _, d := range []string{filepath.Dir(dir), s.path("consumequeue")} {
		if err := s.fs.SyncDir(d); err != nil {
			cq.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s.cqs[k] = cq
	return cq, nil
}

func (s *Store) allQueues() []*consumequeue.Queue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	qs := make([]*consumequeue.Queue, 0, len(s.cqs))
	for _, q := range s.cqs {
		qs = append(qs, q)
	}
	return qs
}

// Corruptions lists the damaged records recovery found and skipped.
func (s *Store) Corruptions() []*commitlog.CorruptionError {
	return append([]*commitlog.CorruptionError(nil), s.corruptions...)
}

// Close stops the store cleanly: it refuses new puts, finishes appends in
// flight, flushes everything, dispatches what remains, writes the checkpoint
// and deletes the abort file. It is safe to call twice.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Puts hold sendMu (read) across their append: once this returns, no
	// append is half done and no new one starts.
	s.sendMu.Lock()
	s.stopping = true
	s.sendMu.Unlock()
	s.cancel()
	s.wg.Wait() // flusher, dispatcher, checkpointer, cleaner stopped

	var errs []error
	clean := true
	// The last sync: puts still waiting are covered by it, or told
	// ErrClosed when it failed.
	if err := s.flushOnce(true); err != nil {
		errs = append(errs, err)
		clean = false
	}
	if err := s.dispatchAll(); err != nil {
		errs = append(errs, err)
		clean = false
	}
	if err := s.syncQueues(); err != nil {
		errs = append(errs, err)
		clean = false
	} else if err := s.writeCheckpoint(s.dispatched.Load()); err != nil {
		errs = append(errs, err)
		clean = false
	}
	if clean && !s.notWritable.Load() && s.dispatched.Load() == s.clog.WriteOffset() {
		if err := s.fs.Remove(s.path("abort")); err != nil {
			errs = append(errs, fmt.Errorf("store: remove abort file: %w", err))
		} else if err := s.fs.SyncDir(s.opts.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.closeFiles(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, q := range s.allQueues() {
		errs = append(errs, q.Close())
	}
	if s.idx != nil {
		errs = append(errs, s.idx.Close())
	}
	if s.clog != nil {
		errs = append(errs, s.clog.Close())
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}

// Logger returns the store's logger.
func (s *Store) Logger() *slog.Logger { return s.log }

// start launches the background goroutines.
func (s *Store) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.clog.Prepare()
	s.wg.Add(4)
	go s.flushLoop(ctx)
	go s.dispatchLoop(ctx)
	go s.checkpointLoop(ctx)
	go s.cleanLoop(ctx)
}
