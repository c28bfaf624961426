package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata"
	"github.com/quiver-mq/quiver/internal/pop"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// popEnv is a broker and a Remoting client speaking Java's pop codes, as
// the gRPC proxy does.
type popEnv struct {
	t    *testing.T
	dir  string
	s    *Server
	cl   *remoting.Client
	addr string
}

func startPop(t *testing.T, dir string) *popEnv {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Start(Options{DataDir: dir, NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0", Broker: func(o *broker.Options) {
		o.Store.SegmentSize = 16 << 20
		o.Store.IndexSlots = 10_000
		o.Store.IndexEntries = 40_000
		o.Store.WarmSegments = false
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := &popEnv{t: t, dir: dir, s: s, cl: remoting.NewClient(remoting.ClientOptions{}), addr: s.BrokerAddr()}
	t.Cleanup(e.close)
	return e
}

func (e *popEnv) close() {
	if e.s != nil {
		e.cl.Close()
		e.s.Close()
		e.s = nil
	}
}

// restart stops the server and starts a new one on the same directory.
func (e *popEnv) restart() {
	e.close()
	n := startPop(e.t, e.dir)
	*e = *n
}

func (e *popEnv) call(req *protocol.Command) *protocol.Command {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := e.cl.Invoke(ctx, e.addr, req)
	if err != nil {
		e.t.Fatalf("code %d: %v", req.Code, err)
	}
	return r
}

func (e *popEnv) createTopic(topic string, queues int) {
	e.t.Helper()
	adminCall(e.t, e.cl, e.addr, protocol.NewRequest(protocol.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "readQueueNums": strconv.Itoa(queues), "writeQueueNums": strconv.Itoa(queues), "perm": "6",
	}), protocol.Success)
}

func (e *popEnv) send(topic string, queue int, body string, props map[string]string) {
	e.t.Helper()
	if props == nil {
		props = map[string]string{}
	}
	props[message.PropertyUniqKey] = "U-" + body
	req := protocol.NewRequest(protocol.SendMessage, map[string]string{
		"producerGroup": "PGPop", "topic": topic, "queueId": strconv.Itoa(queue), "sysFlag": "0",
		"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0",
		"properties": string(message.EncodeProperties(props)), "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
	})
	req.Body = []byte(body)
	adminCall(e.t, e.cl, e.addr, req, protocol.Success)
}

// popped is one message of a pop with the fields the proxy derives.
type popped struct {
	body      string
	group     string // __SHARDINGKEY
	handle    pop.ExtraInfo
	realTopic string
	reconsume int32
}

type popOpts struct {
	max       int
	invisible time.Duration
	poll      time.Duration
	order     bool
	exp       string
	expType   string
	attempt   string
}

// pop pops as the proxy does and decodes the handles as
// MQClientAPIImpl.processPopResponse does.
func (e *popEnv) pop(group, topic string, o popOpts) ([]popped, *protocol.Command) {
	e.t.Helper()
	if o.max == 0 {
		o.max = 32
	}
	ext := map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": "-1", "maxMsgNums": strconv.Itoa(o.max),
		"invisibleTime": strconv.FormatInt(o.invisible.Milliseconds(), 10), "pollTime": strconv.FormatInt(o.poll.Milliseconds(), 10),
		"bornTime": strconv.FormatInt(time.Now().UnixMilli(), 10), "initMode": "1", "order": strconv.FormatBool(o.order),
		"expType": "TAG", "exp": o.exp,
	}
	if o.expType != "" {
		ext["expType"] = o.expType
	}
	if o.attempt != "" {
		ext["attemptId"] = o.attempt
	}
	r := e.call(protocol.NewRequest(protocol.PopMessage, ext))
	if r.Code != protocol.Success {
		if r.Code != protocol.PollingTimeout {
			e.t.Fatalf("pop: %d %s", r.Code, r.Remark)
		}
		return nil, r
	}
	popTime, _ := strconv.ParseInt(r.Ext("popTime"), 10, 64)
	inv, _ := strconv.ParseInt(r.Ext("invisibleTime"), 10, 64)
	rq, _ := strconv.ParseInt(r.Ext("reviveQid"), 10, 32)
	start, err := pop.ParseStartOffsetInfo(r.Ext("startOffsetInfo"))
	if err != nil {
		e.t.Fatal(err)
	}
	counts, err := pop.ParseOrderCountInfo(r.Ext("orderCountInfo"))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []popped
	for b := r.Body; len(b) > 0; {
		m, n, err := message.Decode(b, false)
		if err != nil {
			e.t.Fatalf("pop body: %v", err)
		}
		b = b[n:]
		if m.Topic != topic {
			e.t.Fatalf("message delivered under topic %q, want %q", m.Topic, topic)
		}
		props := message.DecodeProperties(m.Properties)
		p := popped{body: string(m.Body), group: props[pop.PropertyShardingKey], reconsume: m.ReconsumeTimes}
		if ck := props[pop.PropertyPopCK]; ck != "" {
			if p.handle, err = pop.ParseExtraInfo(ck); err != nil {
				e.t.Fatal(err)
			}
		} else {
			flag := pop.RetryFlag(m.Topic)
			so, ok := start[pop.OffsetInfoKey(flag, m.QueueID)]
			if !ok {
				e.t.Fatalf("no start offset for queue %d in %q", m.QueueID, r.Ext("startOffsetInfo"))
			}
			p.handle = pop.ExtraInfo{CkQueueOffset: so, PopTime: popTime, InvisibleTime: inv, ReviveQid: int32(rq),
				Flag: flag, BrokerName: "broker-a", QueueID: m.QueueID, QueueOffset: m.QueueOffset, CommitLogOffset: -1}
			if c, ok := counts[pop.OrderCountKey(flag, m.QueueID, m.QueueOffset)]; ok && c > 0 {
				p.reconsume = int32(c)
			}
		}
		p.realTopic, err = pop.RealTopic(topic, group, p.handle.Flag)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out, r
}

func (e *popEnv) ack(group string, p popped) *protocol.Command {
	e.t.Helper()
	return e.call(protocol.NewRequest(protocol.AckMessage, map[string]string{
		"consumerGroup": group, "topic": p.realTopic, "queueId": strconv.Itoa(int(p.handle.QueueID)),
		"extraInfo": p.handle.String(), "offset": strconv.FormatInt(p.handle.QueueOffset, 10),
	}))
}

func (e *popEnv) mustAck(group string, p popped) {
	e.t.Helper()
	if r := e.ack(group, p); r.Code != protocol.Success {
		e.t.Fatalf("ack %s: %d %s", p.body, r.Code, r.Remark)
	}
}

// change moves p's invisible time and returns p with its new handle.
func (e *popEnv) change(group string, p popped, inv time.Duration) popped {
	e.t.Helper()
	r := e.call(protocol.NewRequest(protocol.ChangeMessageInvisibleTime, map[string]string{
		"consumerGroup": group, "topic": p.realTopic, "queueId": strconv.Itoa(int(p.handle.QueueID)),
		"extraInfo": p.handle.String(), "offset": strconv.FormatInt(p.handle.QueueOffset, 10),
		"invisibleTime": strconv.FormatInt(inv.Milliseconds(), 10),
	}))
	if r.Code != protocol.Success {
		e.t.Fatalf("change invisible time of %s: %d %s", p.body, r.Code, r.Remark)
	}
	pt, _ := strconv.ParseInt(r.Ext("popTime"), 10, 64)
	it, _ := strconv.ParseInt(r.Ext("invisibleTime"), 10, 64)
	rq, _ := strconv.ParseInt(r.Ext("reviveQid"), 10, 32)
	n := p
	n.handle.CkQueueOffset, n.handle.PopTime, n.handle.InvisibleTime, n.handle.ReviveQid = p.handle.QueueOffset, pt, it, int32(rq)
	return n
}

// drain pops until want distinct bodies arrived (each popped message goes
// to f), failing after timeout.
func (e *popEnv) drain(group, topic string, o popOpts, want int, timeout time.Duration, f func(popped)) {
	e.t.Helper()
	seen := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for len(seen) < want {
		if time.Now().After(deadline) {
			e.t.Fatalf("got %d of %d messages", len(seen), want)
		}
		ps, _ := e.pop(group, topic, o)
		for _, p := range ps {
			seen[p.body] = true
			f(p)
		}
	}
}

// dispatched waits until queue q of topic holds n messages.
func (e *popEnv) dispatched(topic string, q int, n int64) {
	e.t.Helper()
	waitFor(e.t, 5*time.Second, "sent messages readable", func() bool { return e.maxOffset(topic, q) >= n })
}

func (e *popEnv) maxOffset(topic string, q int) int64 {
	r := e.call(protocol.NewRequest(protocol.GetMaxOffset, map[string]string{"topic": topic, "queueId": strconv.Itoa(q)}))
	n, _ := strconv.ParseInt(r.Ext("offset"), 10, 64)
	return n
}

// TestPopAckExactlyOnce: 100 messages over four queues are popped and acked
// exactly once; afterwards nothing comes back and the group's consume
// offsets have moved past all of them.
func TestPopAckExactlyOnce(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicPop", 4)
	for i := range 100 {
		e.send("TopicPop", i%4, fmt.Sprintf("m-%03d", i), nil)
	}
	got := map[string]int{}
	e.drain("CGPop", "TopicPop", popOpts{invisible: 30 * time.Second, poll: time.Second}, 100, 15*time.Second, func(p popped) {
		got[p.body]++
		if p.reconsume != 0 {
			t.Errorf("%s: reconsume %d on first delivery", p.body, p.reconsume)
		}
		e.mustAck("CGPop", p)
	})
	for b, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", b, n)
		}
	}
	if ps, r := e.pop("CGPop", "TopicPop", popOpts{invisible: 30 * time.Second, poll: 300 * time.Millisecond}); len(ps) != 0 {
		t.Fatalf("after acking all, a pop returned %d messages", len(ps))
	} else if r.Code != protocol.PollingTimeout {
		t.Fatalf("empty pop: code %d, want POLLING_TIMEOUT", r.Code)
	}
	waitFor(t, 5*time.Second, "consume offsets past the acked messages", func() bool {
		sum := int64(0)
		for q := range 4 {
			off, _ := e.s.Broker().CommittedOffset("CGPop", "TopicPop", int32(q))
			sum += off
		}
		return sum == 100
	})
}

// TestPopRedeliveryAndChangeInvisible: an unacked message comes back after
// its invisible time, not before, from the retry topic with a higher
// reconsume count and under its own topic; ChangeInvisibleTime moves a
// message's time and invalidates the old handle.
func TestPopRedeliveryAndChangeInvisible(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicRedeliver", 1)
	e.send("TopicRedeliver", 0, "a", nil)
	e.send("TopicRedeliver", 0, "b", nil)
	e.dispatched("TopicRedeliver", 0, 2)
	const inv = 1500 * time.Millisecond
	ps, _ := e.pop("CGRe", "TopicRedeliver", popOpts{invisible: inv, poll: time.Second})
	popped1 := time.Now()
	if len(ps) != 2 {
		t.Fatalf("first pop: %d messages", len(ps))
	}
	a, b := ps[0], ps[1]
	b2 := e.change("CGRe", b, 6*time.Second)
	if r := e.ack("CGRe", b); r.Code != protocol.NoMessage {
		t.Fatalf("ack with the handle replaced by ChangeInvisibleTime: %d %s, want NO_MESSAGE", r.Code, r.Remark)
	}
	var again popped
	e.drain("CGRe", "TopicRedeliver", popOpts{invisible: 30 * time.Second, poll: time.Second}, 1, 10*time.Second, func(p popped) {
		if p.body != "a" {
			t.Fatalf("%s came back before its changed invisible time", p.body)
		}
		again = p
	})
	if since := time.Since(popped1); since < inv {
		t.Fatalf("a came back after %v, before its invisible time %v", since, inv)
	}
	if again.reconsume != 1 || again.handle.Flag != pop.FlagRetryV1 || again.realTopic != pop.RetryTopicV1("TopicRedeliver", "CGRe") {
		t.Fatalf("redelivered a: reconsume %d, flag %s, real topic %s", again.reconsume, again.handle.Flag, again.realTopic)
	}
	if r := e.ack("CGRe", a); r.Code != protocol.NoMessage {
		t.Fatalf("ack with the expired handle: %d %s, want NO_MESSAGE", r.Code, r.Remark)
	}
	e.mustAck("CGRe", again)
	e.mustAck("CGRe", b2)
	e.mustAck("CGRe", b2) // acking twice is fine
	if ps, _ := e.pop("CGRe", "TopicRedeliver", popOpts{invisible: time.Second, poll: 300 * time.Millisecond}); len(ps) != 0 {
		t.Fatalf("after acks: %d messages", len(ps))
	}
	// b stays acked after its changed time passes.
	time.Sleep(time.Until(popped1.Add(6500 * time.Millisecond)))
	if ps, _ := e.pop("CGRe", "TopicRedeliver", popOpts{invisible: time.Second, poll: 300 * time.Millisecond}); len(ps) != 0 {
		t.Fatalf("an acked message came back: %s", ps[0].body)
	}
}

// TestPopFIFOPerMessageGroup: with order=true the messages of a message
// group come in order, one batch in flight at a time; a group whose message
// is not acked is held until its invisible time passes, then that message
// comes again (reconsume 1) before the rest of its group, while the other
// groups of the same queue go on.
func TestPopFIFOPerMessageGroup(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicFifo", 1)
	groups := []string{"g1", "g2", "g3"}
	for i := range 5 {
		for _, g := range groups {
			e.send("TopicFifo", 0, fmt.Sprintf("%s-%d", g, i), map[string]string{pop.PropertyShardingKey: g})
		}
	}
	e.dispatched("TopicFifo", 0, 15)
	const inv = 2 * time.Second
	o := popOpts{max: 3, invisible: inv, poll: 200 * time.Millisecond, order: true}
	first, _ := e.pop("CGFifo", "TopicFifo", o)
	start := time.Now()
	if len(first) != 3 || first[0].body != "g1-0" || first[1].body != "g2-0" || first[2].body != "g3-0" {
		t.Fatalf("first FIFO pop: %v", first)
	}
	if ps, _ := e.pop("CGFifo", "TopicFifo", o); len(ps) != 0 {
		t.Fatalf("every group has a message in flight, yet a pop returned %s", ps[0].body)
	}
	// g1-0 is never acked; g2 and g3 are consumed to the end meanwhile.
	next := map[string]int{"g2": 0, "g3": 0}
	e.mustAck("CGFifo", first[1])
	e.mustAck("CGFifo", first[2])
	next["g2"], next["g3"] = 1, 1
	for next["g2"] < 5 || next["g3"] < 5 {
		ps, _ := e.pop("CGFifo", "TopicFifo", popOpts{max: 32, invisible: 30 * time.Second, poll: 200 * time.Millisecond, order: true})
		for _, p := range ps {
			if p.group == "g1" {
				if time.Since(start) < inv {
					t.Fatalf("%s delivered while g1-0 is in flight", p.body)
				}
				t.Fatalf("g1 messages before g2 and g3 finished: %s", p.body)
			}
			if want := fmt.Sprintf("%s-%d", p.group, next[p.group]); p.body != want {
				t.Fatalf("got %s, want %s", p.body, want)
			}
			next[p.group]++
			e.mustAck("CGFifo", p)
		}
	}
	if time.Since(start) >= inv {
		t.Fatalf("g2 and g3 took %v, past g1-0's invisible time: they were held behind g1", time.Since(start))
	}
	// g1-0 comes back after its invisible time with reconsume 1, then the rest of g1.
	n := 0
	e.drain("CGFifo", "TopicFifo", popOpts{max: 32, invisible: 30 * time.Second, poll: time.Second, order: true}, 5, 10*time.Second, func(p popped) {
		if want := fmt.Sprintf("g1-%d", n); p.body != want {
			t.Fatalf("got %s, want %s", p.body, want)
		}
		if n == 0 && p.reconsume != 1 {
			t.Fatalf("g1-0 again with reconsume %d, want 1", p.reconsume)
		}
		if n == 0 && time.Since(start) < inv {
			t.Fatalf("g1-0 again after %v, before its invisible time", time.Since(start))
		}
		n++
		e.mustAck("CGFifo", p)
	})
	waitFor(t, 5*time.Second, "the FIFO consume offset at the end", func() bool {
		off, _ := e.s.Broker().CommittedOffset("CGFifo", "TopicFifo", 0)
		return off == 15
	})
}

// TestPopStateSurvivesRestart: acks, pending checkpoints and FIFO blocks
// survive a restart: acked messages never return, unacked ones return after
// their invisible time, a FIFO group stays held until its time passes.
func TestPopStateSurvivesRestart(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicRestart", 2)
	e.createTopic("TopicRestartFifo", 1)
	for i := range 20 {
		e.send("TopicRestart", i%2, fmt.Sprintf("r-%02d", i), nil)
	}
	e.send("TopicRestartFifo", 0, "f-0", map[string]string{pop.PropertyShardingKey: "g"})
	e.send("TopicRestartFifo", 0, "f-1", map[string]string{pop.PropertyShardingKey: "g"})
	e.dispatched("TopicRestartFifo", 0, 2)
	const inv = 3 * time.Second
	acked := map[string]bool{}
	i := 0
	e.drain("CGRestart", "TopicRestart", popOpts{invisible: inv, poll: time.Second}, 20, 10*time.Second, func(p popped) {
		if i%2 == 0 {
			e.mustAck("CGRestart", p)
			acked[p.body] = true
		}
		i++
	})
	poppedAt := time.Now()
	fifo, _ := e.pop("CGRestartF", "TopicRestartFifo", popOpts{max: 1, invisible: inv, poll: time.Second, order: true})
	if len(fifo) != 1 || fifo[0].body != "f-0" {
		t.Fatalf("FIFO pop: %v", fifo)
	}
	e.restart()
	if ps, _ := e.pop("CGRestartF", "TopicRestartFifo", popOpts{max: 1, invisible: inv, poll: 0, order: true}); len(ps) != 0 && time.Since(poppedAt) < inv {
		t.Fatalf("FIFO group released by the restart: %s", ps[0].body)
	}
	back := map[string]bool{}
	e.drain("CGRestart", "TopicRestart", popOpts{invisible: 30 * time.Second, poll: time.Second}, 10, 15*time.Second, func(p popped) {
		if acked[p.body] {
			t.Fatalf("acked message %s delivered again after the restart", p.body)
		}
		if time.Since(poppedAt) < inv-100*time.Millisecond {
			t.Fatalf("%s came back before its invisible time", p.body)
		}
		if p.reconsume != 1 {
			t.Fatalf("%s came back with reconsume %d", p.body, p.reconsume)
		}
		back[p.body] = true
		e.mustAck("CGRestart", p)
	})
	e.drain("CGRestartF", "TopicRestartFifo", popOpts{max: 1, invisible: 30 * time.Second, poll: time.Second, order: true}, 1, 10*time.Second, func(p popped) {
		if p.body != "f-0" || p.reconsume != 1 {
			t.Fatalf("FIFO after restart: %s reconsume %d, want f-0 again", p.body, p.reconsume)
		}
		e.mustAck("CGRestartF", p)
	})
	// And again: everything acked stays acked across a second restart.
	e.restart()
	if ps, _ := e.pop("CGRestart", "TopicRestart", popOpts{invisible: time.Second, poll: 500 * time.Millisecond}); len(ps) != 0 {
		t.Fatalf("after the second restart: %s", ps[0].body)
	}
}

// TestPopDeadLetter: a message never acked is delivered retryMaxTimes + 1
// times, then moved to %DLQ%<group>.
func TestPopDeadLetter(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicDead", 1)
	gc := metadata.NewGroupConfig("CGDead")
	gc.RetryMaxTimes = 2
	body, _ := json.Marshal(gc)
	req := protocol.NewRequest(protocol.UpdateAndCreateSubscription, nil)
	req.Body = body
	adminCall(t, e.cl, e.addr, req, protocol.Success)
	e.send("TopicDead", 0, "doomed", nil)
	var counts []int32
	deadline := time.Now().Add(15 * time.Second)
	for e.maxOffset(metadata.DLQTopic("CGDead"), 0) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not in the DLQ after deliveries %v", counts)
		}
		ps, _ := e.pop("CGDead", "TopicDead", popOpts{invisible: 300 * time.Millisecond, poll: 500 * time.Millisecond})
		for _, p := range ps {
			counts = append(counts, p.reconsume)
		}
	}
	if fmt.Sprint(counts) != "[0 1 2]" {
		t.Fatalf("deliveries with reconsume times %v, want [0 1 2]", counts)
	}
	if ps, _ := e.pop("CGDead", "TopicDead", popOpts{invisible: time.Second, poll: 500 * time.Millisecond}); len(ps) != 0 {
		t.Fatalf("delivered after the DLQ: %v", ps)
	}
}

// TestPopBadInput: malformed headers and handles get INVALID_PARAMETER,
// unknown handles NO_MESSAGE, never a panic or a hang.
func TestPopBadInput(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicPopBad", 1)
	e.send("TopicPopBad", 0, "x", nil)
	e.dispatched("TopicPopBad", 0, 1)
	check := func(what string, req *protocol.Command, want int32) {
		t.Helper()
		if r := e.call(req); r.Code != want {
			t.Errorf("%s: %d %q, want %d", what, r.Code, r.Remark, want)
		}
	}
	check("pop without group", protocol.NewRequest(protocol.PopMessage, map[string]string{"topic": "TopicPopBad", "invisibleTime": "1000"}), protocol.InvalidParameter)
	check("pop of 33", protocol.NewRequest(protocol.PopMessage, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "maxMsgNums": "33", "invisibleTime": "1000"}), protocol.InvalidParameter)
	check("pop of unknown topic", protocol.NewRequest(protocol.PopMessage, map[string]string{"consumerGroup": "CGBad", "topic": "NoSuchTopic", "maxMsgNums": "1", "invisibleTime": "1000"}), protocol.TopicNotExist)
	check("pop with bad invisibleTime", protocol.NewRequest(protocol.PopMessage, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "maxMsgNums": "1", "invisibleTime": "soon"}), protocol.InvalidParameter)
	ack := func(extra, off string) *protocol.Command {
		return protocol.NewRequest(protocol.AckMessage, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "queueId": "0", "extraInfo": extra, "offset": off})
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	check("ack with a malformed handle", ack("garbage", "0"), protocol.InvalidParameter)
	check("ack with a bad flag", ack("0 "+now+" 60000 1 9 broker-a 0 0", "0"), protocol.InvalidParameter)
	check("ack with an unknown handle", ack("0 "+now+" 60000 1 0 broker-a 0 0", "0"), protocol.NoMessage)
	check("ack with another broker's handle", ack("0 "+now+" 60000 1 0 broker-z 0 0", "0"), protocol.NoMessage)
	check("ack of an unknown FIFO handle", ack("0 "+now+" 60000 999 0 broker-a 0 0", "0"), protocol.NoMessage)
	check("ack without offset", protocol.NewRequest(protocol.AckMessage, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "queueId": "0", "extraInfo": "x"}), protocol.InvalidParameter)
	check("ack beyond the queue", ack("0 "+now+" 60000 1 0 broker-a 0 7", "7"), protocol.NoMessage)
	check("ack on a bad queue", protocol.NewRequest(protocol.AckMessage, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "queueId": "5", "extraInfo": "x", "offset": "0"}), protocol.MessageIllegal)
	check("change with an unknown handle", protocol.NewRequest(protocol.ChangeMessageInvisibleTime, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "queueId": "0", "extraInfo": "0 " + now + " 60000 1 0 broker-a 0 0", "offset": "0", "invisibleTime": "1000"}), protocol.NoMessage)
	bad := protocol.NewRequest(protocol.BatchAckMessage, nil)
	bad.Body = []byte("{not json")
	check("batch ack with a bad body", bad, protocol.InvalidParameter)
	// A real handle, expired.
	ps, _ := e.pop("CGBad", "TopicPopBad", popOpts{invisible: 200 * time.Millisecond, poll: time.Second})
	if len(ps) != 1 {
		t.Fatalf("pop: %d messages", len(ps))
	}
	time.Sleep(300 * time.Millisecond)
	if r := e.ack("CGBad", ps[0]); r.Code != protocol.NoMessage {
		t.Errorf("expired handle: %d %q, want NO_MESSAGE", r.Code, r.Remark)
	}
	// Notification: a message waits in the retry topic soon.
	r := e.call(protocol.NewRequest(protocol.Notification, map[string]string{"consumerGroup": "CGBad", "topic": "TopicPopBad", "queueId": "-1", "pollTime": "5000", "bornTime": strconv.FormatInt(time.Now().UnixMilli(), 10)}))
	if r.Code != protocol.Success || r.Ext("hasMsg") != "true" {
		t.Errorf("notification: %d hasMsg=%s", r.Code, r.Ext("hasMsg"))
	}
}

// TestPopBatchAckAndNotification: BATCH_ACK_MESSAGE acks by bitset; only
// the message left out comes back. NOTIFICATION waits for a message.
func TestPopBatchAckAndNotification(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicBatchAck", 1)
	notified := make(chan *protocol.Command, 1)
	go func() {
		r, err := e.cl.Invoke(context.Background(), e.addr, protocol.NewRequest(protocol.Notification, map[string]string{
			"consumerGroup": "CGBatch", "topic": "TopicBatchAck", "queueId": "-1", "pollTime": "10000",
			"bornTime": strconv.FormatInt(time.Now().UnixMilli(), 10),
		}))
		if err != nil {
			t.Error(err)
		}
		notified <- r
	}()
	waitFor(t, 5*time.Second, "the notification parked", func() bool { return e.s.Broker().PopPolling() == 1 })
	for i := range 3 {
		e.send("TopicBatchAck", 0, fmt.Sprintf("b-%d", i), nil)
	}
	if r := <-notified; r == nil || r.Code != protocol.Success || r.Ext("hasMsg") != "true" {
		t.Fatalf("notification: %+v", r)
	}
	e.dispatched("TopicBatchAck", 0, 3)
	ps, _ := e.pop("CGBatch", "TopicBatchAck", popOpts{invisible: time.Second, poll: time.Second})
	if len(ps) != 3 {
		t.Fatalf("pop: %d", len(ps))
	}
	h := ps[0].handle
	body, _ := json.Marshal(pop.BatchAckBody{BrokerName: "broker-a", Acks: []pop.BatchAck{{
		Group: "CGBatch", Topic: "TopicBatchAck", Retry: pop.FlagNormal, StartOffset: h.CkQueueOffset, QueueID: h.QueueID,
		ReviveQueueID: h.ReviveQid, PopTime: h.PopTime, InvisibleTime: h.InvisibleTime,
		BitSet: pop.EncodeBitSet(h.CkQueueOffset, []int64{ps[0].handle.QueueOffset, ps[2].handle.QueueOffset}),
	}}})
	req := protocol.NewRequest(protocol.BatchAckMessage, nil)
	req.Body = body
	adminCall(t, e.cl, e.addr, req, protocol.Success)
	e.drain("CGBatch", "TopicBatchAck", popOpts{invisible: 30 * time.Second, poll: time.Second}, 1, 10*time.Second, func(p popped) {
		if p.body != "b-1" {
			t.Fatalf("%s came back after its batch ack", p.body)
		}
		e.mustAck("CGBatch", p)
	})
}

// TestPopFilters: a TAG or SQL92 expression selects what a pop delivers;
// the messages it passes over still move the group's offset.
func TestPopFilters(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicPopFilter", 1)
	for i := range 10 {
		tag := "A"
		if i%2 == 1 {
			tag = "B"
		}
		e.send("TopicPopFilter", 0, fmt.Sprintf("f-%d", i), map[string]string{message.PropertyTags: tag, "n": strconv.Itoa(i)})
	}
	e.dispatched("TopicPopFilter", 0, 10)
	var tags []string
	e.drain("CGTag", "TopicPopFilter", popOpts{invisible: 30 * time.Second, poll: time.Second, exp: "A"}, 5, 10*time.Second, func(p popped) {
		tags = append(tags, p.body)
		e.mustAck("CGTag", p)
	})
	if fmt.Sprint(tags) != "[f-0 f-2 f-4 f-6 f-8]" {
		t.Fatalf("tag A: %v", tags)
	}
	waitFor(t, 5*time.Second, "the offset past the filtered messages", func() bool {
		off, _ := e.s.Broker().CommittedOffset("CGTag", "TopicPopFilter", 0)
		return off == 10
	})
	var sql []string
	e.drain("CGSql", "TopicPopFilter", popOpts{invisible: 30 * time.Second, poll: time.Second, expType: "SQL92", exp: "n >= 7"}, 3, 10*time.Second, func(p popped) {
		sql = append(sql, p.body)
		e.mustAck("CGSql", p)
	})
	if fmt.Sprint(sql) != "[f-7 f-8 f-9]" {
		t.Fatalf("SQL92 n >= 7: %v", sql)
	}
	bad := protocol.NewRequest(protocol.PopMessage, map[string]string{"consumerGroup": "CGSql", "topic": "TopicPopFilter",
		"maxMsgNums": "1", "invisibleTime": "1000", "expType": "SQL92", "exp": "n >>> 7"})
	if r := e.call(bad); r.Code != protocol.SubscriptionParseFailed {
		t.Fatalf("bad SQL92: %d %s", r.Code, r.Remark)
	}
}

// TestPopSurvivesCrashImage: a copy of the data directory taken while the
// broker runs (what kill -9 leaves) still knows the acks and the pending
// checkpoints: acked messages never return, the others do.
func TestPopSurvivesCrashImage(t *testing.T) {
	e := startPop(t, "")
	e.createTopic("TopicCrash", 1)
	for i := range 10 {
		e.send("TopicCrash", 0, fmt.Sprintf("c-%d", i), nil)
	}
	e.dispatched("TopicCrash", 0, 10)
	const inv = 2 * time.Second
	acked := map[string]bool{}
	n := 0
	e.drain("CGCrash", "TopicCrash", popOpts{invisible: inv, poll: time.Second}, 10, 10*time.Second, func(p popped) {
		if n%2 == 0 {
			e.mustAck("CGCrash", p)
			acked[p.body] = true
		}
		n++
	})
	poppedAt := time.Now()
	img := t.TempDir()
	if err := os.CopyFS(img, os.DirFS(e.dir)); err != nil {
		t.Fatal(err)
	}
	e.close()
	c := startPop(t, img)
	c.drain("CGCrash", "TopicCrash", popOpts{invisible: 30 * time.Second, poll: time.Second}, 5, 15*time.Second, func(p popped) {
		if acked[p.body] {
			t.Fatalf("acked %s delivered again after the crash", p.body)
		}
		if time.Since(poppedAt) < inv-100*time.Millisecond || p.reconsume != 1 {
			t.Fatalf("%s back after %v with reconsume %d", p.body, time.Since(poppedAt), p.reconsume)
		}
		c.mustAck("CGCrash", p)
	})
}

// TestPopChangeInvisibleInTheMillisecondOfThePop: a ChangeInvisibleTime
// in the same millisecond as its pop still brings the message back after
// the new invisible time (the new checkpoint must not share the old one's
// key, or the ack that retires the old would retire the new).
func TestPopChangeInvisibleInTheMillisecondOfThePop(t *testing.T) {
	var frozen atomic.Int64 // ms; 0 = the real clock
	clock := func() time.Time {
		if ms := frozen.Load(); ms != 0 {
			return time.UnixMilli(ms)
		}
		return time.Now()
	}
	s, err := Start(Options{DataDir: t.TempDir(), NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0", Broker: func(o *broker.Options) {
		o.Store.SegmentSize = 16 << 20
		o.Store.WarmSegments = false
		o.Store.Now = clock
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := &popEnv{t: t, s: s, cl: remoting.NewClient(remoting.ClientOptions{}), addr: s.BrokerAddr()}
	t.Cleanup(e.close)
	e.createTopic("TopicSameMs", 1)
	e.send("TopicSameMs", 0, "x", nil)
	e.dispatched("TopicSameMs", 0, 1)
	frozen.Store(time.Now().UnixMilli())
	ps, _ := e.pop("CGSameMs", "TopicSameMs", popOpts{invisible: 30 * time.Second, poll: time.Second})
	if len(ps) != 1 {
		t.Fatalf("pop: %d messages", len(ps))
	}
	e.change("CGSameMs", ps[0], time.Second)
	frozen.Store(0)
	var back popped
	e.drain("CGSameMs", "TopicSameMs", popOpts{invisible: 30 * time.Second, poll: time.Second}, 1, 15*time.Second, func(p popped) { back = p })
	if back.body != "x" || back.reconsume != 1 {
		t.Fatalf("came back: %+v", back)
	}
}
