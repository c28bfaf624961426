package grpcserver

import (
	"context"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// fakeBroker is a name server and a broker on one Remoting address that
// speaks the Java broker's Pop contract (pop.md §2–§5) in the simplest
// way: every message is its own checkpoint, unacked messages become
// visible again at popTime+invisibleTime with reconsumeTimes raised.
type fakeBroker struct {
	t    *testing.T
	srv  *remoting.Server
	addr string

	mu     sync.Mutex
	queues map[int32][]*fakeMsg // queue id → messages by offset
	phys   int64
	acks   map[string]int // body → acks
}

type fakeMsg struct {
	body      []byte
	props     map[string]string
	queue     int32
	offset    int64
	phys      int64
	popTime   int64
	visibleAt int64
	pops      int32
	acked     bool
}

const fakeBrokerName = "broker-fake"

func startFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{t: t, queues: make(map[int32][]*fakeMsg), acks: make(map[string]int)}
	fb.srv = remoting.NewServer(remoting.ServerOptions{})
	pool := fb.srv.NewPool("all", 8, 1024)
	fb.srv.Handle(protocol.GetRouteInfoByTopic, pool, fb.route)
	fb.srv.Handle(protocol.GetAllSubscriptionGroupConfig, pool, func(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
		r := protocol.NewResponse(req, protocol.Success, "")
		r.Body = []byte(`{"subscriptionGroupTable":{}}`)
		return r
	})
	fb.srv.Handle(protocol.HeartBeat, pool, func(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
		return protocol.NewResponse(req, protocol.Success, "")
	})
	fb.srv.Handle(protocol.SendMessageV2, pool, fb.send)
	fb.srv.Handle(codePopMessage, pool, fb.pop)
	fb.srv.Handle(codeAckMessage, pool, fb.ack)
	fb.srv.Handle(codeChangeInvisibleTime, pool, fb.change)
	a, err := fb.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb.addr = a.String()
	t.Cleanup(func() { fb.srv.Close() })
	return fb
}

func (fb *fakeBroker) route(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	rd := routes.TopicRouteData{
		QueueDatas:  []routes.QueueData{{BrokerName: fakeBrokerName, ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}},
		BrokerDatas: []routes.BrokerData{{Cluster: "c", BrokerName: fakeBrokerName, Addrs: map[int64]string{0: fb.addr}}},
	}
	r := protocol.NewResponse(req, protocol.Success, "")
	r.Body = routes.AppendTopicRouteJSON(nil, rd, routes.StandardJSON)
	return r
}

func (fb *fakeBroker) send(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	q, _ := strconv.Atoi(req.Ext("e"))
	fb.mu.Lock()
	defer fb.mu.Unlock()
	m := &fakeMsg{body: req.Body, props: message.DecodeProperties([]byte(req.Ext("i"))), queue: int32(q),
		offset: int64(len(fb.queues[int32(q)])), phys: fb.phys}
	fb.phys += 100
	fb.queues[int32(q)] = append(fb.queues[int32(q)], m)
	r := protocol.NewResponse(req, protocol.Success, "")
	r.SetExt("msgId", m.props[message.PropertyUniqKey])
	r.SetExt("queueId", strconv.Itoa(q))
	r.SetExt("queueOffset", strconv.FormatInt(m.offset, 10))
	return r
}

func (fb *fakeBroker) pop(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	if req.Ext("queueId") != "-1" || req.Ext("consumerGroup") == "" {
		fb.t.Errorf("pop request %v", req.ExtFields)
	}
	max, _ := strconv.Atoi(req.Ext("maxMsgNums"))
	inv, _ := strconv.ParseInt(req.Ext("invisibleTime"), 10, 64)
	now := time.Now().UnixMilli()
	fb.mu.Lock()
	defer fb.mu.Unlock()
	var body []byte
	start := map[int32]int64{}
	offs := map[int32][]string{}
	n := 0
	qids := make([]int, 0, len(fb.queues))
	for q := range fb.queues {
		qids = append(qids, int(q))
	}
	sort.Ints(qids)
	for _, q := range qids {
		for _, m := range fb.queues[int32(q)] {
			if n >= max || m.acked || m.visibleAt > now {
				continue
			}
			rec := message.Message{
				Topic: req.Ext("topic"), QueueID: m.queue, QueueOffset: m.offset, PhysicalOffset: m.phys,
				BornTimestamp: now, BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreTimestamp: now,
				StoreHost: netip.MustParseAddrPort("127.0.0.1:2"), ReconsumeTimes: m.pops, Body: m.body,
				BodyCRC: message.BodyCRC(m.body), Properties: message.EncodeProperties(m.props),
			}
			var err error
			if body, err = rec.AppendRecord(body); err != nil {
				fb.t.Error(err)
			}
			m.pops++
			m.popTime, m.visibleAt = now, now+inv
			if _, ok := start[m.queue]; !ok {
				start[m.queue] = m.offset
			}
			offs[m.queue] = append(offs[m.queue], strconv.FormatInt(m.offset, 10))
			n++
		}
	}
	if n == 0 {
		return protocol.NewResponse(req, codePollingTimeout, "no new message")
	}
	var si, mi []string
	for q, so := range start {
		si = append(si, "0 "+strconv.Itoa(int(q))+" "+strconv.FormatInt(so, 10))
		mi = append(mi, "0 "+strconv.Itoa(int(q))+" "+strings.Join(offs[q], ","))
	}
	r := protocol.NewResponse(req, protocol.Success, "")
	r.SetExt("popTime", strconv.FormatInt(now, 10))
	r.SetExt("invisibleTime", strconv.FormatInt(inv, 10))
	r.SetExt("reviveQid", "3")
	r.SetExt("restNum", "0")
	r.SetExt("startOffsetInfo", strings.Join(si, ";"))
	r.SetExt("msgOffsetInfo", strings.Join(mi, ";"))
	r.Body = body
	return r
}

// find checks an ACK/CHANGE request against the Java contract and returns
// the message it names.
func (fb *fakeBroker) find(req *protocol.Command) *fakeMsg {
	h, err := parseHandle(req.Ext("extraInfo"))
	if err != nil {
		fb.t.Errorf("extraInfo %q: %v", req.Ext("extraInfo"), err)
		return nil
	}
	q, _ := strconv.Atoi(req.Ext("queueId"))
	off, _ := strconv.ParseInt(req.Ext("offset"), 10, 64)
	if int32(q) != h.QueueID || off != h.QueueOffset || h.BrokerName != fakeBrokerName || h.ReviveQid != 3 {
		fb.t.Errorf("request %v does not match its extraInfo", req.ExtFields)
	}
	qs := fb.queues[int32(q)]
	if off < 0 || off >= int64(len(qs)) {
		return nil
	}
	m := qs[off]
	if m.popTime != h.PopTime {
		return nil // a stale handle: its checkpoint is gone
	}
	return m
}

func (fb *fakeBroker) ack(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	m := fb.find(req)
	if m == nil {
		return protocol.NewResponse(req, protocol.NoMessage, "no such checkpoint")
	}
	m.acked = true
	fb.acks[string(m.body)]++
	return protocol.NewResponse(req, protocol.Success, "")
}

func (fb *fakeBroker) change(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	inv, _ := strconv.ParseInt(req.Ext("invisibleTime"), 10, 64)
	fb.mu.Lock()
	defer fb.mu.Unlock()
	m := fb.find(req)
	if m == nil {
		return protocol.NewResponse(req, protocol.NoMessage, "no such checkpoint")
	}
	now := max(time.Now().UnixMilli(), m.popTime+1) // a new checkpoint
	m.popTime, m.visibleAt = now, now+inv
	r := protocol.NewResponse(req, protocol.Success, "")
	r.SetExt("popTime", strconv.FormatInt(now, 10))
	r.SetExt("invisibleTime", strconv.FormatInt(inv, 10))
	r.SetExt("reviveQid", "3")
	return r
}
