package store

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/consumequeue"
)

// confirmOffset is how far the dispatcher may read: everything appended under
// ASYNC_FLUSH, only what is durable under SYNC_FLUSH.
func (s *Store) confirmOffset() int64 {
	if s.opts.FlushDiskType == SyncFlush {
		return s.flushed.Load()
	}
	return s.clog.WriteOffset()
}

// dispatchLoop tails the commit log into consume queues and the index.
func (s *Store) dispatchLoop(ctx context.Context) {
	defer s.wg.Done()
	idle := time.NewTicker(100 * time.Millisecond)
	defer idle.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dispatchWake:
		case <-idle.C:
		}
		s.dispatchMu.Lock()
		err := s.dispatchTo(s.confirmOffset())
		s.dispatchMu.Unlock()
		if err != nil && errors.Is(err, syscall.ENOSPC) {
			// Consume queues cannot grow: stop taking messages that would
			// not become readable.
			s.setDiskFull("no space left for consume queues")
		}
		if err != nil && (lastErr == nil || err.Error() != lastErr.Error()) {
			s.log.Error("dispatch stalled; retrying", "offset", s.dispatched.Load(), "err", err)
		}
		lastErr = err
	}
}

// dispatchInline dispatches what is appended on the calling goroutine (the
// put that just appended it), unless another goroutine is dispatching; it
// reports whether it did. Under ASYNC_FLUSH a record is readable once
// appended, and dispatching it where it was appended saves waking the
// dispatcher for every put (a futex wake and a thread's spin, which a
// closed-loop producer pays in every round trip) and a hop on the way to
// long-polling consumers. Under SYNC_FLUSH records wait for their sync,
// after which the dispatcher is woken once per group. A failure is left to
// the dispatcher, which retries and reports it.
func (s *Store) dispatchInline() bool {
	if s.opts.FlushDiskType == SyncFlush || !s.dispatchMu.TryLock() {
		return false
	}
	err := s.dispatchTo(s.clog.WriteOffset())
	s.dispatchMu.Unlock()
	return err == nil
}

// dispatchAll dispatches everything appended (Close).
func (s *Store) dispatchAll() error { return s.dispatchTo(s.clog.WriteOffset()) }

// dispatchTo dispatches up to limit. dispatchMu held, or the store not
// running (recovery, Close).
func (s *Store) dispatchTo(limit int64) error {
	from := s.dispatched.Load()
	if from >= limit {
		return nil
	}
	end, err := s.clog.Scan(from, limit, false, func(off int64, rec []byte) error {
		return s.dispatchRecord(off, rec)
	})
	s.dispatched.Store(end)
	if err != nil {
		return fmt.Errorf("store: dispatch at %d: %w", end, err)
	}
	return nil
}

// dispatchRecord writes the consume-queue unit and index keys of one record.
func (s *Store) dispatchRecord(off int64, rec []byte) error {
	m, _, err := message.Decode(rec, false)
	if err != nil {
		return err
	}
	tt := message.TransactionType(m.SysFlag)
	if tt == message.TransactionNotType || tt == message.TransactionCommit {
		cq, err := s.consumeQueue(m.Topic, m.QueueID, true)
		if err != nil {
			return err
		}
		tags, _ := message.Property(m.Properties, message.PropertyTags)
		code := message.TagsCode(tags)
		if s.opts.TagsCode != nil {
			if c, ok := s.opts.TagsCode(m.Topic, m.Properties, m.StoreTimestamp); ok {
				code = c
			}
		}
		u := consumequeue.Unit{CommitLogOffset: off, Size: int32(len(rec)), TagsCode: code}
		if err := cq.Put(m.QueueOffset, u); err != nil {
			return err
		}
		if s.opts.OnDispatch != nil {
			s.opts.OnDispatch(m.Topic, m.QueueID, m.QueueOffset)
		}
	}
	if tt != message.TransactionRollback {
		if err := s.indexRecord(&m, off); err != nil {
			return err
		}
	}
	s.dispatchedTS.Store(m.StoreTimestamp)
	return nil
}

func (s *Store) indexRecord(m *message.Message, off int64) error {
	if uniq, ok := message.Property(m.Properties, message.PropertyUniqKey); ok {
		if err := s.idx.Put(m.Topic+"#"+uniq, off, m.StoreTimestamp); err != nil {
			return err
		}
	}
	if keys, ok := message.Property(m.Properties, message.PropertyKeys); ok {
		for _, k := range message.Keys(keys) {
			if err := s.idx.Put(m.Topic+"#"+k, off, m.StoreTimestamp); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkpointLoop makes consume queues and the index durable and records the
// safe offset every FlushConsumeQueueInterval. It runs beside the
// dispatcher, never on it: the fsyncs take milliseconds, and a dispatcher
// waiting for them would hold back every message (and every long-polling
// consumer) behind them.
func (s *Store) checkpointLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FlushConsumeQueueInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkpoint()
	}
}

// checkpoint syncs consume queues and index and records the safe offset.
//
// It runs while the dispatcher keeps writing. That is safe because the
// dispatched offset is read first: every unit and index entry of a record
// below it was written before the dispatcher published it, so before the
// syncs that follow start, and a sync makes durable everything written
// before it began (writes made meanwhile, all past that offset, may or may
// not be included). Segments and index files are never unmapped under a
// sync: the dispatcher only adds them, and what removes them (retention)
// waits for the consume queue's or the index's sync lock.
func (s *Store) checkpoint() {
	d := s.dispatched.Load()
	if err := s.syncQueues(); err != nil {
		s.log.Error("consume queue flush failed", "err", err)
		return
	}
	if err := s.writeCheckpoint(d); err != nil {
		s.log.Error("checkpoint failed", "err", err)
	}
}

// syncQueues makes consume queues and index durable and returns nothing
// until they are; the dispatched offset read before is then safe. One
// caller at a time: the checkpoint goroutine, or recovery and Close while it
// does not run.
func (s *Store) syncQueues() error {
	for _, q := range s.allQueues() {
		if err := q.Sync(); err != nil {
			return err
		}
	}
	return s.idx.Sync()
}

// writeCheckpoint records the safe offset: consume queues and index must have
// been synced after the dispatcher reached dispatched, and the commit log must
// be durable up to the safe offset.
func (s *Store) writeCheckpoint(dispatched int64) error {
	safe := min(dispatched, s.flushed.Load())
	return s.ckpt.write(checkpoint{
		PhysicMsgTimestamp: s.flushedTS.Load(),
		LogicsMsgTimestamp: s.dispatchedTS.Load(),
		IndexMsgTimestamp:  s.dispatchedTS.Load(),
		ConfirmPhyOffset:   s.clog.WriteOffset(),
		SafeOffset:         safe,
	})
}
