package routes

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.UnixMilli(1_700_000_000_000)

func topicConfig(name string, queues, perm int32) TopicConfig {
	return TopicConfig{
		TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: perm,
		TopicFilterType: DefaultTopicFilterType,
	}
}

// registration builds a REGISTER_BROKER request as a broker sends it: its
// topics plus TBW102 and SELF_TEST_TOPIC, which every broker has, so that
// no registration is a single-topic one unless a test asks for it.
func registration(cluster, name, addr string, id, counter int64, topics ...TopicConfig) RegisterBrokerRequest {
	table := map[string]TopicConfig{
		"TBW102":          topicConfig("TBW102", 8, 7),
		"SELF_TEST_TOPIC": topicConfig("SELF_TEST_TOPIC", 1, 6),
	}
	for _, tc := range topics {
		table[tc.TopicName] = tc
	}
	return RegisterBrokerRequest{
		Cluster: cluster, BrokerName: name, BrokerAddr: addr, BrokerID: id,
		HAServerAddr: addr[:len(addr)-5] + "10912",
		Body: RegisterBrokerBody{
			TopicConfigTable: table,
			DataVersion:      DataVersion{Timestamp: 1_700_000_000_000, Counter: counter},
		},
	}
}

func mustRegister(t *testing.T, tb *Table, req RegisterBrokerRequest, now time.Time) RegisterBrokerResult {
	t.Helper()
	res, err := tb.RegisterBroker(req, now)
	if err != nil {
		t.Fatalf("RegisterBroker(%s/%d): %v", req.BrokerName, req.BrokerID, err)
	}
	return res
}

func routeJSON(t *testing.T, tb *Table, topic string) string {
	t.Helper()
	r, ok := tb.TopicRoute(topic)
	if !ok {
		t.Fatalf("TopicRoute(%q): not found", topic)
	}
	return string(AppendTopicRouteJSON(nil, r, LegacyJSON))
}

// A master's registration creates the route of each of its topics.
func TestMasterRegistrationCreatesRoutes(t *testing.T) {
	tb := New()
	res := mustRegister(t, tb, registration("DefaultCluster", "broker-a", "10.0.0.1:10911", 0, 1,
		topicConfig("TopicTest", 4, PermRead|PermWrite)), t0)
	if !res.New || res.MasterAddr != "" || res.HAServerAddr != "" {
		t.Errorf("master result = %+v, want New and no master address", res)
	}
	want := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if got := routeJSON(t, tb, "TopicTest"); got != want {
		t.Errorf("route:\n got %s\nwant %s", got, want)
	}
	if got, want := tb.TopicList(), []string{"SELF_TEST_TOPIC", "TBW102", "TopicTest"}; !slices.Equal(got, want) {
		t.Errorf("TopicList = %q, want %q", got, want)
	}
	if _, ok := tb.TopicRoute("Nope"); ok {
		t.Error("TopicRoute(Nope) found a route")
	}
}

// Two broker groups of one cluster hosting a topic both appear in its route.
func TestTwoBrokerGroupsInOneRoute(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "broker-b", "10.0.0.2:10911", 0, 1, topicConfig("T", 8, 6)), t0)
	mustRegister(t, tb, registration("c", "broker-a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	want := `{"brokerDatas":[` +
		`{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"c","enableActingMaster":false},` +
		`{"brokerAddrs":{0:"10.0.0.2:10911"},"brokerName":"broker-b","cluster":"c","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[` +
		`{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},` +
		`{"brokerName":"broker-b","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}`
	if got := routeJSON(t, tb, "T"); got != want {
		t.Errorf("route:\n got %s\nwant %s", got, want)
	}
	ci := tb.ClusterInfo()
	if got := ci.ClusterAddrTable["c"]; !slices.Equal(got, []string{"broker-a", "broker-b"}) {
		t.Errorf("cluster c = %q", got)
	}
}

// A slave's registration adds its address but never changes queue data;
// its answer names the live master.
func TestSlaveRegistrationKeepsQueueData(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "broker-a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	slave := registration("c", "broker-a", "10.0.0.2:10911", 1, 9,
		topicConfig("T", 16, 4), topicConfig("SlaveOnly", 2, 6))
	res := mustRegister(t, tb, slave, t0)
	if res.MasterAddr != "10.0.0.1:10911" || res.HAServerAddr != "10.0.0.1:10912" {
		t.Errorf("slave result = %+v, want master 10.0.0.1:10911 / ha 10.0.0.1:10912", res)
	}
	want := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"c","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if got := routeJSON(t, tb, "T"); got != want {
		t.Errorf("route:\n got %s\nwant %s", got, want)
	}
	if _, ok := tb.TopicRoute("SlaveOnly"); ok {
		t.Error("a slave-only topic got a route")
	}
}

// A slave registering with enableActingMaster while no master is registered
// is the prime slave: its topics are applied, read-only.
func TestPrimeSlaveActsAsMaster(t *testing.T) {
	tb := New()
	yes := true
	req := registration("c", "broker-a", "10.0.0.2:10911", 1, 1, topicConfig("T", 4, 6))
	req.EnableActingMaster = &yes
	mustRegister(t, tb, req, t0)
	r, ok := tb.TopicRoute("T")
	if !ok || r.QueueDatas[0].Perm != PermRead {
		t.Fatalf("route = %+v, %v; want queue data with perm %d", r, ok, PermRead)
	}
	// Without the field (an old broker) a slave is never prime.
	tb2 := New()
	req.EnableActingMaster = nil
	mustRegister(t, tb2, req, t0)
	if _, ok := tb2.TopicRoute("T"); ok {
		t.Error("old-version slave without master created a route")
	}
}

// Topic configs are re-applied only when the broker's DataVersion changes,
// or for a topic missing this broker's queue data.
func TestTopicConfigAppliedOnDataVersionChange(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)

	same := registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 8, 6))
	mustRegister(t, tb, same, t0)
	if r, _ := tb.TopicRoute("T"); r.QueueDatas[0].WriteQueueNums != 4 {
		t.Errorf("same DataVersion changed queue data: %+v", r.QueueDatas[0])
	}

	tb.DeleteTopic("T", "")
	mustRegister(t, tb, same, t0)
	if r, ok := tb.TopicRoute("T"); !ok || r.QueueDatas[0].WriteQueueNums != 8 {
		t.Errorf("missing queue data not restored by same-version registration: %+v %v", r, ok)
	}

	next := registration("c", "a", "10.0.0.1:10911", 0, 2, topicConfig("T", 2, 4))
	mustRegister(t, tb, next, t0)
	if r, _ := tb.TopicRoute("T"); r.QueueDatas[0] != (QueueData{BrokerName: "a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 4}) {
		t.Errorf("new DataVersion not applied: %+v", r.QueueDatas[0])
	}
}

// A broker id registering with a single topic before its first full
// registration is refused and leaves no trace.
func TestSingleTopicBeforeFirstRegistrationRefused(t *testing.T) {
	tb := New()
	req := RegisterBrokerRequest{
		Cluster: "c", BrokerName: "a", BrokerAddr: "10.0.0.1:10911",
		Body: RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{"T": topicConfig("T", 4, 6)}},
	}
	if _, err := tb.RegisterBroker(req, t0); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("err = %v, want ErrNotRegistered", err)
	}
	if ci := tb.ClusterInfo(); len(ci.BrokerAddrTable) != 0 || len(ci.ClusterAddrTable) != 0 || len(tb.LiveBrokers()) != 0 {
		t.Errorf("refused registration left state: %+v %v", ci, tb.LiveBrokers())
	}
	// After a full registration, a single-topic one is an increment.
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1), t0)
	req.Body.DataVersion.Counter = 2
	mustRegister(t, tb, req, t0)
	if _, ok := tb.TopicRoute("T"); !ok {
		t.Error("incremental single-topic registration created no route")
	}
}

// A second address claiming a broker id whose holder has a newer
// stateVersion is ignored.
func TestStaleStateVersionIgnored(t *testing.T) {
	tb := New()
	first := registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6))
	first.Body.DataVersion.StateVersion = 5
	mustRegister(t, tb, first, t0)
	stale := registration("c", "a", "10.0.0.9:10911", 0, 1, topicConfig("T", 1, 6))
	stale.Body.DataVersion.StateVersion = 4
	if res := mustRegister(t, tb, stale, t0); !res.Ignored {
		t.Errorf("result = %+v, want Ignored", res)
	}
	ci := tb.ClusterInfo()
	if got := ci.BrokerAddrTable["a"].Addrs; !reflect.DeepEqual(got, map[int64]string{0: "10.0.0.1:10911"}) {
		t.Errorf("addrs = %v", got)
	}
	if got := tb.LiveBrokers(); len(got) != 1 || got[0].Addr != "10.0.0.1:10911" {
		t.Errorf("live = %v", got)
	}
}

// A slave promoted to master re-registers under id 0; its old id goes.
func TestPromotedSlaveDropsOldID(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	mustRegister(t, tb, registration("c", "a", "10.0.0.2:10911", 1, 1), t0)
	tb.UnregisterBroker(UnregisterBrokerRequest{Cluster: "c", BrokerName: "a", BrokerAddr: "10.0.0.1:10911", BrokerID: 0})
	mustRegister(t, tb, registration("c", "a", "10.0.0.2:10911", 0, 2, topicConfig("T", 4, 6)), t0)
	if got := tb.ClusterInfo().BrokerAddrTable["a"].Addrs; !reflect.DeepEqual(got, map[int64]string{0: "10.0.0.2:10911"}) {
		t.Errorf("addrs = %v, want only id 0", got)
	}
}

// Unregistering the last address of a broker group drops it from its
// cluster and from every topic; topics left empty disappear.
func TestUnregisterLastAddressDropsGroup(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6), topicConfig("OnlyA", 1, 6)), t0)
	mustRegister(t, tb, registration("c", "a", "10.0.0.3:10911", 1, 1), t0)
	mustRegister(t, tb, registration("c", "b", "10.0.0.2:10911", 0, 1, topicConfig("T", 4, 6)), t0)

	if !tb.UnregisterBroker(UnregisterBrokerRequest{Cluster: "c", BrokerName: "a", BrokerAddr: "10.0.0.3:10911", BrokerID: 1}) {
		t.Error("unregistering a known slave reported unknown")
	}
	if _, ok := tb.TopicRoute("OnlyA"); !ok {
		t.Fatal("route of OnlyA gone while its master lives")
	}
	tb.UnregisterBroker(UnregisterBrokerRequest{Cluster: "c", BrokerName: "a", BrokerAddr: "10.0.0.1:10911", BrokerID: 0})
	if _, ok := tb.TopicRoute("OnlyA"); ok {
		t.Error("OnlyA still routed after its only group left")
	}
	r, ok := tb.TopicRoute("T")
	if !ok || len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "b" || len(r.BrokerDatas) != 1 {
		t.Errorf("route of T = %+v, want only broker b", r)
	}
	ci := tb.ClusterInfo()
	if _, ok := ci.BrokerAddrTable["a"]; ok {
		t.Error("broker a still in brokerAddrTable")
	}
	if got := ci.ClusterAddrTable["c"]; !slices.Equal(got, []string{"b"}) {
		t.Errorf("cluster c = %q, want [b]", got)
	}
	tb.UnregisterBroker(UnregisterBrokerRequest{Cluster: "c", BrokerName: "b", BrokerAddr: "10.0.0.2:10911", BrokerID: 0})
	if ci := tb.ClusterInfo(); len(ci.ClusterAddrTable) != 0 || len(tb.TopicList()) != 0 {
		t.Errorf("state left after every broker left: %+v topics %q", ci, tb.TopicList())
	}
	if tb.UnregisterBroker(UnregisterBrokerRequest{Cluster: "c", BrokerName: "b", BrokerAddr: "10.0.0.2:10911"}) {
		t.Error("second unregistration reported a known broker")
	}
}

// A broker silent past its timeout is dropped; a heartbeat keeps it.
func TestScanExpired(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	short := registration("c", "b", "10.0.0.2:10911", 0, 1, topicConfig("T", 4, 6))
	short.HeartbeatTimeout = 10 * time.Second
	mustRegister(t, tb, short, t0)

	if got := tb.ScanExpired(t0.Add(10 * time.Second)); len(got) != 0 {
		t.Fatalf("expired at exactly the timeout: %v", got)
	}
	got := tb.ScanExpired(t0.Add(10*time.Second + time.Millisecond))
	want := []UnregisterBrokerRequest{{Cluster: "c", BrokerName: "b", BrokerAddr: "10.0.0.2:10911", BrokerID: 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanExpired = %+v, want %+v", got, want)
	}
	if !tb.Heartbeat(BrokerKey{"c", "10.0.0.1:10911"}, t0.Add(100*time.Second)) {
		t.Fatal("heartbeat of a live broker reported unknown")
	}
	if tb.Heartbeat(BrokerKey{"c", "10.0.0.2:10911"}, t0) {
		t.Error("heartbeat of an expired broker reported known")
	}
	if got := tb.ScanExpired(t0.Add(200 * time.Second)); len(got) != 0 {
		t.Fatalf("expired despite heartbeat: %v", got)
	}
	got = tb.ScanExpired(t0.Add(220*time.Second + time.Millisecond))
	if len(got) != 1 || got[0].BrokerName != "a" {
		t.Fatalf("ScanExpired = %+v, want broker a", got)
	}
	if len(tb.TopicList()) != 0 || len(tb.LiveBrokers()) != 0 {
		t.Errorf("state left: topics %q live %v", tb.TopicList(), tb.LiveBrokers())
	}
}

// Unregister by key (a closed connection) finds the broker's name and id.
func TestUnregisterByKey(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	mustRegister(t, tb, registration("c", "a", "10.0.0.2:10911", 2, 1), t0)
	req, ok := tb.Unregister(BrokerKey{"c", "10.0.0.2:10911"})
	if want := (UnregisterBrokerRequest{Cluster: "c", BrokerName: "a", BrokerAddr: "10.0.0.2:10911", BrokerID: 2}); !ok || req != want {
		t.Errorf("Unregister = %+v, %v; want %+v", req, ok, want)
	}
	if _, ok := tb.Unregister(BrokerKey{"other", "10.0.0.1:10911"}); ok {
		t.Error("unknown key reported known")
	}
}

func TestQueryDataVersion(t *testing.T) {
	tb := New()
	key := BrokerKey{"c", "10.0.0.1:10911"}
	if changed, _, found := tb.QueryDataVersion(key, DataVersion{}, t0); !changed || found {
		t.Errorf("unknown broker: changed=%v found=%v, want true false", changed, found)
	}
	req := registration("c", "a", key.Addr, 0, 3)
	mustRegister(t, tb, req, t0)
	if changed, _, _ := tb.QueryDataVersion(key, DataVersion{Counter: 4}, t0); !changed {
		t.Error("other version reported unchanged")
	}
	changed, stored, found := tb.QueryDataVersion(key, req.Body.DataVersion, t0.Add(119*time.Second))
	if changed || !found || stored != req.Body.DataVersion {
		t.Errorf("same version: changed=%v stored=%+v found=%v", changed, stored, found)
	}
	// The query refreshed liveness at t0+119s.
	if got := tb.ScanExpired(t0.Add(121 * time.Second)); len(got) != 0 {
		t.Errorf("expired despite QUERY_DATA_VERSION: %v", got)
	}
}

func TestDeleteTopic(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c1", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	mustRegister(t, tb, registration("c2", "b", "10.0.0.2:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	if !tb.DeleteTopic("T", "c1") {
		t.Error("DeleteTopic(T, c1) removed nothing")
	}
	r, ok := tb.TopicRoute("T")
	if !ok || len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "b" {
		t.Errorf("after deleting c1's part: %+v %v", r, ok)
	}
	if tb.DeleteTopic("T", "nope") {
		t.Error("unknown cluster removed something")
	}
	tb.DeleteTopic("T", "c2")
	if _, ok := tb.TopicRoute("T"); ok {
		t.Error("T routed after both parts were deleted")
	}
	if !tb.DeleteTopic("TBW102", "") || slices.Contains(tb.TopicList(), "TBW102") {
		t.Error("DeleteTopic without cluster kept the topic")
	}
	if tb.DeleteTopic("TBW102", "") {
		t.Error("deleting a missing topic reported a removal")
	}
}

func TestWritePerm(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1, topicConfig("T", 4, 6)), t0)
	if n := tb.WipeWritePerm("a"); n != 3 {
		t.Errorf("WipeWritePerm = %d, want 3 topics", n)
	}
	r, _ := tb.TopicRoute("T")
	if r.QueueDatas[0].Perm != PermRead {
		t.Errorf("perm after wipe = %d", r.QueueDatas[0].Perm)
	}
	r, _ = tb.TopicRoute("TBW102")
	if r.QueueDatas[0].Perm != PermRead|PermInherit {
		t.Errorf("TBW102 perm after wipe = %d, want inherit kept", r.QueueDatas[0].Perm)
	}
	if n := tb.AddWritePerm("a"); n != 3 {
		t.Errorf("AddWritePerm = %d", n)
	}
	r, _ = tb.TopicRoute("TBW102")
	if r.QueueDatas[0].Perm != PermRead|PermWrite {
		t.Errorf("TBW102 perm after add = %d, want RW", r.QueueDatas[0].Perm)
	}
	if n := tb.WipeWritePerm("nope"); n != 0 {
		t.Errorf("unknown broker: %d", n)
	}
}

func TestTopicsByClusterAndSystemTopics(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c1", "a", "10.0.0.1:10911", 0, 1, topicConfig("T1", 4, 6)), t0)
	mustRegister(t, tb, registration("c2", "b", "10.0.0.2:10911", 0, 1, topicConfig("T2", 4, 6)), t0)
	if got, want := tb.TopicsByCluster("c1"), []string{"SELF_TEST_TOPIC", "T1", "TBW102"}; !slices.Equal(got, want) {
		t.Errorf("TopicsByCluster(c1) = %q, want %q", got, want)
	}
	if got := tb.TopicsByCluster("none"); len(got) != 0 {
		t.Errorf("unknown cluster: %q", got)
	}
	topics, addr := tb.SystemTopicList()
	if want := []string{"a", "b", "c1", "c2"}; !slices.Equal(topics, want) || addr != "10.0.0.1:10911" {
		t.Errorf("SystemTopicList = %q %q", topics, addr)
	}
}

func TestRegisterTopic(t *testing.T) {
	tb := New()
	mustRegister(t, tb, registration("c", "a", "10.0.0.1:10911", 0, 1), t0)
	qd := QueueData{BrokerName: "a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}
	if err := tb.RegisterTopic("New", []QueueData{qd}); err != nil {
		t.Fatal(err)
	}
	if r, ok := tb.TopicRoute("New"); !ok || r.QueueDatas[0] != qd {
		t.Errorf("route = %+v %v", r, ok)
	}
	if err := tb.RegisterTopic("X", []QueueData{qd, {BrokerName: "ghost"}}); !errors.Is(err, ErrUnknownBroker) {
		t.Errorf("err = %v, want ErrUnknownBroker", err)
	}
	if _, ok := tb.TopicRoute("X"); ok {
		t.Error("refused registration created a route")
	}
}

func TestKV(t *testing.T) {
	tb := New()
	if _, ok := tb.KVList("ns"); ok {
		t.Error("unknown namespace listed")
	}
	tb.PutKV("ns", "k", "v")
	tb.PutKV("ns", "k2", "v2")
	if v, ok := tb.KV("ns", "k"); !ok || v != "v" {
		t.Errorf("KV = %q %v", v, ok)
	}
	tb.DeleteKV("ns", "k")
	if _, ok := tb.KV("ns", "k"); ok {
		t.Error("deleted key still there")
	}
	tb.DeleteKV("ns", "k2")
	if m, ok := tb.KVList("ns"); !ok || len(m) != 0 {
		t.Errorf("emptied namespace: %v %v, want present and empty", m, ok)
	}
	tb.DeleteKV("none", "k") // no panic
}

func TestRegisterBrokerRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*RegisterBrokerRequest)
	}{
		{"empty cluster", func(r *RegisterBrokerRequest) { r.Cluster = "" }},
		{"empty name", func(r *RegisterBrokerRequest) { r.BrokerName = "" }},
		{"empty addr", func(r *RegisterBrokerRequest) { r.BrokerAddr = "" }},
		{"comma in addr", func(r *RegisterBrokerRequest) { r.BrokerAddr = "1.2.3.4:1,5" }},
		{"space in addr", func(r *RegisterBrokerRequest) { r.BrokerAddr = "1.2.3.4: 15" }},
		{"quote in addr", func(r *RegisterBrokerRequest) { r.BrokerAddr = `1.2.3.4:"1` }},
		{"negative id", func(r *RegisterBrokerRequest) { r.BrokerID = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := registration("c", "a", "10.0.0.1:10911", 0, 1)
			tc.edit(&req)
			tb := New()
			if _, err := tb.RegisterBroker(req, t0); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if len(tb.LiveBrokers()) != 0 {
				t.Error("refused registration left a live broker")
			}
		})
	}
}

func TestDataVersionCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b DataVersion
		want int
	}{
		{DataVersion{}, DataVersion{}, 0},
		{DataVersion{StateVersion: 1}, DataVersion{Counter: 9, Timestamp: 9}, 1},
		{DataVersion{Counter: 1, Timestamp: 9}, DataVersion{Counter: 2}, -1},
		{DataVersion{Counter: 2, Timestamp: 1}, DataVersion{Counter: 2, Timestamp: 2}, -1},
		{DataVersion{Counter: 2, Timestamp: 3}, DataVersion{Counter: 2, Timestamp: 2}, 1},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%+v.Compare(%+v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
