package namesrv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// goClientVersion is the version rocketmq-client-go v2.1.2 sends.
const goClientVersion = 317

// clock is a fake clock for Options.Now.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(1_700_000_000_000)
	return c
}

func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

type testEnv struct {
	t     *testing.T
	srv   *Server
	addr  string
	clock *clock
}

// start runs a name server on a free port with a fake clock and a scan
// interval long enough that only the test triggers scans.
func start(t *testing.T) *testEnv {
	t.Helper()
	c := newClock()
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	s := New(Options{
		Addr: "127.0.0.1:0", ScanInterval: time.Hour, Now: c.now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testEnv{t: t, srv: s, addr: addr.String(), clock: c}
}

// logBuffer collects the server's log; connection goroutines may still
// write to it after a test ends, when t.Log would panic.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// client returns a new remoting client: a separate connection, as a
// separate broker or client process would have.
func (e *testEnv) client() *remoting.Client {
	cl := remoting.NewClient(remoting.ClientOptions{})
	e.t.Cleanup(func() { cl.Close() })
	return cl
}

func (e *testEnv) call(cl *remoting.Client, req *protocol.Command) *protocol.Command {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Invoke(ctx, e.addr, req)
	if err != nil {
		e.t.Fatalf("code %d: %v", req.Code, err)
	}
	return resp
}

// mustOK calls and fails the test unless the answer is SUCCESS.
func (e *testEnv) mustOK(cl *remoting.Client, req *protocol.Command) *protocol.Command {
	e.t.Helper()
	resp := e.call(cl, req)
	if resp.Code != protocol.Success {
		e.t.Fatalf("code %d %v: answer %d %q", req.Code, req.ExtFields, resp.Code, resp.Remark)
	}
	return resp
}

type broker struct {
	cluster, name, addr string
	id                  int64
	counter             int64
	topics              []routes.TopicConfig
}

func topic(name string, queues int32) routes.TopicConfig {
	return routes.TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: 6, TopicFilterType: "SINGLE_TAG"}
}

// registerCmd builds REGISTER_BROKER as a Java 5.x broker sends it, with
// the system topics every broker has.
func (b broker) registerCmd() *protocol.Command {
	body := routes.RegisterBrokerBody{
		TopicConfigTable: map[string]routes.TopicConfig{
			"TBW102":          {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: "SINGLE_TAG"},
			"SELF_TEST_TOPIC": topic("SELF_TEST_TOPIC", 1),
		},
		DataVersion: routes.DataVersion{Timestamp: 1_700_000_000_000, Counter: b.counter},
	}
	for _, tc := range b.topics {
		body.TopicConfigTable[tc.TopicName] = tc
	}
	raw := body.AppendJSON(nil)
	host, _, _ := net.SplitHostPort(b.addr)
	req := protocol.NewRequest(protocol.RegisterBroker, map[string]string{
		"clusterName":  b.cluster,
		"brokerName":   b.name,
		"brokerAddr":   b.addr,
		"brokerId":     strconv.FormatInt(b.id, 10),
		"haServerAddr": host + ":10912",
		"compressed":   "false",
		"bodyCrc32":    strconv.Itoa(int(bodyCRC32(raw))),
	})
	req.Body = raw
	return req
}

func routeCmd(topic string, version int32) *protocol.Command {
	req := protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic})
	req.Version = version
	return req
}

func (e *testEnv) route(cl *remoting.Client, topic string) (routes.TopicRouteData, bool) {
	e.t.Helper()
	resp := e.call(cl, routeCmd(topic, goClientVersion))
	switch resp.Code {
	case protocol.TopicNotExist:
		return routes.TopicRouteData{}, false
	case protocol.Success:
		r, err := routes.DecodeTopicRouteData(resp.Body)
		if err != nil {
			e.t.Fatalf("route of %s: %v\n%s", topic, err, resp.Body)
		}
		return r, true
	}
	e.t.Fatalf("route of %s: answer %d %q", topic, resp.Code, resp.Remark)
	return routes.TopicRouteData{}, false
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var brokerA = broker{cluster: "DefaultCluster", name: "broker-a", addr: "10.0.0.1:10911", counter: 1,
	topics: []routes.TopicConfig{topic("TopicTest", 4)}}

// A registered master's topics are routed, in the dialect each client
// version expects.
func TestRegisterBrokerThenRoute(t *testing.T) {
	e := start(t)
	b, cl := e.client(), e.client()
	resp := e.mustOK(b, brokerA.registerCmd())
	if len(resp.ExtFields) != 0 || resp.Body != nil {
		t.Errorf("master registration answer: ext %v body %q, want none", resp.ExtFields, resp.Body)
	}

	wantLegacy := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if got := string(e.mustOK(cl, routeCmd("TopicTest", goClientVersion)).Body); got != wantLegacy {
		t.Errorf("route for version 317:\n got %s\nwant %s", got, wantLegacy)
	}
	wantStd := strings.Replace(wantLegacy, `{0:`, `{"0":`, 1)
	for name, req := range map[string]*protocol.Command{
		"version 479": routeCmd("TopicTest", protocol.Version),
		"version 401": routeCmd("TopicTest", 401),
		"acceptStandardJsonOnly": func() *protocol.Command {
			r := routeCmd("TopicTest", goClientVersion)
			r.SetExt("acceptStandardJsonOnly", "TRUE")
			return r
		}(),
	} {
		body := e.mustOK(cl, req).Body
		if string(body) != wantStd {
			t.Errorf("%s:\n got %s\nwant %s", name, body, wantStd)
		}
		var v struct {
			BrokerDatas []struct {
				BrokerAddrs map[int64]string `json:"brokerAddrs"`
			} `json:"brokerDatas"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.BrokerDatas[0].BrokerAddrs[0] != "10.0.0.1:10911" {
			t.Errorf("%s: encoding/json reads %+v, %v", name, v, err)
		}
	}

	resp = e.call(cl, routeCmd("Missing", goClientVersion))
	if resp.Code != protocol.TopicNotExist ||
		!strings.HasPrefix(resp.Remark, "No topic route info in name server for the topic: Missing") {
		t.Errorf("missing topic: %d %q", resp.Code, resp.Remark)
	}
}

// Two broker groups of one cluster hosting a topic are both in its route,
// in the cluster info and in the topic lists.
func TestTwoBrokersOneCluster(t *testing.T) {
	e := start(t)
	a, b, cl := e.client(), e.client(), e.client()
	e.mustOK(a, brokerA.registerCmd())
	brokerB := broker{cluster: "DefaultCluster", name: "broker-b", addr: "10.0.0.2:10911", counter: 1,
		topics: []routes.TopicConfig{topic("TopicTest", 8), topic("OnlyB", 2)}}
	e.mustOK(b, brokerB.registerCmd())

	r, found := e.route(cl, "TopicTest")
	if !found || len(r.BrokerDatas) != 2 || len(r.QueueDatas) != 2 ||
		r.BrokerDatas[0].Addrs[0] != brokerA.addr || r.BrokerDatas[1].Addrs[0] != brokerB.addr ||
		r.QueueDatas[1].WriteQueueNums != 8 {
		t.Errorf("route = %+v", r)
	}

	ci := e.mustOK(cl, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil)).Body
	wantCI := `{"brokerAddrTable":{` +
		`"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},` +
		`"broker-b":{"brokerAddrs":{"0":"10.0.0.2:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":false}},` +
		`"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}}`
	if string(ci) != wantCI {
		t.Errorf("cluster info:\n got %s\nwant %s", ci, wantCI)
	}
	old := protocol.NewRequest(protocol.GetBrokerClusterInfo, nil)
	old.Version = goClientVersion
	if got := string(e.mustOK(cl, old).Body); got != strings.ReplaceAll(wantCI, `{"0":`, `{0:`) {
		t.Errorf("cluster info for version 317: %s", got)
	}

	lists := []struct {
		req  *protocol.Command
		want string
	}{
		{protocol.NewRequest(protocol.GetAllTopicListFromNameserver, nil),
			`{"topicList":["OnlyB","SELF_TEST_TOPIC","TBW102","TopicTest"]}`},
		{protocol.NewRequest(protocol.GetTopicsByCluster, map[string]string{"cluster": "DefaultCluster"}),
			`{"topicList":["OnlyB","SELF_TEST_TOPIC","TBW102","TopicTest"]}`},
		{protocol.NewRequest(protocol.GetTopicsByCluster, map[string]string{"cluster": "Other"}),
			`{"topicList":[]}`},
		{protocol.NewRequest(protocol.GetSystemTopicListFromNS, nil),
			`{"brokerAddr":"10.0.0.1:10911","topicList":["DefaultCluster","broker-a","broker-b"]}`},
	}
	for _, l := range lists {
		if got := string(e.mustOK(cl, l.req).Body); got != l.want {
			t.Errorf("code %d %v:\n got %s\nwant %s", l.req.Code, l.req.ExtFields, got, l.want)
		}
	}
}

// A slave learns its master's address; its registration changes no queue
// data.
func TestSlaveRegistrationKeepsQueueData(t *testing.T) {
	e := start(t)
	m, s, cl := e.client(), e.client(), e.client()
	e.mustOK(m, brokerA.registerCmd())
	slave := broker{cluster: brokerA.cluster, name: brokerA.name, addr: "10.0.0.3:10911", id: 1, counter: 7,
		topics: []routes.TopicConfig{topic("TopicTest", 16), topic("SlaveOnly", 1)}}
	resp := e.mustOK(s, slave.registerCmd())
	if resp.Ext("masterAddr") != brokerA.addr || resp.Ext("haServerAddr") != "10.0.0.1:10912" {
		t.Errorf("slave answer ext = %v", resp.ExtFields)
	}
	r, _ := e.route(cl, "TopicTest")
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].WriteQueueNums != 4 {
		t.Errorf("queue data after slave registration: %+v", r.QueueDatas)
	}
	if want := map[int64]string{0: brokerA.addr, 1: slave.addr}; !maps.Equal(r.BrokerDatas[0].Addrs, want) {
		t.Errorf("addrs = %v, want %v", r.BrokerDatas[0].Addrs, want)
	}
	if _, found := e.route(cl, "SlaveOnly"); found {
		t.Error("topic only the slave has is routed")
	}
}

// UNREGISTER_BROKER of the only address of a group removes its routes.
func TestUnregisterBroker(t *testing.T) {
	e := start(t)
	b, cl := e.client(), e.client()
	e.mustOK(b, brokerA.registerCmd())
	e.mustOK(b, protocol.NewRequest(protocol.UnregisterBroker, map[string]string{
		"clusterName": brokerA.cluster, "brokerName": brokerA.name, "brokerAddr": brokerA.addr, "brokerId": "0",
	}))
	if _, found := e.route(cl, "TopicTest"); found {
		t.Error("route survives unregistration")
	}
	if got := string(e.mustOK(cl, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil)).Body); got != `{"brokerAddrTable":{},"clusterAddrTable":{}}` {
		t.Errorf("cluster info = %s", got)
	}
	// The connection that registered may close now without effect.
	b.Close()
}

// A broker whose registering connection closes is unregistered.
func TestConnectionCloseUnregisters(t *testing.T) {
	e := start(t)
	b, cl := e.client(), e.client()
	e.mustOK(b, brokerA.registerCmd())
	if _, found := e.route(cl, "TopicTest"); !found {
		t.Fatal("no route after registration")
	}
	b.Close()
	eventually(t, "route removal after connection close", func() bool {
		_, found := e.route(cl, "TopicTest")
		return !found
	})
}

// Only the connection of the latest registration counts: a broker that
// reconnected survives the close of its old connection.
func TestOldConnectionCloseKeepsReRegisteredBroker(t *testing.T) {
	e := start(t)
	old, cur, cl := e.client(), e.client(), e.client()
	e.mustOK(old, brokerA.registerCmd())
	e.mustOK(cur, brokerA.registerCmd())
	oc, err := old.Conn(context.Background(), e.addr)
	if err != nil {
		t.Fatal(err)
	}
	oldAddr := oc.LocalAddr().String()
	old.Close()
	eventually(t, "server to see the close", func() bool {
		for _, c := range e.srv.rs.Conns() {
			if c.RemoteAddr().String() == oldAddr {
				return false
			}
		}
		return true
	})
	if _, found := e.route(cl, "TopicTest"); !found {
		t.Fatal("route gone after the old connection closed")
	}
	cur.Close()
	eventually(t, "route removal", func() bool {
		_, found := e.route(cl, "TopicTest")
		return !found
	})
}

// A broker silent for 120 s is dropped by the scan and its connection
// closed; heartbeats and a shorter registered timeout are honoured.
func TestExpiry(t *testing.T) {
	e := start(t)
	b, cl := e.client(), e.client()
	e.mustOK(b, brokerA.registerCmd())
	fast := broker{cluster: "c2", name: "fast", addr: "10.0.0.9:10911", counter: 1, topics: []routes.TopicConfig{topic("FastTopic", 1)}}
	req := fast.registerCmd()
	req.SetExt("heartbeatTimeoutMillis", "10000")
	f := e.client()
	e.mustOK(f, req)

	e.clock.advance(10*time.Second + time.Millisecond)
	if gone := e.srv.scanExpired(); len(gone) != 1 || gone[0].BrokerName != "fast" {
		t.Fatalf("scan at +10.001s removed %+v, want fast", gone)
	}
	if _, found := e.route(cl, "FastTopic"); found {
		t.Error("expired broker still routed")
	}

	e.clock.advance(100 * time.Second)
	e.mustOK(b, protocol.NewRequest(protocol.BrokerHeartbeat, map[string]string{
		"clusterName": brokerA.cluster, "brokerAddr": brokerA.addr, "brokerName": brokerA.name, "brokerId": "0",
	}))
	e.clock.advance(100 * time.Second)
	if gone := e.srv.scanExpired(); len(gone) != 0 {
		t.Fatalf("broker expired 100 s after a heartbeat: %+v", gone)
	}
	e.clock.advance(20*time.Second + time.Millisecond)
	if gone := e.srv.scanExpired(); len(gone) != 1 || gone[0].BrokerName != brokerA.name {
		t.Fatalf("scan removed %+v, want broker-a", gone)
	}
	if _, found := e.route(cl, "TopicTest"); found {
		t.Error("expired broker still routed")
	}
	// The server closed the expired brokers' connections: only cl's is left.
	eventually(t, "expired connections to close", func() bool { return len(e.srv.rs.Conns()) == 1 })
}

// The scan loop runs by itself every ScanInterval.
func TestScanLoop(t *testing.T) {
	c := newClock()
	s := New(Options{Addr: "127.0.0.1:0", ScanInterval: 5 * time.Millisecond, Now: c.now})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := &testEnv{t: t, srv: s, addr: addr.String(), clock: c}
	b, cl := e.client(), e.client()
	e.mustOK(b, brokerA.registerCmd())
	c.advance(121 * time.Second)
	eventually(t, "the scan loop to expire the broker", func() bool {
		_, found := e.route(cl, "TopicTest")
		return !found
	})
}

func TestDeleteTopic(t *testing.T) {
	e := start(t)
	a, b, cl := e.client(), e.client(), e.client()
	e.mustOK(a, brokerA.registerCmd())
	other := broker{cluster: "Other", name: "broker-o", addr: "10.0.0.5:10911", counter: 1, topics: []routes.TopicConfig{topic("TopicTest", 2)}}
	e.mustOK(b, other.registerCmd())

	e.mustOK(cl, protocol.NewRequest(protocol.DeleteTopicInNamesrv, map[string]string{"topic": "TopicTest", "clusterName": "Other"}))
	r, found := e.route(cl, "TopicTest")
	if !found || len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != brokerA.name {
		t.Errorf("after deleting Other's part: %+v", r)
	}
	// As the Go admin client sends it: topic only.
	e.mustOK(cl, protocol.NewRequest(protocol.DeleteTopicInNamesrv, map[string]string{"topic": "TopicTest"}))
	if _, found := e.route(cl, "TopicTest"); found {
		t.Error("topic routed after deletion")
	}
}

func TestRegisterTopic(t *testing.T) {
	e := start(t)
	b, cl := e.client(), e.client()
	e.mustOK(b, brokerA.registerCmd())
	req := protocol.NewRequest(protocol.RegisterTopicInNamesrv, map[string]string{"topic": "Added"})
	// fastjson, as the Java admin tool writes it.
	req.Body = []byte(`{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],` +
		`"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":3,"topicSysFlag":0,"writeQueueNums":3}]}`)
	e.mustOK(cl, req)
	if r, found := e.route(cl, "Added"); !found || r.QueueDatas[0].WriteQueueNums != 3 {
		t.Errorf("route of Added = %+v %v", r, found)
	}
}

func TestQueryDataVersion(t *testing.T) {
	e := start(t)
	b := e.client()
	e.mustOK(b, brokerA.registerCmd())
	query := func(counter int64) *protocol.Command {
		req := protocol.NewRequest(protocol.QueryDataVersion, map[string]string{
			"clusterName": brokerA.cluster, "brokerAddr": brokerA.addr, "brokerName": brokerA.name, "brokerId": "0",
		})
		req.Body = routes.DataVersion{Timestamp: 1_700_000_000_000, Counter: counter}.AppendJSON(nil)
		return e.mustOK(b, req)
	}
	resp := query(1)
	if resp.Ext("changed") != "false" || string(resp.Body) != `{"counter":1,"stateVersion":0,"timestamp":1700000000000}` {
		t.Errorf("same version: ext %v body %s", resp.ExtFields, resp.Body)
	}
	if resp := query(2); resp.Ext("changed") != "true" {
		t.Errorf("new version: ext %v", resp.ExtFields)
	}
}

func TestWritePerm(t *testing.T) {
	e := start(t)
	b, cl := e.client(), e.client()
	e.mustOK(b, brokerA.registerCmd())
	resp := e.mustOK(cl, protocol.NewRequest(protocol.WipeWritePermOfBroker, map[string]string{"brokerName": brokerA.name}))
	if resp.Ext("wipeTopicCount") != "3" {
		t.Errorf("wipe answer ext %v", resp.ExtFields)
	}
	if r, _ := e.route(cl, "TopicTest"); r.QueueDatas[0].Perm != routes.PermRead {
		t.Errorf("perm after wipe = %d", r.QueueDatas[0].Perm)
	}
	resp = e.mustOK(cl, protocol.NewRequest(protocol.AddWritePermOfBroker, map[string]string{"brokerName": brokerA.name}))
	if resp.Ext("addTopicCount") != "3" {
		t.Errorf("add answer ext %v", resp.ExtFields)
	}
	if r, _ := e.route(cl, "TopicTest"); r.QueueDatas[0].Perm != routes.PermRead|routes.PermWrite {
		t.Errorf("perm after add = %d", r.QueueDatas[0].Perm)
	}
}

func TestKVConfig(t *testing.T) {
	e := start(t)
	cl := e.client()
	kv := func(code int32, ext map[string]string) *protocol.Command {
		return e.call(cl, protocol.NewRequest(code, ext))
	}
	if resp := kv(protocol.GetKVConfig, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T"}); resp.Code != protocol.QueryNotFound ||
		resp.Remark != "No config item, Namespace: ORDER_TOPIC_CONFIG Key: T" {
		t.Errorf("get of missing key: %d %q", resp.Code, resp.Remark)
	}
	if resp := kv(protocol.GetKVListByNamespace, map[string]string{"namespace": "ORDER_TOPIC_CONFIG"}); resp.Code != protocol.QueryNotFound {
		t.Errorf("list of missing namespace: %d", resp.Code)
	}
	e.mustOK(cl, protocol.NewRequest(protocol.PutKVConfig, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T", "value": "broker-a:4"}))
	if resp := kv(protocol.GetKVConfig, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T"}); resp.Code != 0 || resp.Ext("value") != "broker-a:4" {
		t.Errorf("get: %d %v", resp.Code, resp.ExtFields)
	}
	if resp := kv(protocol.GetKVListByNamespace, map[string]string{"namespace": "ORDER_TOPIC_CONFIG"}); string(resp.Body) != `{"table":{"T":"broker-a:4"}}` {
		t.Errorf("list: %d %s", resp.Code, resp.Body)
	}
	// A registering broker gets the order-topic config back.
	if resp := e.mustOK(e.client(), brokerA.registerCmd()); string(resp.Body) != `{"table":{"T":"broker-a:4"}}` {
		t.Errorf("register answer body = %s", resp.Body)
	}
	e.mustOK(cl, protocol.NewRequest(protocol.DeleteKVConfig, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T"}))
	if resp := kv(protocol.GetKVConfig, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T"}); resp.Code != protocol.QueryNotFound {
		t.Errorf("get after delete: %d", resp.Code)
	}
}

// Malformed requests get an error answer with a clear remark, and the
// server keeps serving.
func TestBadRequests(t *testing.T) {
	e := start(t)
	cl := e.client()
	reg := func(edit func(*protocol.Command)) *protocol.Command {
		req := brokerA.registerCmd()
		edit(req)
		return req
	}
	tests := []struct {
		name   string
		req    *protocol.Command
		code   int32
		remark string
	}{
		{"register without brokerName", reg(func(r *protocol.Command) { delete(r.ExtFields, "brokerName") }),
			protocol.InvalidParameter, "namesrv: register broker: missing header field brokerName"},
		{"register without ext fields", reg(func(r *protocol.Command) { r.ExtFields = nil }),
			protocol.InvalidParameter, "missing header field"},
		{"non-numeric brokerId", reg(func(r *protocol.Command) { r.SetExt("brokerId", "zero") }),
			protocol.InvalidParameter, `brokerId="zero" is not an integer`},
		{"non-numeric heartbeatTimeoutMillis", reg(func(r *protocol.Command) { r.SetExt("heartbeatTimeoutMillis", "1s") }),
			protocol.InvalidParameter, "heartbeatTimeoutMillis"},
		{"bodyCrc32 mismatch", reg(func(r *protocol.Command) { r.SetExt("bodyCrc32", "12345") }),
			protocol.SystemError, "crc32 not match"},
		{"non-numeric bodyCrc32", reg(func(r *protocol.Command) { r.SetExt("bodyCrc32", "x") }),
			protocol.InvalidParameter, "bodyCrc32"},
		{"bad JSON body", reg(func(r *protocol.Command) {
			r.Body = []byte(`{"topicConfigSerializeWrapper":`)
			r.SetExt("bodyCrc32", "0")
		}),
			protocol.InvalidParameter, "register broker body"},
		{"compressed body", reg(func(r *protocol.Command) { r.SetExt("compressed", "true") }),
			protocol.InvalidParameter, "compressed body not supported"},
		{"address the Go client cannot parse", reg(func(r *protocol.Command) { r.SetExt("brokerAddr", "10.0.0.1:1,2") }),
			protocol.InvalidParameter, "not allowed"},
		{"single topic before first registration", func() *protocol.Command {
			req := brokerA.registerCmd()
			req.Body = routes.RegisterBrokerBody{TopicConfigTable: map[string]routes.TopicConfig{"T": topic("T", 1)}}.AppendJSON(nil)
			req.SetExt("bodyCrc32", "0")
			return req
		}(), protocol.SystemError, "register broker failed"},
		{"route without topic", protocol.NewRequest(protocol.GetRouteInfoByTopic, nil),
			protocol.InvalidParameter, "namesrv: get route: missing header field topic"},
		{"unregister with bad id", protocol.NewRequest(protocol.UnregisterBroker, map[string]string{
			"clusterName": "c", "brokerName": "b", "brokerAddr": "a:1", "brokerId": "-"}),
			protocol.InvalidParameter, "brokerId"},
		{"register topic with bad body", func() *protocol.Command {
			r := protocol.NewRequest(protocol.RegisterTopicInNamesrv, map[string]string{"topic": "T"})
			r.Body = []byte("nope")
			return r
		}(), protocol.InvalidParameter, "topic route"},
		{"data version with bad body", func() *protocol.Command {
			r := protocol.NewRequest(protocol.QueryDataVersion, map[string]string{"clusterName": "c", "brokerAddr": "a:1"})
			r.Body = []byte(`{"counter":"x"}`)
			return r
		}(), protocol.InvalidParameter, "data version"},
		{"put kv without key", protocol.NewRequest(protocol.PutKVConfig, map[string]string{"namespace": "n"}),
			protocol.InvalidParameter, "missing header field key"},
		{"heartbeat without cluster", protocol.NewRequest(protocol.BrokerHeartbeat, map[string]string{"brokerAddr": "a:1"}),
			protocol.InvalidParameter, "clusterName"},
		{"wipe without broker", protocol.NewRequest(protocol.WipeWritePermOfBroker, nil),
			protocol.InvalidParameter, "brokerName"},
		{"unknown code", protocol.NewRequest(9999, nil),
			protocol.RequestCodeNotSupported, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.call(cl, tc.req)
			if resp.Code != tc.code || !strings.Contains(resp.Remark, tc.remark) {
				t.Errorf("answer %d %q, want %d containing %q", resp.Code, resp.Remark, tc.code, tc.remark)
			}
		})
	}
	if got := string(e.mustOK(cl, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil)).Body); got != `{"brokerAddrTable":{},"clusterAddrTable":{}}` {
		t.Errorf("refused registrations left state: %s", got)
	}
}

func TestLifecycle(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0"})
	if s.Addr() != nil {
		t.Error("Addr before Start is not nil")
	}
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr().String() != addr.String() {
		t.Errorf("Addr() = %v, Start returned %v", s.Addr(), addr)
	}
	if _, err := s.Start(); !errors.Is(err, errStarted) {
		t.Errorf("second Start: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Start(); !errors.Is(err, errClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("still listening after Close")
	}

	if err := New(Options{}).Close(); err != nil {
		t.Errorf("Close without Start: %v", err)
	}
	if _, err := New(Options{Addr: "127.0.0.1:0", ScanInterval: -1}).Start(); err == nil {
		t.Error("negative ScanInterval accepted")
	}
	busy := New(Options{Addr: addr.String()})
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Skip("port reused meanwhile:", err)
	}
	defer ln.Close()
	if _, err := busy.Start(); err == nil {
		t.Error("Start on a busy port succeeded")
	}
	if d := DefaultOptions(); d.Addr != ":9876" || d.ScanInterval != 5*time.Second {
		t.Errorf("DefaultOptions = %+v", d)
	}
}

// Brokers registering, heartbeating and leaving while clients read routes:
// run under -race.
func TestConcurrentTraffic(t *testing.T) {
	e := start(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			b := broker{cluster: "c", name: fmt.Sprintf("b%d", i), addr: fmt.Sprintf("10.0.1.%d:10911", i), counter: 1,
				topics: []routes.TopicConfig{topic("Shared", 4)}}
			cl := remoting.NewClient(remoting.ClientOptions{})
			defer cl.Close()
			for j := range 20 {
				b.counter = int64(j)
				e.mustOK(cl, b.registerCmd())
				e.mustOK(cl, protocol.NewRequest(protocol.BrokerHeartbeat, map[string]string{"clusterName": "c", "brokerAddr": b.addr}))
			}
		}()
		go func() {
			defer wg.Done()
			cl := remoting.NewClient(remoting.ClientOptions{})
			defer cl.Close()
			for range 40 {
				e.call(cl, routeCmd("Shared", goClientVersion))
				e.mustOK(cl, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil))
				e.srv.scanExpired()
			}
		}()
	}
	wg.Wait()
	eventually(t, "every broker to leave", func() bool {
		return string(e.mustOK(e.client(), protocol.NewRequest(protocol.GetBrokerClusterInfo, nil)).Body) ==
			`{"brokerAddrTable":{},"clusterAddrTable":{}}`
	})
}
