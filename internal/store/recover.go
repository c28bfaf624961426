package store

import (
	"errors"
	"fmt"

	"github.com/quiver-mq/quiver/internal/store/commitlog"
)

// recover brings consume queues, index and commit log to one consistent end.
// See the package documentation.
func (s *Store) recover(ck checkpoint, ckOK, crashed bool) error {
	segs := s.clog.Segments()
	if len(segs) == 0 {
		// No commit log: nothing derived from it can stand.
		for _, q := range s.allQueues() {
			if err := q.TruncateFrom(0); err != nil {
				return fmt.Errorf("store: recover: %w", err)
			}
		}
		if err := s.idx.Truncate(0); err != nil {
			return fmt.Errorf("store: recover: %w", err)
		}
		return nil
	}
	minOff, maxEnd := segs[0].Base(), segs[len(segs)-1].End()
	start := minOff
	if ckOK && ck.SafeOffset >= minOff && ck.SafeOffset <= maxEnd {
		start = ck.SafeOffset
	}
	for _, q := range s.allQueues() {
		if err := q.TruncateFrom(start); err != nil {
			return fmt.Errorf("store: recover: %w", err)
		}
	}
	if err := s.idx.Truncate(start); err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}

	// Let the scan see every byte, then find the end.
	s.clog.SetWriteOffset(maxEnd)
	window := s.opts.MaxMessageSize + 64<<10 + 256
	end, off := start, start
	if s.rebuildAll {
		off = minOff
	}
	for {
		next, err := s.clog.Scan(off, maxEnd, true, s.dispatchRecord)
		if err == nil {
			end = next
			break
		}
		var ce *commitlog.CorruptionError
		if !errors.As(err, &ce) {
			return fmt.Errorf("store: recover: re-dispatch at %d: %w", next, err)
		}
		skip, ok := s.clog.FindNextRecord(ce.Offset, window)
		if !ok {
			end = ce.Offset
			break
		}
		// A valid record follows: this one is damaged in the middle. It is
		// not dispatched, so it is never served; keep what follows.
		s.log.Error("damaged record skipped", "segment", ce.Segment, "offset", ce.Offset, "bytes", skip-ce.Offset, "err", ce.Err)
		s.corruptions = append(s.corruptions, ce)
		off = skip
	}
	if crashed || end != start || s.rebuildAll {
		s.log.Info("commit log recovered", "from", start, "end", end, "crashed", crashed)
	}
	if err := s.clog.Truncate(end); err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	s.clog.SetWriteOffset(end)
	durable, err := s.clog.ForceSync(start)
	if err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	for _, q := range s.allQueues() {
		if err := q.TruncateFrom(end); err != nil {
			return fmt.Errorf("store: recover: %w", err)
		}
		s.queueOffsets[queueKey{q.Topic, q.QueueID}] = q.MaxOffset()
	}
	// Retention may have removed commit-log segments that consume queues
	// and index files still point into; move their minimums past them.
	for _, q := range s.allQueues() {
		if _, err := q.DeleteBefore(minOff); err != nil {
			return fmt.Errorf("store: recover: %w", err)
		}
	}
	if _, err := s.idx.DeleteBefore(minOff); err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	if err := s.syncQueues(); err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	s.dispatched.Store(end)
	s.flushed.Store(durable)
	return nil
}
