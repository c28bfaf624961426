package bench

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/pop"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// Pop consumption (W3:pop).
const (
	// PopBatch is maxMsgNums of every POP_MESSAGE: the most the broker
	// allows (pop.MaxBatch).
	PopBatch = pop.MaxBatch
	// PopMaxUnacked bounds the messages popped (or being popped) and not
	// yet acknowledged, as JetStream's MaxAckPending 1,000 does.
	PopMaxUnacked = 1000
	// popInvisible is the invisible time of the pops: far longer than any
	// message waits for its ack, so nothing is redelivered.
	popInvisible = 60 * time.Second
)

// popper is one pop consumer's state.
type popper struct {
	cfg   Config
	tgt   *Target
	want  int64
	rec   *recorder
	conns map[string]*remoting.Conn // by broker address
	// tokens holds a token per message that may be unacknowledged: a pop
	// takes PopBatch, gives back what it did not return, and each ack's
	// answer gives back one.
	tokens    chan struct{}
	responses chan popAnswer
	pops      sync.WaitGroup // pop answers not yet handled
	acks      sync.WaitGroup // acks in flight
	distinct  atomic.Int64
	// Handler goroutine only.
	seen map[Queue][]uint64 // queue offsets received, a bit each
	dups int64
	// Ack round trips, from the read loops.
	slots   []ackSlot
	free    chan int
	latMu   sync.Mutex
	lat     Histogram
	errs    atomic.Int64
	errMu   sync.Mutex
	errText string
}

type popAnswer struct {
	q    Queue // Addr and Broker of the broker popped
	resp *protocol.Command
	err  error
}

type ackSlot struct {
	sent time.Time
	done func(*protocol.Command, error)
}

func (p *popper) fail(err error) {
	p.errs.Add(1)
	p.errMu.Lock()
	if p.errText == "" {
		p.errText = err.Error()
	}
	p.errMu.Unlock()
}

// take takes n tokens, false when ctx ends first (the tokens taken so far
// are given back).
func (p *popper) take(ctx context.Context, n int) bool {
	for i := range n {
		select {
		case <-p.tokens:
		case <-ctx.Done():
			p.give(i)
			return false
		}
	}
	return true
}

func (p *popper) give(n int) {
	for range n {
		p.tokens <- struct{}{}
	}
}

func popRequest(group, topic string) *protocol.Command {
	return protocol.NewRequest(protocol.PopMessage, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": "-1", "maxMsgNums": strconv.Itoa(PopBatch),
		"invisibleTime": strconv.FormatInt(popInvisible.Milliseconds(), 10), "pollTime": "0",
		"bornTime": "0", "initMode": strconv.Itoa(pop.InitMin), "expType": "TAG", "exp": "*", "order": "false",
	})
}

// popLoop pops queue q until every wanted message arrived or ctx ends:
// one pop in flight, the next sent as soon as the last is answered (the
// answer goes to the handler), as long as the window has room for a full
// batch.
func (p *popper) popLoop(ctx context.Context, q Queue) {
	c := p.conns[q.Addr]
	req := popRequest(p.cfg.Group, p.tgt.Topic)
	req.ExtFields["queueId"] = strconv.Itoa(int(q.ID))
	empty := false
	for p.distinct.Load() < p.want && ctx.Err() == nil {
		if !p.take(ctx, PopBatch) {
			return
		}
		if p.distinct.Load() >= p.want {
			p.give(PopBatch)
			return
		}
		if empty {
			// Drained, with messages of other queues still arriving (or
			// the dispatcher behind): look again shortly.
			time.Sleep(time.Millisecond)
		}
		req.ExtFields["bornTime"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
		p.pops.Add(1)
		resp, err := c.Invoke(ctx, req)
		empty = err == nil && resp.Code == protocol.PollingTimeout
		p.responses <- popAnswer{q: q, resp: resp, err: err}
		if err != nil {
			return
		}
	}
}

// handle consumes pop answers: it marks every message received, gives
// back the tokens of the messages a pop did not return and acknowledges
// each message with its own ACK_MESSAGE (request/response, sent without
// waiting; the answer gives the message's token back).
func (p *popper) handle(ctx context.Context) {
	ack := protocol.NewRequest(protocol.AckMessage, map[string]string{
		"consumerGroup": p.cfg.Group, "topic": "", "queueId": "", "offset": "", "extraInfo": "",
	})
	qids := map[int32]string{}
	var handle []byte
	for a := range p.responses {
		n := p.handleOne(ctx, a, ack, qids, &handle)
		p.give(PopBatch - n)
		p.pops.Done()
	}
}

// handleOne handles one pop answer and returns how many messages it held.
func (p *popper) handleOne(ctx context.Context, a popAnswer, ack *protocol.Command, qids map[int32]string, handle *[]byte) int {
	if a.err != nil {
		if ctx.Err() == nil {
			p.fail(fmt.Errorf("bench: pop: %w", a.err))
		}
		return 0
	}
	r := a.resp
	switch r.Code {
	case protocol.Success:
	case protocol.PollingTimeout:
		return 0
	default:
		p.fail(&CodeError{Request: protocol.PopMessage, Code: r.Code, Remark: r.Remark})
		return 0
	}
	popTime, err1 := strconv.ParseInt(r.Ext("popTime"), 10, 64)
	inv, err2 := strconv.ParseInt(r.Ext("invisibleTime"), 10, 64)
	rq, err3 := strconv.ParseInt(r.Ext("reviveQid"), 10, 32)
	start, err4 := pop.ParseStartOffsetInfo(r.Ext("startOffsetInfo"))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		p.fail(fmt.Errorf("bench: pop response header: %w", err))
		return 0
	}
	n := 0
	for b := r.Body; len(b) > 0; {
		m, k, err := message.Decode(b, false)
		if err != nil {
			p.fail(fmt.Errorf("bench: popped record: %w", err))
			break
		}
		b = b[k:]
		n++
		ei := pop.ExtraInfo{PopTime: popTime, InvisibleTime: inv, ReviveQid: int32(rq), Flag: pop.FlagNormal,
			BrokerName: a.q.Broker, QueueID: m.QueueID, QueueOffset: m.QueueOffset, CommitLogOffset: -1}
		topic := m.Topic
		if ck, _ := message.Property(m.Properties, pop.PropertyPopCK); ck != "" {
			// A retry message: a redelivery of one received before.
			if ei, err = pop.ParseExtraInfo(ck); err != nil {
				p.fail(fmt.Errorf("bench: popped handle: %w", err))
				continue
			}
			if topic, err = pop.RealTopic(topic, p.cfg.Group, ei.Flag); err != nil {
				p.fail(fmt.Errorf("bench: popped handle: %w", err))
				continue
			}
			p.dups++
		} else {
			so, ok := start[pop.OffsetInfoKey(ei.Flag, m.QueueID)]
			if !ok {
				p.fail(fmt.Errorf("bench: no start offset for queue %d in %q", m.QueueID, r.Ext("startOffsetInfo")))
				continue
			}
			ei.CkQueueOffset = so
			p.mark(Queue{Addr: a.q.Addr, ID: m.QueueID, Broker: a.q.Broker}, m.QueueOffset)
		}
		qid, ok := qids[ei.QueueID]
		if !ok {
			qid = strconv.Itoa(int(ei.QueueID))
			qids[ei.QueueID] = qid
		}
		*handle = ei.Append((*handle)[:0])
		ack.ExtFields["topic"], ack.ExtFields["queueId"] = topic, qid
		ack.ExtFields["offset"] = strconv.FormatInt(ei.QueueOffset, 10)
		ack.ExtFields["extraInfo"] = string(*handle)
		k2 := <-p.free
		p.slots[k2].sent = time.Now()
		p.acks.Add(1)
		if err := p.conns[a.q.Addr].InvokeAsync(ctx, ack, p.slots[k2].done); err != nil {
			p.acks.Done()
			p.free <- k2
			p.give(1)
			if ctx.Err() == nil {
				p.fail(fmt.Errorf("bench: ack: %w", err))
			}
		}
	}
	return n
}

// mark records that q's message at off arrived; a second arrival is a
// duplicate.
func (p *popper) mark(q Queue, off int64) {
	bs := p.seen[q]
	w := int(off >> 6)
	if w >= len(bs) {
		bs = append(bs, make([]uint64, w+1-len(bs)+len(bs)/2)...)
		p.seen[q] = bs
	}
	bit := uint64(1) << (off & 63)
	if bs[w]&bit != 0 {
		p.dups++
		return
	}
	bs[w] |= bit
	p.distinct.Add(1)
	p.rec.count(1)
}

// ackDone returns slot k's ack callback.
func (p *popper) ackDone(k int) func(*protocol.Command, error) {
	return func(resp *protocol.Command, err error) {
		if err == nil && resp.Code != protocol.Success {
			err = &CodeError{Request: protocol.AckMessage, Code: resp.Code, Remark: resp.Remark}
		}
		if err != nil {
			p.fail(fmt.Errorf("bench: ack: %w", err))
		} else {
			d := time.Since(p.slots[k].sent)
			p.latMu.Lock()
			p.lat.RecordDuration(d)
			p.latMu.Unlock()
		}
		p.free <- k
		p.give(1)
		p.acks.Done()
	}
}

// received counts the distinct offsets of q below max.
func received(bs []uint64, max int64) int64 {
	var n int64
	for w, x := range bs {
		lo := int64(w) << 6
		if lo >= max {
			break
		}
		if max-lo < 64 {
			x &= uint64(1)<<(max-lo) - 1
		}
		n += int64(bits.OnesCount64(x))
	}
	return n
}

// maxOffset asks a broker for a queue's max offset (GET_MAX_OFFSET).
func maxOffset(ctx context.Context, c *remoting.Conn, topic string, q Queue) (int64, error) {
	r, err := expect(protocol.GetMaxOffset, protocol.Success)(c.Invoke(ctx, protocol.NewRequest(protocol.GetMaxOffset,
		map[string]string{"topic": topic, "queueId": strconv.Itoa(int(q.ID))})))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(r.Ext("offset"), 10, 64)
}

// PopConsume drains tgt from its first message with one pop consumer:
// one connection per broker (one in all for a single broker), for each
// queue a POP_MESSAGE of PopBatch (invisible time 60 s) in flight, the
// next sent as soon as the last is answered, while one goroutine consumes
// the answers, as the PULL drain does; a queue's next pop waits until the
// window has room for a full batch, so at most PopMaxUnacked messages are
// popped (or being popped) and not acknowledged. Every message is
// acknowledged with its own ACK_MESSAGE, request/response: sent as soon as
// its message is handled, without waiting for the acks before it, its
// answer freeing the message's place in the window. (Pops of queueId -1
// with up to 31 in flight, the broker picking the queues, ran as fast in a
// test on a 2-core machine, with twice the ack latency.) It runs until
// cfg.Count distinct messages (required) arrived and their acks were
// answered, or cfg.Duration passes.
//
// Then it checks: every queue offset below each queue's max offset
// arrived exactly once (Result.Missing, Result.Duplicates; a redelivery
// from the retry topic is a duplicate), every ack succeeded, one more pop
// finds nothing, and the group's consume offset of every queue, which pop
// moves past a popped range once all of it is acknowledged, reaches the
// queue's max offset (Result.Committed is their sum). Each failure counts
// in Result.Errors and makes the error returned. Latency is the ack's
// round trip.
func PopConsume(ctx context.Context, cfg Config, tgt *Target) (Result, error) {
	cfg.fill()
	if cfg.Count <= 0 {
		return Result{}, errors.New("bench: a pop drain needs a message count")
	}
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	p := &popper{
		cfg: cfg, tgt: tgt, want: int64(cfg.Count), conns: map[string]*remoting.Conn{},
		tokens: make(chan struct{}, PopMaxUnacked), responses: make(chan popAnswer, len(tgt.Queues)),
		seen: map[Queue][]uint64{}, slots: make([]ackSlot, PopMaxUnacked), free: make(chan int, PopMaxUnacked),
	}
	p.give(PopMaxUnacked)
	for k := range p.slots {
		p.slots[k].done = p.ackDone(k)
		p.free <- k
	}
	for _, q := range tgt.Queues {
		if _, ok := p.conns[q.Addr]; ok {
			continue
		}
		c, err := cl.Conn(ctx, q.Addr)
		if err != nil {
			return Result{}, err
		}
		p.conns[q.Addr] = c
	}
	m := newMeter(cfg.Name, cfg.Size, cfg.Progress)
	p.rec = m.recorder()
	m.begin()
	rctx, cancel := context.WithDeadline(ctx, m.start.Add(cfg.Duration))
	defer cancel()
	handled := make(chan struct{})
	go func() { p.handle(rctx); close(handled) }()
	var loops sync.WaitGroup
	for _, q := range tgt.Queues {
		loops.Go(func() { p.popLoop(rctx, q) })
	}
	loops.Wait()
	// Every pop answer is handled, then every ack is answered; closing
	// the connection ends any that hang.
	waitOr := func(wg *sync.WaitGroup) {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(drainTimeout):
			cl.Close()
			<-done
		}
	}
	waitOr(&p.pops)
	close(p.responses)
	<-handled
	waitOr(&p.acks)
	_, n, el := m.end()
	r := Result{Workload: cfg.Name, Topic: tgt.Topic, Batch: PopBatch}
	r.setRate(n, el, cfg.Size)
	r.setLatency(&p.lat)
	err := p.verify(ctx, &r)
	r.Errors += p.errs.Load()
	if p.errText != "" {
		r.FirstError = p.errText
		err = errors.Join(err, errors.New(p.errText))
	}
	return r, err
}

// verify checks that everything arrived once and was acknowledged (see
// PopConsume) and fills r's Missing, Duplicates and Committed.
func (p *popper) verify(ctx context.Context, r *Result) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var (
		missing, sum int64
		errs         []error
	)
	maxOffs := make([]int64, len(p.tgt.Queues))
	for i, q := range p.tgt.Queues {
		mo, err := maxOffset(ctx, p.conns[q.Addr], p.tgt.Topic, q)
		if err != nil {
			return err
		}
		maxOffs[i] = mo
		missing += mo - received(p.seen[Queue{Addr: q.Addr, ID: q.ID, Broker: q.Broker}], mo)
	}
	dups := p.dups
	r.Missing, r.Duplicates = &missing, &dups
	if missing > 0 || dups > 0 {
		r.Errors += missing + dups
		errs = append(errs, fmt.Errorf("bench: %s: %d messages never arrived, %d arrived more than once", r.Workload, missing, dups))
	}
	// One more pop of each broker finds nothing.
	for addr, c := range p.conns {
		req := popRequest(p.cfg.Group, p.tgt.Topic)
		req.ExtFields["bornTime"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
		resp, err := expect(protocol.PopMessage, protocol.Success, protocol.PollingTimeout)(c.Invoke(ctx, req))
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("bench: final pop: %w", err))...)
		}
		if resp.Code == protocol.Success {
			r.Errors++
			errs = append(errs, fmt.Errorf("bench: %s: a final pop of %s still found messages (restNum %s)", r.Workload, addr, resp.Ext("restNum")))
		}
	}
	// The consume offsets reach the max offsets once every ack is applied
	// (an ack applies its commit before it is answered: a short wait is
	// plenty).
	octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
	defer ocancel()
	for i, q := range p.tgt.Queues {
		c := p.conns[q.Addr]
		var got int64
		for {
			var err error
			if got, err = committed(ctx, c, p.cfg.Group, p.tgt.Topic, q); err != nil {
				return errors.Join(append(errs, err)...)
			}
			if got >= maxOffs[i] || octx.Err() != nil {
				break
			}
			select {
			case <-octx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
		if got != maxOffs[i] {
			r.Errors++
			errs = append(errs, fmt.Errorf("bench: %s: the consume offset of queue %d is %d, its max offset %d", r.Workload, q.ID, got, maxOffs[i]))
		}
		sum += got
	}
	r.Committed = &sum
	return errors.Join(errs...)
}
