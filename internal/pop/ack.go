package pop

import (
	"context"
	"fmt"

	"github.com/quiver-mq/quiver/internal/message"
)

// checkHandle parses a handle and checks it names this broker.
func (s *Service) checkHandle(extraInfo string) (ExtraInfo, error) {
	ei, err := ParseExtraInfo(extraInfo)
	if err != nil {
		return ei, err
	}
	if ei.BrokerName != s.opts.BrokerName {
		return ei, fmt.Errorf("%w: the handle is from broker %s, this is %s", ErrHandleUnknown, ei.BrokerName, s.opts.BrokerName)
	}
	if !ei.Order() && ei.ReviveQid >= s.reviveNums {
		return ei, fmt.Errorf("%w: revive queue %d does not exist", ErrHandleUnknown, ei.ReviveQid)
	}
	return ei, nil
}

func handleErr(err error, q QueueKey, off int64) error {
	return fmt.Errorf("%w (topic %s, group %s, queue %d, offset %d)", err, q.Topic, q.Group, q.QueueID, off)
}

// Ack acknowledges the message at offset of topic's queue (the real
// topic: the retry topic for a retry message) popped with extraInfo. A
// FIFO ack lets the next message of its message group go; a non-FIFO ack
// is written to the revive topic. Errors: ErrBadHandle, ErrHandleUnknown,
// ErrHandleExpired, or a store error.
func (s *Service) Ack(ctx context.Context, group, topic string, queueID int32, off int64, extraInfo string) error {
	ei, err := s.checkHandle(extraInfo)
	if err != nil {
		return err
	}
	q := QueueKey{topic, group, queueID}
	if ei.Order() {
		return s.ackOrder(q, off, ei.PopTime)
	}
	k := Key{topic, group, queueID, ei.CkQueueOffset, ei.PopTime, ei.BrokerName}
	s.settling.RLock()
	defer s.settling.RUnlock()
	first, commits, err := s.book.Ack(k, off, s.nowMs())
	if err != nil {
		return handleErr(err, q, off)
	}
	if first {
		a := &AckMsg{AckOffset: off, StartOffset: ei.CkQueueOffset, Group: group, Topic: topic, QueueID: queueID,
			PopTime: ei.PopTime, BrokerName: ei.BrokerName}
		if err := s.putAck(ctx, a, ei.ReviveQid); err != nil {
			s.book.Unack(k, off)
			return err
		}
	}
	s.apply(commits)
	return nil
}

func (s *Service) ackOrder(q QueueKey, off, popTime int64) error {
	lock := s.queueLock(q)
	lock.Lock()
	defer lock.Unlock()
	s.order.Lock()
	defer s.order.Unlock()
	oq := s.order.Lookup(q)
	if oq == nil {
		if c, ok := s.offsets.Query(q.Group, q.Topic, q.QueueID); ok && off < c {
			return nil
		}
		return handleErr(ErrHandleUnknown, q, off)
	}
	if err := oq.Ack(off, popTime, s.nowMs()); err != nil {
		return handleErr(err, q, off)
	}
	s.offsets.Commit(q.Group, q.Topic, q.QueueID, oq.Committed)
	s.opts.Wake(q.Topic, q.QueueID)
	return nil
}

// Changed is the answer to ChangeInvisibleTime: the fields of the new
// handle.
type Changed struct {
	PopTime       int64
	InvisibleTime int64
	ReviveQid     int32
}

// ChangeInvisible makes the message invisible for invisible ms from now.
// Non-FIFO: a new one-message checkpoint (popTime now) is written and the
// old handle's message acked, so the old handle is no longer valid; FIFO:
// the popTime stays and the invisible time is stretched to now+invisible.
func (s *Service) ChangeInvisible(ctx context.Context, group, topic string, queueID int32, off int64, extraInfo string, invisible int64) (Changed, error) {
	ei, err := s.checkHandle(extraInfo)
	if err != nil {
		return Changed{}, err
	}
	q := QueueKey{topic, group, queueID}
	now := s.nowMs()
	if ei.Order() {
		lock := s.queueLock(q)
		lock.Lock()
		defer lock.Unlock()
		s.order.Lock()
		defer s.order.Unlock()
		oq := s.order.Lookup(q)
		if oq == nil {
			return Changed{}, handleErr(ErrHandleUnknown, q, off)
		}
		nv, err := oq.Change(off, ei.PopTime, now, invisible)
		if err != nil {
			return Changed{}, handleErr(err, q, off)
		}
		return Changed{PopTime: ei.PopTime, InvisibleTime: nv - ei.PopTime, ReviveQid: OrderReviveQueue}, nil
	}
	old := Key{topic, group, queueID, ei.CkQueueOffset, ei.PopTime, ei.BrokerName}
	if err := s.book.Check(old, off, now); err != nil {
		return Changed{}, handleErr(err, q, off)
	}
	if off == ei.CkQueueOffset && now <= ei.PopTime {
		// The new checkpoint's key (start offset, pop time) must differ
		// from the old one's, or the ack written for the old would match
		// the new too and the message would never come back: a change in
		// the millisecond of its pop moves the new pop time by 1 ms.
		now = ei.PopTime + 1
	}
	ck := &CheckPoint{StartOffset: off, PopTime: now, InvisibleTime: invisible, Num: 1, QueueID: queueID,
		Topic: topic, Group: group, Diffs: []int32{0}, BrokerName: ei.BrokerName}
	a := &AckMsg{AckOffset: off, StartOffset: ei.CkQueueOffset, Group: group, Topic: topic, QueueID: queueID,
		PopTime: ei.PopTime, BrokerName: ei.BrokerName}
	var commits []Commit
	s.settling.RLock()
	defer s.settling.RUnlock()
	err = s.putCheckPoint(ctx, ck, ei.ReviveQid, []*message.Message{s.reviveRecord(ei.ReviveQid, a.Tag(), a.UniqKey(), a.Encode())}, func(ro int64) {
		s.book.AddChange(ck, ei.ReviveQid, ro)
		commits = s.book.Move(old, off)
	})
	if err != nil {
		return Changed{}, err
	}
	s.apply(commits)
	return Changed{PopTime: now, InvisibleTime: invisible, ReviveQid: ei.ReviveQid}, nil
}

// BatchAck applies BATCH_ACK_MESSAGE: per entry, the offsets of its bitset
// are acked as single acks would be (one bAck record per entry). Offsets
// whose handle is unknown or expired are skipped, as Java does.
func (s *Service) BatchAck(ctx context.Context, body *BatchAckBody) error {
	now := s.nowMs()
	for _, b := range body.Acks {
		topic, err := RealTopic(b.Topic, b.Group, b.Retry)
		if err != nil {
			return err
		}
		offs, err := b.Offsets()
		if err != nil {
			return err
		}
		q := QueueKey{topic, b.Group, b.QueueID}
		if b.ReviveQueueID == OrderReviveQueue {
			for _, o := range offs {
				_ = s.ackOrder(q, o, b.PopTime)
			}
			continue
		}
		if b.ReviveQueueID < 0 || b.ReviveQueueID >= s.reviveNums {
			return fmt.Errorf("%w: revive queue %d", ErrBadHandle, b.ReviveQueueID)
		}
		k := Key{topic, b.Group, b.QueueID, b.StartOffset, b.PopTime, body.BrokerName}
		if err := s.batchAck(ctx, k, b.ReviveQueueID, offs, now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) batchAck(ctx context.Context, k Key, rq int32, offs []int64, now int64) error {
	s.settling.RLock()
	defer s.settling.RUnlock()
	var acked []int64
	var commits []Commit
	for _, o := range offs {
		first, c, err := s.book.Ack(k, o, now)
		if err == nil && first {
			acked = append(acked, o)
			commits = append(commits, c...)
		}
	}
	if len(acked) == 0 {
		return nil
	}
	a := &AckMsg{AckOffset: -1, StartOffset: k.StartOffset, Group: k.Group, Topic: k.Topic, QueueID: k.QueueID,
		PopTime: k.PopTime, BrokerName: k.BrokerName, AckOffsets: acked}
	if err := s.putAck(ctx, a, rq); err != nil {
		for _, o := range acked {
			s.book.Unack(k, o)
		}
		return err
	}
	s.apply(commits)
	return nil
}

// HasMessage reports whether a pop of the group could find something in
// topic (queue queueID, or all for -1) or, unless order, its retry topic:
// NOTIFICATION's question.
func (s *Service) HasMessage(group, topic string, queueID int32, order bool) bool {
	topics := []string{topic}
	if !order {
		topics = append(topics, RetryTopicV1(topic, group))
	}
	for _, t := range topics {
		tc, ok := s.topics.Get(t)
		if !ok {
			continue
		}
		for qid := range int32(tc.ReadQueueNums) {
			if queueID >= 0 && t == topic && qid != queueID {
				continue
			}
			q := QueueKey{t, group, qid}
			maxOff := s.st.MaxOffset(t, qid)
			start, ok := s.offsets.Query(group, t, qid)
			if !ok {
				start = s.st.MinOffset(t, qid)
			}
			if cur, ok := s.book.Cursor(q); ok && cur > start {
				start = cur
			}
			if start >= maxOff {
				continue
			}
			if !order {
				return true
			}
			s.order.Lock()
			oq := s.order.Lookup(q)
			busy := 0
			if oq != nil {
				now := s.nowMs()
				busy = len(oq.Done)
				for _, in := range oq.Inflight {
					if now < in.NextVisible {
						busy++
					}
				}
			}
			s.order.Unlock()
			if maxOff-start > int64(busy) {
				return true
			}
		}
	}
	return false
}
