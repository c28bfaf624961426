package pop

import (
	"context"
	"fmt"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
)

// Init modes of a pop with no consume offset yet (ConsumeInitMode).
const (
	InitMin = 0 // from the queue's first message
	InitMax = 1 // from the newest (Java: from 0 while offset 0 is still in memory)
)

// Request is one POP_MESSAGE.
type Request struct {
	Group, Topic string
	// QueueID is a queue of Topic, or -1 for all of them.
	QueueID       int32
	MaxMsgs       int
	InvisibleTime int64 // ms
	InitMode      int
	Order         bool
	AttemptID     string
	// Filter selects messages of Topic (nil: all); retry topics are read
	// without it, as Java subscribes them with "*".
	Filter store.Filter
}

// Result is the answer to a pop: PopMessageResponseHeader's fields and the
// records of the body.
type Result struct {
	PopTime         int64
	InvisibleTime   int64
	ReviveQid       int32
	RestNum         int64
	StartOffsetInfo string
	MsgOffsetInfo   string
	OrderCountInfo  string
	// Records are stored records in queue order per queue; retry-topic
	// messages are re-encoded under the original topic with POP_CK.
	Records [][]byte
	// Busy: a queue was skipped because another pop was reading it, so an
	// empty result does not mean there is nothing to pop.
	Busy bool
}

type popAcc struct {
	Result
	start, msgs, counts []byte
}

// Pop takes up to req.MaxMsgs messages as Java's PopMessageProcessor does:
// with probability RetryProbability the retry topic first, then the
// queue(s) of the topic, then the retry topic if the batch is not full
// (FIFO pops never read retry topics). A queue another pop is reading is
// skipped. Non-FIFO pops write one checkpoint per queue read.
func (s *Service) Pop(ctx context.Context, req Request) (Result, error) {
	if req.MaxMsgs <= 0 || req.MaxMsgs > MaxBatch {
		req.MaxMsgs = MaxBatch
	}
	acc := &popAcc{}
	acc.PopTime, acc.InvisibleTime = s.nowMs(), req.InvisibleTime
	rq := int32(OrderReviveQueue)
	if !req.Order {
		rq = s.reviveQid()
	}
	acc.ReviveQid = rq
	r := randomQ()
	retry := RetryTopicV1(req.Topic, req.Group)
	needRetry := r < s.opts.RetryProbability
	if needRetry && !req.Order {
		if err := s.popTopic(ctx, req, retry, true, r, acc); err != nil {
			return Result{}, err
		}
	}
	if req.QueueID < 0 {
		if err := s.popTopic(ctx, req, req.Topic, false, r, acc); err != nil {
			return Result{}, err
		}
	} else if err := s.popQueue(ctx, req, req.Topic, req.QueueID, false, acc); err != nil {
		return Result{}, err
	}
	if !needRetry && !req.Order && len(acc.Records) < req.MaxMsgs {
		if err := s.popTopic(ctx, req, retry, true, r, acc); err != nil {
			return Result{}, err
		}
	}
	acc.StartOffsetInfo, acc.MsgOffsetInfo, acc.OrderCountInfo = string(acc.start), string(acc.msgs), string(acc.counts)
	return acc.Result, nil
}

func (s *Service) popTopic(ctx context.Context, req Request, topic string, isRetry bool, r int, acc *popAcc) error {
	tc, ok := s.topics.Get(topic)
	if !ok {
		return nil
	}
	n := tc.ReadQueueNums
	for i := range n {
		if err := s.popQueue(ctx, req, topic, int32((r+i)%n), isRetry, acc); err != nil {
			return err
		}
	}
	return nil
}

// startOffset is where a pop of q starts: the consume offset (set by the
// init mode when there is none, or by a pending admin reset) or the
// book's cursor past the ranges in flight, whichever is further.
func (s *Service) startOffset(q QueueKey, initMode int, isRetry bool) int64 {
	if off, ok := s.offsets.TakeReset(q.Group, q.Topic, q.QueueID); ok {
		s.book.Reset(q, off)
		s.order.Lock()
		s.order.Reset(q, off)
		s.order.Unlock()
		s.offsets.Commit(q.Group, q.Topic, q.QueueID, off)
		return off
	}
	committed, ok := s.offsets.Query(q.Group, q.Topic, q.QueueID)
	if !ok {
		minOff := s.st.MinOffset(q.Topic, q.QueueID)
		switch {
		case initMode == InitMin || isRetry || minOff <= 0:
			// Java's MAX mode also starts at 0 while offset 0 is still in
			// the page cache (initPopOffsetByCheckMsgInMem).
			committed = minOff
		default:
			committed = max(s.st.MaxOffset(q.Topic, q.QueueID)-1, 0)
		}
		s.offsets.Commit(q.Group, q.Topic, q.QueueID, committed)
	}
	if cur, ok := s.book.Cursor(q); ok && cur > committed {
		return cur
	}
	return committed
}

func (s *Service) popQueue(ctx context.Context, req Request, topic string, qid int32, isRetry bool, acc *popAcc) error {
	q := QueueKey{topic, req.Group, qid}
	lock := s.queueLock(q)
	if !lock.TryLock() {
		acc.Busy = true
		return nil
	}
	defer lock.Unlock()
	off := s.startOffset(q, req.InitMode, isRetry)
	want := req.MaxMsgs - len(acc.Records)
	if want <= 0 {
		acc.RestNum += max(s.st.MaxOffset(topic, qid)-off, 0)
		return nil
	}
	if req.Order {
		return s.popOrder(ctx, req, q, off, want, acc)
	}
	filter := req.Filter
	if isRetry {
		filter = nil
	}
	res, err := s.st.GetMessages(topic, qid, off, want, 0, filter)
	if err != nil {
		return fmt.Errorf("pop: read %s/%d: %w", topic, qid, err)
	}
	switch res.Status {
	case store.OffsetTooSmall, store.OffsetOverflowBadly, store.OffsetFoundNull:
		s.log.Warn("pop offset corrected", "topic", topic, "group", req.Group, "queue", qid, "from", off, "to", res.NextBeginOffset)
		s.offsets.Commit(req.Group, topic, qid, res.NextBeginOffset)
		s.book.Reset(q, res.NextBeginOffset)
		off = res.NextBeginOffset
		if res, err = s.st.GetMessages(topic, qid, off, want, 0, filter); err != nil {
			return fmt.Errorf("pop: read %s/%d: %w", topic, qid, err)
		}
	}
	acc.RestNum += max(res.MaxOffset-res.NextBeginOffset, 0)
	switch {
	case len(res.Records) > 0:
		ck := &CheckPoint{StartOffset: off, PopTime: acc.PopTime, InvisibleTime: req.InvisibleTime,
			Num: len(res.Records), QueueID: qid, Topic: topic, Group: req.Group, BrokerName: s.opts.BrokerName}
		for _, o := range res.QueueOffsets {
			ck.Diffs = append(ck.Diffs, int32(o-off))
		}
		err := s.putCheckPoint(ctx, ck, acc.ReviveQid, nil, func(ro int64) {
			s.book.AddPop(ck, acc.ReviveQid, ro, res.NextBeginOffset)
		})
		if err != nil {
			s.log.Error("pop checkpoint not stored; messages not delivered", "topic", topic, "queue", qid, "err", err)
			acc.RestNum += int64(len(res.Records))
			return nil
		}
		acc.start = AppendStartOffsetInfo(acc.start, topic, qid, off)
		acc.msgs = AppendMsgOffsetInfo(acc.msgs, topic, qid, res.QueueOffsets)
		for i, rec := range res.Records {
			if isRetry {
				ei := ExtraInfo{CkQueueOffset: off, PopTime: acc.PopTime, InvisibleTime: req.InvisibleTime,
					ReviveQid: acc.ReviveQid, Flag: RetryFlag(topic), BrokerName: s.opts.BrokerName,
					QueueID: qid, QueueOffset: res.QueueOffsets[i], CommitLogOffset: -1}
				if rec, err = recode(rec, req.Topic, ei.String()); err != nil {
					s.log.Error("retry message not re-encoded", "topic", topic, "offset", res.QueueOffsets[i], "err", err)
					continue
				}
			} else {
				rec = append([]byte(nil), rec...)
			}
			acc.Records = append(acc.Records, rec)
		}
	case res.NextBeginOffset > off:
		s.settling.RLock()
		s.apply(s.book.AddMock(q, off, res.NextBeginOffset))
		s.settling.RUnlock()
	}
	return nil
}

// recode rewrites a retry-topic record under the original topic with the
// POP_CK property (unless it has one), as Java does for retry messages.
func recode(rec []byte, topic, popCK string) ([]byte, error) {
	m, _, err := message.Decode(rec, false)
	if err != nil {
		return nil, err
	}
	m.Topic = topic
	if v, _ := message.Property(m.Properties, PropertyPopCK); v == "" {
		m.Properties = message.EditProperties(m.Properties, message.PropertyEdit{Name: PropertyPopCK, Value: popCK})
	}
	return m.AppendRecord(nil)
}

// popOrder is a FIFO pop of one queue: from the consume offset, deliver
// every message whose message group has no earlier message in flight,
// moving those delivered retryMaxTimes + 1 times to the DLQ instead.
func (s *Service) popOrder(ctx context.Context, req Request, q QueueKey, committed int64, want int, acc *popAcc) error {
	maxTimes := s.maxTimes(req.Group)
	s.order.Lock()
	defer s.order.Unlock()
	oq := s.order.Queue(q, committed)
	start := oq.Committed
	scan := oq.NewScan(acc.PopTime, req.AttemptID)
	type pick struct {
		off   int64
		rec   []byte
		group string
		count int
	}
	var picks, dead []pick
	off, limit := start, start+s.opts.FIFOScanWindow
	maxOff := s.st.MaxOffset(q.Topic, q.QueueID)
	for len(picks) < want && off < limit && off < maxOff {
		res, err := s.st.GetMessages(q.Topic, q.QueueID, off, 32, 1<<20, req.Filter)
		if err != nil {
			return fmt.Errorf("pop: read %s/%d: %w", q.Topic, q.QueueID, err)
		}
		if res.Status == store.OffsetTooSmall || res.Status == store.OffsetOverflowBadly {
			// The store no longer holds (or never held) these offsets.
			oq.Rebase(res.NextBeginOffset)
			start, off = res.NextBeginOffset, res.NextBeginOffset
			continue
		}
		if res.NextBeginOffset <= off {
			break
		}
		for i, rec := range res.Records {
			qo := res.QueueOffsets[i]
			scan.Skip(off, qo)
			off = qo + 1
			if len(picks) >= want {
				off = qo
				break
			}
			m, _, err := message.Decode(rec, false)
			if err != nil {
				continue
			}
			group, _ := message.Property(m.Properties, PropertyShardingKey)
			ok, count := scan.Visit(qo, group)
			if !ok {
				continue
			}
			if int32(count) > maxTimes {
				dead = append(dead, pick{qo, append([]byte(nil), rec...), group, count})
				continue
			}
			picks = append(picks, pick{qo, append([]byte(nil), rec...), group, count})
		}
		if len(picks) < want {
			scan.Skip(off, res.NextBeginOffset)
			off = res.NextBeginOffset
		}
	}
	if len(dead) > 0 {
		var msgs []*message.Message
		for _, d := range dead {
			m, _, _ := message.Decode(d.rec, false)
			ck := &CheckPoint{Topic: q.Topic, Group: q.Group, PopTime: acc.PopTime}
			dm, err := s.retryMessage(ck, &m, -1)
			if err != nil {
				return err
			}
			dm.ReconsumeTimes = int32(d.count)
			msgs = append(msgs, dm)
		}
		if _, err := s.st.PutBatch(ctx, msgs); err != nil {
			s.log.Error("FIFO messages not moved to the DLQ", "topic", q.Topic, "queue", q.QueueID, "err", err)
		} else {
			for _, d := range dead {
				scan.Dead(d.off)
			}
		}
	}
	var offs []int64
	var counts []int
	for _, p := range picks {
		scan.Deliver(p.off, p.group, acc.PopTime, req.InvisibleTime, p.count)
		offs = append(offs, p.off)
		counts = append(counts, p.count)
		acc.Records = append(acc.Records, p.rec)
	}
	s.offsets.Commit(q.Group, q.Topic, q.QueueID, oq.Advance())
	acc.RestNum += max(maxOff-off, 0)
	if len(picks) > 0 {
		acc.start = AppendStartOffsetInfo(acc.start, q.Topic, q.QueueID, start)
		acc.msgs = AppendMsgOffsetInfo(acc.msgs, q.Topic, q.QueueID, offs)
		acc.counts = AppendOrderCountInfo(acc.counts, q.Topic, q.QueueID, offs, counts)
	}
	return nil
}

func (s *Service) maxTimes(group string) int32 {
	if gc, ok := s.groups.Get(group); ok {
		return int32(gc.RetryMaxTimes)
	}
	return 16
}
