package pop

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Inflight is a FIFO message handed out and not yet acknowledged.
type Inflight struct {
	PopTime     int64  `json:"pt"`
	Invisible   int64  `json:"it"`
	NextVisible int64  `json:"nv"` // popTime + invisible, or as ChangeInvisibleTime set it
	Count       int    `json:"c"`  // earlier deliveries (reconsume times)
	Attempt     string `json:"a,omitempty"`
	Group       string `json:"g,omitempty"` // message group (__SHARDINGKEY)
}

// OrderQueue is the FIFO state of one queue for one group: every offset
// below Committed is done; above it, Done holds the offsets acked (or
// filtered out, or dead-lettered) out of order and Inflight the ones handed
// out. A message is held back while an earlier message of its message
// group is in flight and invisible, so one slow group does not stall the
// others of its queue (RocketMQ blocks the whole queue).
type OrderQueue struct {
	Committed int64               `json:"co"`
	Inflight  map[int64]*Inflight `json:"in,omitempty"`
	Done      map[int64]bool      `json:"dn,omitempty"`
}

func newOrderQueue(committed int64) *OrderQueue {
	return &OrderQueue{Committed: committed, Inflight: map[int64]*Inflight{}, Done: map[int64]bool{}}
}

// Scan decides, offset by offset in queue order, what one FIFO pop
// delivers. Visit each message from Committed on; Skip the offsets a filter
// passed over.
type Scan struct {
	q       *OrderQueue
	now     int64
	attempt string
	blocked map[string]bool
}

// NewScan starts a pop at time now with the request's attempt id.
func (q *OrderQueue) NewScan(now int64, attempt string) *Scan {
	return &Scan{q: q, now: now, attempt: attempt, blocked: map[string]bool{}}
}

// Skip marks [from, to) done: the pop's filter does not select them.
func (s *Scan) Skip(from, to int64) {
	for o := max(from, s.q.Committed); o < to; o++ {
		if s.q.Inflight[o] == nil {
			s.q.Done[o] = true
		}
	}
}

// Visit decides about the message at off of message group group: deliver
// it (count = its earlier deliveries) or not (done, or held back behind an
// invisible message of its group).
func (s *Scan) Visit(off int64, group string) (deliver bool, count int) {
	q := s.q
	if off < q.Committed || q.Done[off] || s.blocked[group] {
		return false, 0
	}
	in := q.Inflight[off]
	if in == nil {
		return true, 0
	}
	if s.attempt != "" && s.attempt == in.Attempt {
		return true, in.Count // the same pop again: its answer was lost
	}
	if s.now < in.NextVisible {
		s.blocked[group] = true
		return false, 0
	}
	return true, in.Count + 1
}

// Deliver records that off was handed out.
func (s *Scan) Deliver(off int64, group string, popTime, invisible int64, count int) {
	s.q.Inflight[off] = &Inflight{PopTime: popTime, Invisible: invisible, NextVisible: popTime + invisible,
		Count: count, Attempt: s.attempt, Group: group}
}

// Dead marks off done without delivering it (moved to the DLQ).
func (s *Scan) Dead(off int64) {
	delete(s.q.Inflight, off)
	s.q.Done[off] = true
}

// Advance moves Committed past the leading done offsets and returns it.
func (q *OrderQueue) Advance() int64 {
	for q.Done[q.Committed] {
		delete(q.Done, q.Committed)
		q.Committed++
	}
	return q.Committed
}

// lookup checks a handle of a FIFO message against the state.
func (q *OrderQueue) lookup(off, popTime, now int64) (*Inflight, bool, error) {
	if off < q.Committed || q.Done[off] {
		return nil, true, nil
	}
	in := q.Inflight[off]
	switch {
	case in == nil:
		return nil, false, fmt.Errorf("%w: offset %d is not in flight", ErrHandleUnknown, off)
	case in.PopTime != popTime:
		return nil, false, fmt.Errorf("%w: offset %d was popped again at %d", ErrHandleUnknown, off, in.PopTime)
	case now >= in.NextVisible:
		return nil, false, fmt.Errorf("%w: offset %d was invisible until %d", ErrHandleExpired, off, in.NextVisible)
	}
	return in, false, nil
}

// Ack acknowledges the message at off popped at popTime. Acking a done
// offset again is not an error; a handle from an earlier pop of the offset
// is ErrHandleUnknown, one past its invisible time ErrHandleExpired.
func (q *OrderQueue) Ack(off, popTime, now int64) error {
	_, done, err := q.lookup(off, popTime, now)
	if err != nil || done {
		return err
	}
	delete(q.Inflight, off)
	q.Done[off] = true
	q.Advance()
	return nil
}

// Change makes the message at off invisible until now + invisible and
// returns that time.
func (q *OrderQueue) Change(off, popTime, now, invisible int64) (int64, error) {
	in, done, err := q.lookup(off, popTime, now)
	if err != nil {
		return 0, err
	}
	if done {
		return 0, fmt.Errorf("%w: offset %d is already acknowledged", ErrHandleUnknown, off)
	}
	in.NextVisible = now + invisible
	return in.NextVisible, nil
}

// Rebase drops the state and starts again at committed (the consume offset
// was moved from outside).
func (q *OrderQueue) Rebase(committed int64) {
	q.Committed = committed
	clear(q.Inflight)
	clear(q.Done)
}

// NextVisible is the earliest time an in-flight message becomes visible
// again after now, if any.
func (q *OrderQueue) NextVisible(now int64) (int64, bool) {
	var t int64
	ok := false
	for _, in := range q.Inflight {
		if in.NextVisible > now && (!ok || in.NextVisible < t) {
			t, ok = in.NextVisible, true
		}
	}
	return t, ok
}

// OrderBook holds the FIFO state of every queue. Its mutex guards all
// OrderQueues; callers Lock it around a Scan or an Ack.
type OrderBook struct {
	sync.Mutex
	queues map[QueueKey]*OrderQueue
}

// NewOrderBook returns an empty book.
func NewOrderBook() *OrderBook { return &OrderBook{queues: map[QueueKey]*OrderQueue{}} }

// Queue returns the state of q, created at committed if new. A consume
// offset ahead of the state (moved from outside) drops what lies below
// it; one behind is stale (offsets and this book are written at different
// moments) and the state wins: callers commit q.Committed. Hold the lock.
func (b *OrderBook) Queue(q QueueKey, committed int64) *OrderQueue {
	oq := b.queues[q]
	switch {
	case oq == nil:
		oq = newOrderQueue(committed)
		b.queues[q] = oq
	case committed > oq.Committed:
		for o := range oq.Inflight {
			if o < committed {
				delete(oq.Inflight, o)
			}
		}
		for o := range oq.Done {
			if o < committed {
				delete(oq.Done, o)
			}
		}
		oq.Committed = committed
		oq.Advance()
	}
	return oq
}

// Reset starts q again at committed (an administrative offset reset).
// Hold the lock.
func (b *OrderBook) Reset(q QueueKey, committed int64) {
	if oq := b.queues[q]; oq != nil {
		oq.Rebase(committed)
	}
}

// Lookup returns the state of q if any. Hold the lock.
func (b *OrderBook) Lookup(q QueueKey) *OrderQueue { return b.queues[q] }

// NextVisible is the earliest time any FIFO message becomes visible again.
func (b *OrderBook) NextVisible(now int64) (int64, bool) {
	b.Lock()
	defer b.Unlock()
	var t int64
	ok := false
	for _, q := range b.queues {
		if v, has := q.NextVisible(now); has && (!ok || v < t) {
			t, ok = v, true
		}
	}
	return t, ok
}

type orderEntry struct {
	Topic   string `json:"t"`
	Group   string `json:"c"`
	QueueID int32  `json:"q"`
	*OrderQueue
}

// Encode writes the book as JSON (config/popOrderInfo.json). Queues with
// nothing in flight and nothing done out of order are left out.
func (b *OrderBook) Encode() []byte {
	b.Lock()
	defer b.Unlock()
	var list []orderEntry
	for k, q := range b.queues {
		if len(q.Inflight) == 0 && len(q.Done) == 0 {
			continue
		}
		list = append(list, orderEntry{k.Topic, k.Group, k.QueueID, q})
	}
	slices.SortFunc(list, func(x, y orderEntry) int {
		if x.Topic+x.Group != y.Topic+y.Group {
			if x.Topic+"@"+x.Group < y.Topic+"@"+y.Group {
				return -1
			}
			return 1
		}
		return int(x.QueueID - y.QueueID)
	})
	out, _ := json.Marshal(map[string]any{"queues": list})
	return out
}

// DecodeOrderBook reads what Encode wrote.
func DecodeOrderBook(data []byte) (*OrderBook, error) {
	var f struct {
		Queues []orderEntry `json:"queues"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: order book: %v", ErrBadRecord, err)
	}
	b := NewOrderBook()
	for _, e := range f.Queues {
		if e.OrderQueue == nil || e.Topic == "" || e.Group == "" {
			return nil, fmt.Errorf("%w: order book entry without topic, group or state", ErrBadRecord)
		}
		if e.Inflight == nil {
			e.Inflight = map[int64]*Inflight{}
		}
		if e.Done == nil {
			e.Done = map[int64]bool{}
		}
		for o, in := range e.Inflight {
			if in == nil {
				delete(e.Inflight, o)
			}
		}
		b.queues[QueueKey{e.Topic, e.Group, e.QueueID}] = e.OrderQueue
	}
	return b, nil
}
