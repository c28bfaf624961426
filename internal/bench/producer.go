package bench

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// plan says where each message goes and what it carries besides the body;
// the zero plan sends to tgt.Topic, each producer cycling over the queues.
type plan struct {
	// dest returns the topic and queue of message i.
	dest func(i int64) (string, Queue)
	// prepare may rewrite body for message i and returns extra properties
	// (RocketMQ's encoding: name 0x01 value 0x02 …).
	prepare func(i int64, body []byte) string
}

// drainTimeout bounds the wait for the acks of messages in flight when a
// run ends; then the connection is closed and they count as errors.
const drainTimeout = 30 * time.Second

// maxSendErrors ends a run early.
const maxSendErrors = 1000

// uniqIDs makes UNIQ_KEY values as RocketMQ clients do
// (MessageClientIDSetter: IPv4, pid, a per-process value, ms since the
// start of the month, a counter; 32 upper-case hex digits), so that the
// broker stores what it would store from a real client.
type uniqIDs struct {
	prefix string // the fixed first 10 bytes, in hex
	month  time.Time
	seq    atomic.Uint32
}

func newUniqIDs() *uniqIDs {
	var b [10]byte
	copy(b[:4], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(b[4:], uint16(os.Getpid()))
	binary.BigEndian.PutUint32(b[6:], uint32(time.Now().UnixNano()))
	now := time.Now()
	return &uniqIDs{
		prefix: strings.ToUpper(hex.EncodeToString(b[:])),
		month:  time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()),
	}
}

// appendProperty appends UNIQ_KEY=<next id> to dst in property encoding.
func (u *uniqIDs) appendProperty(dst []byte, now time.Time) []byte {
	var b [6]byte
	binary.BigEndian.PutUint32(b[:], uint32(now.Sub(u.month).Milliseconds()))
	binary.BigEndian.PutUint16(b[4:], uint16(u.seq.Add(1)))
	dst = append(dst, "UNIQ_KEY\x01"...)
	dst = append(dst, u.prefix...)
	dst = hex.AppendEncode(dst, b[:])
	for i := len(dst) - 12; i < len(dst); i++ { // upper case, as Java's
		if c := dst[i]; c >= 'a' {
			dst[i] = c - 'a' + 'A'
		}
	}
	return append(dst, 0x02)
}

// producer is one producer: its connection and a window of slots, one per
// message in flight. A slot is taken before a send and given back by the
// send's callback, so at most Window sends are unacknowledged and nothing
// is allocated per message but the request's frame bytes.
type producer struct {
	conn  *remoting.Conn
	cl    *remoting.Client
	tgt   *Target
	rec   *recorder
	free  chan int // slots not in flight
	slots []slot
	errs  *atomic.Int64
	fail  func(error)
	wg    sync.WaitGroup
}

type slot struct {
	due  time.Time
	done func(*protocol.Command, error)
}

// produceRun sends messages from cfg.Producers connections with cfg.Window
// in flight each (SEND_MESSAGE_V2 sent asynchronously, acks matched by
// opaque), returning the errors and the first fatal one. Latency is from
// the due time when paced (no coordinated omission), else from the send.
func produceRun(ctx context.Context, cfg Config, tgt *Target, m *meter, sch *schedule, pl plan) (int64, error) {
	var (
		errCount atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	ids := newUniqIDs()
	prods := make([]*producer, cfg.Producers)
	defer func() {
		for _, p := range prods {
			if p != nil {
				p.cl.Close()
			}
		}
	}()
	for i := range prods {
		p := &producer{cl: remoting.NewClient(remoting.ClientOptions{}), tgt: tgt, rec: m.recorder(), errs: &errCount, fail: fail}
		prods[i] = p
		// Dial now, so that connecting is not in the first latency.
		var err error
		if p.conn, err = p.cl.Conn(ctx, tgt.Queues[0].Addr); err != nil {
			return 0, err
		}
		p.free = make(chan int, cfg.Window)
		p.slots = make([]slot, cfg.Window)
		for k := range p.slots {
			p.slots[k].done = p.ack(k)
			p.free <- k
		}
	}
	for n, p := range prods {
		wg.Go(func() { p.run(ctx, cfg, sch, pl, ids, n) })
	}
	wg.Wait()
	return errCount.Load(), firstErr
}

// ack returns slot k's callback.
func (p *producer) ack(k int) func(*protocol.Command, error) {
	return func(resp *protocol.Command, err error) {
		if err == nil && resp.Code != protocol.Success {
			err = &CodeError{Request: protocol.SendMessageV2, Code: resp.Code, Remark: resp.Remark}
		}
		if err != nil {
			if p.errs.Add(1) > maxSendErrors {
				p.fail(fmt.Errorf("bench: too many send errors, last: %w", err))
			}
		} else {
			p.rec.record(time.Since(p.slots[k].due))
		}
		p.free <- k
		p.wg.Done()
	}
}

// run sends until the schedule ends, then waits for the acks in flight.
func (p *producer) run(ctx context.Context, cfg Config, sch *schedule, pl plan, ids *uniqIDs, n int) {
	body := payload(cfg.Size)
	queueIDs := make(map[int32]string)
	ext := map[string]string{
		"a": "quiver-bench", "b": p.tgt.Topic, "c": "TBW102", "d": "4", "e": "0", "f": "0", "g": "0",
		"h": "0", "i": "", "j": "0", "k": "false",
	}
	req := &protocol.Command{Code: protocol.SendMessageV2, Language: protocol.LanguageGo, Version: protocol.Version, ExtFields: ext}
	var (
		props     []byte
		bornMs    int64
		bornStr   string
		rr        = n // round-robin over queues, per producer
		conns     = map[string]*remoting.Conn{p.tgt.Queues[0].Addr: p.conn}
		queueName = func(id int32) string {
			s, ok := queueIDs[id]
			if !ok {
				s = strconv.Itoa(int(id))
				queueIDs[id] = s
			}
			return s
		}
	)
	defer p.drain()
	for {
		var k int
		select {
		case k = <-p.free:
		case <-ctx.Done():
			return
		}
		i, due, ok := sch.take()
		if !ok || ctx.Err() != nil {
			p.free <- k
			return
		}
		topic, q := p.tgt.Topic, Queue{}
		if pl.dest != nil {
			topic, q = pl.dest(i)
		} else {
			q = p.tgt.Queues[rr%len(p.tgt.Queues)]
			rr++
		}
		c := conns[q.Addr]
		if c == nil {
			var err error
			if c, err = p.cl.Conn(ctx, q.Addr); err != nil {
				p.fail(err)
				p.free <- k
				return
			}
			conns[q.Addr] = c
		}
		now := time.Now()
		if (sch.stamp || sch.interval > 0) && len(body) >= 16 {
			binary.LittleEndian.PutUint64(body, uint64(due.UnixNano()))
			binary.LittleEndian.PutUint64(body[8:], uint64(now.UnixNano()))
		}
		props = props[:0]
		if pl.prepare != nil {
			props = append(props, pl.prepare(i, body)...)
		}
		props = ids.appendProperty(props, now)
		if ms := now.UnixMilli(); ms != bornMs {
			bornMs, bornStr = ms, strconv.FormatInt(ms, 10)
		}
		ext["b"], ext["e"], ext["g"], ext["i"] = topic, queueName(q.ID), bornStr, string(props)
		req.Body = body
		p.slots[k].due = due
		p.wg.Add(1)
		// The frame is encoded before InvokeAsync returns: req and body
		// are free for the next message.
		if err := c.InvokeAsync(ctx, req, p.slots[k].done); err != nil {
			p.wg.Done()
			p.free <- k
			if ctx.Err() == nil {
				p.fail(fmt.Errorf("bench: send: %w", err))
			}
			return
		}
	}
}

// drain waits for the acks in flight, at most drainTimeout; then it closes
// the connections, which fails the calls still waiting.
func (p *producer) drain() {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		p.cl.Close()
		<-done
	}
}
