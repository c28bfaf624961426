package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

type putRequest struct {
	msgs    []*message.Message
	results []PutResult
	err     error // set by the appender before its answer
	syncErr error // set by the flusher before its answer
	end     int64 // commit-log offset past the last record
	sync    bool  // wait for a sync flush
	done    chan struct{}
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
	req := s.putPool.Get().(*putRequest)
	req.msgs, req.results, req.err, req.syncErr, req.sync = msgs, make([]PutResult, 0, len(msgs)), nil, nil, wait

	// sendMu keeps Close from stopping the appender while a request is
	// being handed over, so every accepted request is answered.
	s.sendMu.RLock()
	if s.stopping {
		s.sendMu.RUnlock()
		s.putPool.Put(req)
		return nil, ErrClosed
	}
	select {
	case s.appendCh <- req:
		s.sendMu.RUnlock()
	case <-ctx.Done():
		s.sendMu.RUnlock()
		s.putPool.Put(req)
		return nil, fmt.Errorf("store: put: %w", ctx.Err())
	}
	// The appender answers every accepted request, so waiting here cannot
	// hang; a sync wait is bounded by syncFlushTimeout below.
	<-req.done
	res, err := req.results, req.err
	if err != nil || !wait {
		req.msgs = nil
		s.putPool.Put(req)
		return res, err
	}
	// Wait for the flusher, which answers on done again.
	t := time.NewTimer(s.opts.SyncFlushTimeout)
	defer t.Stop()
	select {
	case <-req.done:
		err = req.syncErr
		req.msgs = nil
		s.putPool.Put(req)
		return res, err
	case <-t.C:
		// The flusher still holds req: do not pool it.
		return res, ErrFlushTimeout
	case <-ctx.Done():
		return res, fmt.Errorf("%w: %w", ErrFlushTimeout, ctx.Err())
	}
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

// appendLoop is the only writer of the commit log.
func (s *Store) appendLoop() {
	defer s.appendWG.Done()
	batch := make([]*putRequest, 0, 256)
	for {
		select {
		case req := <-s.appendCh:
			batch = append(batch[:0], req)
		drain:
			for len(batch) < cap(batch) {
				select {
				case r := <-s.appendCh:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			s.appendBatch(batch)
		case <-s.closing:
			// Answer whatever is still queued, then stop.
			for {
				select {
				case r := <-s.appendCh:
					s.appendBatch([]*putRequest{r})
				default:
					return
				}
			}
		}
	}
}

func (s *Store) appendBatch(batch []*putRequest) {
	var toSync []*putRequest
	for _, req := range batch {
		s.appendOne(req)
		if req.err == nil && req.sync {
			toSync = append(toSync, req)
		}
		req.done <- struct{}{}
	}
	s.wake(s.dispatchWake)
	if len(toSync) > 0 {
		s.pendMu.Lock()
		s.pending = append(s.pending, toSync...)
		s.pendMu.Unlock()
		s.wake(s.flushCh)
	}
}

func (s *Store) appendOne(req *putRequest) {
	if err := s.writable(); err != nil {
		req.err = err
		return
	}
	now := s.opts.Now().UnixMilli()
	for _, m := range req.msgs {
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
			req.err = s.appendError(err)
			return
		}
		if queued {
			s.queueOffsets[k] = m.QueueOffset + 1
		}
		req.end = off + int64(size)
		req.results = append(req.results, PutResult{
			PhysicalOffset: off, Size: size, QueueOffset: m.QueueOffset, StoreTimestamp: now,
			OffsetMsgID: message.OffsetMsgID(s.opts.StoreHost, off),
		})
	}
	s.lastStoreTS.Store(now)
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

// flushLoop makes the commit log durable: on demand under SYNC_FLUSH (group
// commit: every request appended before a sync started is answered by it),
// on an interval under ASYNC_FLUSH.
func (s *Store) flushLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.flushCh:
			s.gatherCommits()
		case <-tick.C:
		}
		s.flushOnce()
	}
}

// gatherCommits waits briefly for more requests to join the next sync: as
// many as the last sync carried, or until a quarter of the last sync's
// duration (at most 1 ms) has passed. Producers acknowledged by the last
// sync are usually about to send again, and each that joins saves a sync.
func (s *Store) gatherCommits() {
	want := int(s.lastGroup.Load())
	wait := min(time.Duration(s.lastSyncNanos.Load())/4, time.Millisecond)
	if want <= 1 || wait <= 0 {
		return
	}
	deadline := time.Now().Add(wait)
	for {
		s.pendMu.Lock()
		n := len(s.pending)
		s.pendMu.Unlock()
		if n >= want || time.Now().After(deadline) {
			return
		}
		runtime.Gosched()
	}
}

func (s *Store) flushOnce() {
	s.pendMu.Lock()
	reqs := s.pending
	s.pending = nil
	s.pendMu.Unlock()
	ts := s.lastStoreTS.Load()
	t0 := time.Now()
	off, err := s.clog.Sync()
	s.lastSyncNanos.Store(int64(time.Since(t0)))
	s.lastGroup.Store(int64(len(reqs)))
	s.syncs.Add(1)
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
	for _, r := range reqs {
		if err != nil {
			r.syncErr = fmt.Errorf("%w: %w", ErrNotWritable, err)
		}
		r.done <- struct{}{}
	}
}

// failPending answers requests still waiting for a sync (at Close).
func (s *Store) failPending(err error) {
	s.pendMu.Lock()
	reqs := s.pending
	s.pending = nil
	s.pendMu.Unlock()
	for _, r := range reqs {
		if s.flushed.Load() < r.end {
			r.syncErr = err
		}
		r.done <- struct{}{}
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
