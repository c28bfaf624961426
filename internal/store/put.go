package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/commitlog"
)

// PutResult describes a stored message.
type PutResult struct {
	PhysicalOffset int64  // commit-log offset of the record
	Size           int    // record size in bytes
	QueueOffset    int64  // offset in its consume queue
	StoreTimestamp int64  // broker clock, ms
	OffsetMsgID    string // store host + commit-log offset, hex
}

// Put stores one message and returns where. Under SYNC_FLUSH it returns only
// after an fdatasync covers the record (unless property WAIT is "false"),
// or ErrFlushTimeout when none did within syncFlushTimeout; the message is
// stored either way. The message's PhysicalOffset, QueueOffset,
// StoreTimestamp, StoreHost and BodyCRC are set by the store.
func (s *Store) Put(ctx context.Context, m *message.Message) (PutResult, error) {
	res, err := s.put(ctx, []*message.Message{m})
	if len(res) == 0 {
		return PutResult{}, err
	}
	return res[0], err
}

// PutBatch stores messages as consecutive records, in one append pass and
// under one sync. It stores all or, on a validation error, none.
func (s *Store) PutBatch(ctx context.Context, msgs []*message.Message) ([]PutResult, error) {
	return s.put(ctx, msgs)
}

func (s *Store) put(ctx context.Context, msgs []*message.Message) ([]PutResult, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	wait := s.opts.FlushDiskType == SyncFlush
	for _, m := range msgs {
		if err := s.check(m); err != nil {
			return nil, err
		}
		m.BodyCRC = message.BodyCRC(m.Body)
		m.StoreHost = s.opts.StoreHost
		if v, ok := message.Property(m.Properties, message.PropertyWaitStoreMsg); ok && v == "false" {
			wait = false
		}
	}
	if err := s.writable(); err != nil {
		return nil, err
	}
	results := make([]PutResult, 0, len(msgs))
	// sendMu (read) is held across the append so that Close, which takes
	// it exclusively, finds no append half done.
	s.sendMu.RLock()
	if s.stopping {
		s.sendMu.RUnlock()
		return nil, ErrClosed
	}
	req := s.app.pool.Get().(*appendReq)
	req.msgs, req.results = msgs, results
	s.app.qmu.Lock()
	s.app.queue = append(s.app.queue, req)
	s.app.qmu.Unlock()
	s.appendCombined(req)
	s.sendMu.RUnlock()
	results, end, err := req.results, req.end, req.err
	*req = appendReq{done: req.done}
	s.app.pool.Put(req)
	if err != nil || !wait {
		return results, err
	}
	// Counted after the append is published, so a leader that sees the
	// count syncs past the record.
	seq := s.appendSeq.Add(1)
	if want := s.gatherWant.Load(); want > 0 && seq-s.coveredSeq.Load() >= want {
		s.wake(s.gatherSig)
	}
	return results, s.waitDurable(ctx, end)
}

func (s *Store) check(m *message.Message) error {
	switch {
	case m.Topic == "":
		return fmt.Errorf("%w: empty topic", ErrMessageIllegal)
	case len(m.Topic) > 255:
		return fmt.Errorf("%w: topic of %d bytes, limit 255", ErrMessageIllegal, len(m.Topic))
	case len(m.Body) > s.opts.MaxMessageSize:
		return fmt.Errorf("%w: body of %d bytes, maxMessageSize %d", ErrMessageTooLarge, len(m.Body), s.opts.MaxMessageSize)
	case len(m.Properties) > message.MaxPropertiesLen:
		return fmt.Errorf("%w: properties of %d bytes, limit %d", ErrMessageIllegal, len(m.Properties), message.MaxPropertiesLen)
	case m.QueueID < 0:
		return fmt.Errorf("%w: queue id %d", ErrMessageIllegal, m.QueueID)
	}
	return nil
}

func (s *Store) writable() error {
	if s.notWritable.Load() {
		return ErrNotWritable
	}
	if s.diskFull.Load() {
		why := "no space left"
		if p := s.diskFullWhy.Load(); p != nil {
			why = *p
		}
		return fmt.Errorf("%w: %s", ErrDiskFull, why)
	}
	return nil
}

// combiner makes the commit log's writer one goroutine at a time without a
// goroutine of its own. A put queues its request and, if no put is
// appending, becomes the combiner: it appends every queued request, its
// own and those queued meanwhile, wakes their owners, and looks again after
// letting go. A put that finds a combiner at work sleeps until served. A
// lone producer thus appends on its own goroutine with no hand-off (an
// appender goroutine would cost two wake-ups per message, more than the
// copy into the mapped segment), and concurrent producers never queue up
// behind a lock holder that waits to be scheduled: the combiner runs
// through the whole queue.
type combiner struct {
	mu    sync.Mutex // held by the combiner; guards queueOffsets and spare
	qmu   sync.Mutex // guards queue
	queue []*appendReq
	spare []*appendReq
	pool  sync.Pool // of *appendReq
}

type appendReq struct {
	msgs    []*message.Message
	results []PutResult
	end     int64
	err     error
	done    chan struct{} // the combiner served it (capacity 1)
}

// appendCombined returns once self, already queued, is appended.
func (s *Store) appendCombined(self *appendReq) {
	c := &s.app
	served := false
	for c.mu.TryLock() {
		appended := false
		for {
			c.qmu.Lock()
			batch := c.queue
			c.queue = c.spare[:0]
			c.qmu.Unlock()
			if len(batch) == 0 {
				c.spare = batch
				break
			}
			for i, r := range batch {
				r.results, r.end, r.err = s.appendMsgs(r.msgs, r.results)
				if r == self {
					served = true
				} else {
					r.done <- struct{}{}
				}
				batch[i] = nil
			}
			c.spare = batch[:0]
			appended = true
		}
		c.mu.Unlock()
		// Dispatched after letting go, so the next combiner may append
		// meanwhile.
		if appended && !s.dispatchInline() {
			s.wake(s.dispatchWake)
		}
		// A put that queued after the last look and found the lock held
		// is waiting for us: look again now that it is free.
		c.qmu.Lock()
		more := len(c.queue) > 0
		c.qmu.Unlock()
		if !more {
			break
		}
	}
	if !served {
		<-self.done
	}
}

// appendMsgs appends msgs to the commit log as consecutive records and
// returns their results and the commit-log end of the last one; on a failure
// it stops there, returning what was stored before it. Combiner only.
func (s *Store) appendMsgs(msgs []*message.Message, results []PutResult) ([]PutResult, int64, error) {
	if err := s.writable(); err != nil {
		return results, 0, err
	}
	now := s.opts.Now().UnixMilli()
	var end int64
	for _, m := range msgs {
		k := queueKey{m.Topic, m.QueueID}
		tt := message.TransactionType(m.SysFlag)
		queued := tt == message.TransactionNotType || tt == message.TransactionCommit
		m.StoreTimestamp = now
		m.QueueOffset = 0
		if queued {
			m.QueueOffset = s.queueOffsets[k]
		}
		off, size, err := s.clog.Append(m)
		if err != nil {
			if len(results) > 0 {
				s.lastStoreTS.Store(now)
			}
			return results, end, s.appendError(err)
		}
		if queued {
			s.queueOffsets[k] = m.QueueOffset + 1
		}
		end = off + int64(size)
		results = append(results, PutResult{
			PhysicalOffset: off, Size: size, QueueOffset: m.QueueOffset, StoreTimestamp: now,
			OffsetMsgID: message.OffsetMsgID(s.opts.StoreHost, off),
		})
	}
	s.lastStoreTS.Store(now)
	return results, end, nil
}

func (s *Store) appendError(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		s.setDiskFull("no space left for a new commit-log segment")
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	if errors.Is(err, commitlog.ErrTooLarge) || errors.Is(err, message.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrMessageIllegal, err)
	}
	return fmt.Errorf("store: append: %w", err)
}

func (s *Store) wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Group commit. Under SYNC_FLUSH a put returns once an fdatasync covers its
// record, and no flusher goroutine sits in that path: a put that finds no
// sync running runs one itself (the leader), covering everything appended
// before it began; puts that append meanwhile wait for it, and the first of
// them to wake up leads the next sync, which covers them all at once. A
// lone producer pays one sync and no hand-off.
//
// Left at that, closed-loop producers split into two groups that take
// turns: the producers a sync answers come back one round trip later, just
// after the next sync began without them. So a leader first waits for as
// many puts as the largest of the last syncs covered (gatherWindow), at
// most half a sync's duration: the puts it waits for signal it as they
// arrive, so the wait ends as soon as they are in.
//
// syncMu guards the leader's flag; clog.Sync runs outside it and only ever
// on one goroutine at a time. Leader-only state (groups, gatherTimer) needs
// no lock.

// gatherWindow is how many recent syncs' group sizes a leader considers.
const gatherWindow = 16

// gather waits, as the leader and before syncing, for the puts it expects
// to join this sync.
func (s *Store) gather() {
	var want int64
	for _, g := range s.groups {
		want = max(want, g)
	}
	wait := min(time.Duration(s.lastSyncNanos)/2, 500*time.Microsecond)
	if want <= 1 || wait <= 0 || s.appendSeq.Load()-s.coveredSeq.Load() >= want {
		return
	}
	s.gatherWant.Store(want)
	// A put counted before want was published did not signal: look again.
	if s.appendSeq.Load()-s.coveredSeq.Load() < want {
		if s.gatherTimer == nil {
			s.gatherTimer = time.NewTimer(wait)
		} else {
			s.gatherTimer.Reset(wait)
		}
		select {
		case <-s.gatherSig:
		case <-s.gatherTimer.C:
		}
		s.gatherTimer.Stop()
	}
	s.gatherWant.Store(0)
	select { // a signal sent after the wait ended
	case <-s.gatherSig:
	default:
	}
}

// waitDurable waits until the commit log is durable up to end, leading syncs
// as needed. It gives up with ErrFlushTimeout after SyncFlushTimeout (or
// when ctx ends) while another goroutine's sync is taking that long; the
// message is stored either way.
func (s *Store) waitDurable(ctx context.Context, end int64) error {
	var timeout <-chan time.Time
	for {
		if s.flushed.Load() >= end {
			return nil
		}
		s.syncMu.Lock()
		switch {
		case s.flushed.Load() >= end:
			s.syncMu.Unlock()
			return nil
		case s.syncErr != nil:
			err := s.syncErr
			s.syncMu.Unlock()
			return fmt.Errorf("%w: %w", ErrNotWritable, err)
		case s.syncClosed:
			s.syncMu.Unlock()
			return ErrClosed
		case !s.syncing:
			s.beginSyncLocked()
			s.syncMu.Unlock()
			s.gather()
			s.runSync()
			continue
		}
		done := s.syncDone
		s.syncMu.Unlock()
		if timeout == nil {
			t := time.NewTimer(s.opts.SyncFlushTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-done:
		case <-timeout:
			return ErrFlushTimeout
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrFlushTimeout, ctx.Err())
		}
	}
}

// beginSyncLocked makes the caller the leader of the next sync. syncMu held,
// no sync running.
func (s *Store) beginSyncLocked() {
	s.syncing = true
	s.syncDone = make(chan struct{})
}

// runSync syncs the commit log (leader only), publishes the durable offset
// and wakes everyone waiting for this sync.
func (s *Store) runSync() error {
	ts := s.lastStoreTS.Load() // read first: a record stored before is covered
	seq := s.appendSeq.Load()
	t0 := time.Now()
	off, err := s.clog.Sync()
	s.lastSyncNanos = int64(time.Since(t0))
	s.syncs.Add(1)
	if err == nil {
		s.groups[s.syncs.Load()%gatherWindow] = seq - s.coveredSeq.Load()
		s.coveredSeq.Store(seq)
	}
	if err != nil {
		// fsync failures cannot be retried safely: stop taking writes.
		s.notWritable.Store(true)
		s.log.Error("commit log flush failed; refusing further appends", "err", err)
	} else {
		s.flushed.Store(off)
		s.flushedTS.Store(ts)
		if s.opts.FlushDiskType == SyncFlush {
			s.wake(s.dispatchWake)
		}
	}
	s.syncMu.Lock()
	if err != nil && s.syncErr == nil {
		s.syncErr = err
	}
	s.syncing = false
	close(s.syncDone)
	s.syncMu.Unlock()
	return err
}

// flushOnce syncs the commit log once, after any sync already running; with
// last set, no sync may start after it (Close). It returns the sync's error.
func (s *Store) flushOnce(last bool) error {
	s.syncMu.Lock()
	for s.syncing {
		done := s.syncDone
		s.syncMu.Unlock()
		<-done
		s.syncMu.Lock()
	}
	if s.syncClosed {
		s.syncMu.Unlock()
		return ErrClosed
	}
	s.beginSyncLocked()
	s.syncMu.Unlock()
	err := s.runSync()
	if last {
		s.syncMu.Lock()
		for s.syncing { // a put may have started one meanwhile
			done := s.syncDone
			s.syncMu.Unlock()
			<-done
			s.syncMu.Lock()
		}
		s.syncClosed = true
		s.syncMu.Unlock()
	}
	return err
}

// flushLoop flushes the commit log on an interval: all of it under
// ASYNC_FLUSH, and under SYNC_FLUSH what puts that do not wait
// (WAIT=false) left behind.
func (s *Store) flushLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if s.flushed.Load() < s.clog.WriteOffset() {
			s.flushOnce(false)
		}
	}
}

// Syncs is the number of commit-log syncs so far (group-commit metrics).
func (s *Store) Syncs() int64 { return s.syncs.Load() }

// PutAll stores msgs in order like PutBatch, except that a message the
// store refuses for good (ErrMessageIllegal, ErrMessageTooLarge) is handed
// to dropped and skipped rather than failing the others: services that
// move messages on (delay levels, timers) must not stall on one. It returns
// how many are done (stored or dropped), the commit-log end of the last one
// stored (0 if none), and the first failure that may pass (a full disk, a
// closed store), at which it stops. ErrFlushTimeout is not a failure.
func (s *Store) PutAll(ctx context.Context, msgs []*message.Message, dropped func(*message.Message, error)) (done int, end int64, err error) {
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	res, err := s.PutBatch(ctx, msgs)
	for _, r := range res {
		end = max(end, r.PhysicalOffset+int64(r.Size))
	}
	if err == nil || errors.Is(err, ErrFlushTimeout) {
		return len(msgs), end, nil
	}
	if !refusedForGood(err) {
		return len(res), end, err
	}
	// One refused message fails the whole batch: put them one at a time.
	for _, m := range msgs {
		r, err := s.Put(ctx, m)
		switch {
		case err == nil || errors.Is(err, ErrFlushTimeout):
			end = max(end, r.PhysicalOffset+int64(r.Size))
		case refusedForGood(err):
			dropped(m, err)
		default:
			return done, end, err
		}
		done++
	}
	return done, end, nil
}

func refusedForGood(err error) bool {
	return errors.Is(err, ErrMessageIllegal) || errors.Is(err, ErrMessageTooLarge)
}
