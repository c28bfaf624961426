package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/vfs"
)

const dir = "store/config"

func defaults(autoCreate bool) TopicDefaults {
	return TopicDefaults{
		AutoCreate:  autoCreate,
		ClusterName: "DefaultCluster",
		BrokerName:  "broker-a",
		Now:         func() time.Time { return time.UnixMilli(1_700_000_000_000) },
	}
}

func openTopics(t *testing.T, fs vfs.FS, def TopicDefaults) *Topics {
	t.Helper()
	tp, err := OpenTopics(fs, dir, def)
	if err != nil {
		t.Fatalf("OpenTopics: %v", err)
	}
	return tp
}

func names(tcs []TopicConfig) []string {
	var out []string
	for _, tc := range tcs {
		out = append(out, tc.TopicName)
	}
	return out
}

// A 5.x broker creates these topics at start (consume-semantics.md §13).
func TestOpenTopicsCreatesSystemTopics(t *testing.T) {
	type want struct {
		queues, perm int
	}
	common := map[string]want{
		"SELF_TEST_TOPIC":                     {1, 6},
		"BenchmarkTest":                       {1024, 6},
		"DefaultCluster":                      {16, 7},
		"broker-a":                            {1, 7},
		"OFFSET_MOVED_EVENT":                  {1, 6},
		"SCHEDULE_TOPIC_XXXX":                 {18, 6},
		"DefaultCluster_REPLY_TOPIC":          {1, 6},
		"rmq_sys_REVIVE_LOG_DefaultCluster":   {8, 6},
		"rmq_sys_SYNC_BROKER_MEMBER_broker-a": {1, 1},
		"RMQ_SYS_TRANS_HALF_TOPIC":            {1, 6},
		"RMQ_SYS_TRANS_OP_HALF_TOPIC":         {1, 6},
	}
	with := func(extra map[string]want) map[string]want {
		m := maps.Clone(common)
		maps.Copy(m, extra)
		return m
	}
	tests := []struct {
		name string
		def  func(*TopicDefaults)
		want map[string]want
	}{
		{"auto-create off", func(*TopicDefaults) {}, common},
		{"auto-create on", func(d *TopicDefaults) { d.AutoCreate = true }, with(map[string]want{"TBW102": {8, 7}})},
		{"queue nums", func(d *TopicDefaults) { d.AutoCreate, d.QueueNums, d.ReviveQueueNums = true, 4, 2 },
			with(map[string]want{"TBW102": {4, 7}, "rmq_sys_REVIVE_LOG_DefaultCluster": {2, 6}})},
		{"trace and timer", func(d *TopicDefaults) { d.TraceTopic, d.TimerTopic = TopicTrace, true },
			with(map[string]want{"RMQ_SYS_TRACE_TOPIC": {1, 6}, "rmq_sys_wheel_timer": {1, 6}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := defaults(false)
			tt.def(&def)
			tp := openTopics(t, vfs.NewMem(), def)
			got := map[string]want{}
			for _, tc := range tp.All() {
				got[tc.TopicName] = want{tc.ReadQueueNums, tc.Perm}
				if tc.ReadQueueNums != tc.WriteQueueNums || tc.TopicFilterType != SingleTag || tc.Attributes == nil {
					t.Errorf("%s: %+v", tc.TopicName, tc)
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			if !slices.IsSorted(names(tp.All())) {
				t.Errorf("All is not sorted: %v", names(tp.All()))
			}
		})
	}
}

func TestOpenTopicsNeedsNames(t *testing.T) {
	if _, err := OpenTopics(vfs.NewMem(), dir, TopicDefaults{ClusterName: "c"}); err == nil {
		t.Fatal("OpenTopics without a broker name succeeded")
	}
}

func TestTopicsRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	tp := openTopics(t, fs, defaults(true))
	v0 := tp.DataVersion()
	tc := TopicConfig{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 2, Perm: 6, Order: true,
		Attributes: map[string]string{"+message.type": "FIFO"}}
	if err := tp.Put(tc); err != nil {
		t.Fatal(err)
	}
	tc.Attributes["+message.type"] = "NORMAL" // Put keeps its own copy
	if v1 := tp.DataVersion(); v1.Counter != v0.Counter+1 || v1.Timestamp != 1_700_000_000_000 {
		t.Errorf("DataVersion %+v after %+v", v1, v0)
	}
	if err := tp.Put(NewTopicConfig("U")); err != nil {
		t.Fatal(err)
	}
	if err := tp.Delete("U"); err != nil {
		t.Fatal(err)
	}
	if err := tp.Delete("U"); !errors.Is(err, ErrTopicNotExist) {
		t.Errorf("second Delete: %v", err)
	}
	want := TopicConfig{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 2, Perm: 6, TopicFilterType: SingleTag,
		Order: true, Attributes: map[string]string{"+message.type": "FIFO"}}
	for _, img := range []struct {
		name string
		fs   vfs.FS
	}{{"reopen", fs}, {"crash", fs.CrashClone()}} {
		tp2 := openTopics(t, img.fs, defaults(true))
		got, ok := tp2.Get("T")
		if !ok || !equalTopic(got, want) {
			t.Errorf("%s: Get(T) = %+v, %v", img.name, got, ok)
		}
		if _, ok := tp2.Get("U"); ok {
			t.Errorf("%s: deleted topic is back", img.name)
		}
		if !slices.Equal(names(tp2.All()), names(tp.All())) {
			t.Errorf("%s: topics %v, want %v", img.name, names(tp2.All()), names(tp.All()))
		}
		if tp2.DataVersion() != tp.DataVersion() {
			t.Errorf("%s: version %+v, want %+v (nothing new to write)", img.name, tp2.DataVersion(), tp.DataVersion())
		}
	}
}

func equalTopic(a, b TopicConfig) bool {
	return a.TopicName == b.TopicName && a.ReadQueueNums == b.ReadQueueNums && a.WriteQueueNums == b.WriteQueueNums &&
		a.Perm == b.Perm && a.TopicFilterType == b.TopicFilterType && a.TopicSysFlag == b.TopicSysFlag &&
		a.Order == b.Order && maps.Equal(a.Attributes, b.Attributes)
}

func writeFile(t *testing.T, fs vfs.FS, name, data string) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// After a corrupt main file the broker starts from the backup, which holds
// the state before the last change.
func TestTopicsLoadBakAfterCorruptMain(t *testing.T) {
	fs := vfs.NewMem()
	tp := openTopics(t, fs, defaults(false))
	if err := tp.Put(NewTopicConfig("A")); err != nil {
		t.Fatal(err)
	}
	if err := tp.Put(NewTopicConfig("B")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fs, dir+"/topics.json", `{"topicConfigTable":{"B":{"topicName":`)
	tp2 := openTopics(t, fs, defaults(false))
	if _, ok := tp2.Get("A"); !ok {
		t.Error("A lost")
	}
	if _, ok := tp2.Get("B"); ok {
		t.Error("B came back from a corrupt file")
	}
	// The bad file is kept aside and the backup written back as the main
	// file.
	if _, err := fs.Stat(dir + "/topics.json.corrupt"); err != nil {
		t.Error(err)
	}
	alone := fs.CrashClone()
	alone.Remove(dir + "/topics.json.bak")
	if _, ok := openTopics(t, alone, defaults(false)).Get("A"); !ok {
		t.Error("main file not rewritten from the backup")
	}
	// Both files corrupt: refuse to start rather than forget every topic.
	writeFile(t, fs, dir+"/topics.json", `{`)
	writeFile(t, fs, dir+"/topics.json.bak", `{`)
	if _, err := OpenTopics(fs, dir, defaults(false)); err == nil {
		t.Error("OpenTopics accepted two corrupt files")
	}
}

// A topics.json written by a Java broker (fastjson, fields sorted, some
// missing) loads with Java's defaults.
func TestTopicsLoadJavaFile(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fs, dir+"/topics.json", `{
	"dataVersion":{
		"counter":41,
		"stateVersion":0,
		"timestamp":1699999999999
	},
	"topicConfigTable":{
		"Orders":{
			"attributes":{},
			"order":false,
			"perm":6,
			"readQueueNums":8,
			"topicFilterType":"SINGLE_TAG",
			"topicName":"Orders",
			"topicSysFlag":0,
			"writeQueueNums":8
		},
		"Sparse":{
			"topicName":"Sparse"
		},
		"TBW102":{"topicName":"TBW102","perm":7,"readQueueNums":8,"writeQueueNums":8}
	}
}`)
	tp := openTopics(t, fs, defaults(false))
	if got, _ := tp.Get("Orders"); got.ReadQueueNums != 8 || got.Perm != 6 {
		t.Errorf("Orders = %+v", got)
	}
	if got, _ := tp.Get("Sparse"); !equalTopic(got, NewTopicConfig("Sparse")) {
		t.Errorf("Sparse = %+v, want Java's defaults", got)
	}
	// Auto-creation is off here, so TBW102 loses its inherit bit.
	if got, _ := tp.Get(TopicAutoCreate); got.Perm != 6 {
		t.Errorf("TBW102 perm = %d, want 6", got.Perm)
	}
	if v := tp.DataVersion(); v.Counter != 42 {
		t.Errorf("DataVersion %+v, want counter 42 (system topics were added)", v)
	}
	// Switching auto-creation back on restores it.
	tp = openTopics(t, fs, defaults(true))
	if got, _ := tp.Get(TopicAutoCreate); got.Perm != 7 {
		t.Errorf("TBW102 perm = %d, want 7", got.Perm)
	}
}

// The REGISTER_BROKER body embeds this wrapper; the name server (Java or
// ours) decodes these exact field names.
func TestSerializeWrapperJSON(t *testing.T) {
	tp := openTopics(t, vfs.NewMem(), defaults(true))
	b, err := json.Marshal(tp.SerializeWrapper())
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"dataVersion", "topicConfigTable"}) {
		t.Fatalf("top-level keys %v", got)
	}
	var dv map[string]int64
	json.Unmarshal(top["dataVersion"], &dv)
	if got := slices.Sorted(maps.Keys(dv)); !slices.Equal(got, []string{"counter", "stateVersion", "timestamp"}) {
		t.Errorf("dataVersion keys %v", got)
	}
	var table map[string]map[string]any
	json.Unmarshal(top["topicConfigTable"], &table)
	tbw := table["TBW102"]
	wantKeys := []string{"attributes", "order", "perm", "readQueueNums", "topicFilterType", "topicName", "topicSysFlag", "writeQueueNums"}
	if got := slices.Sorted(maps.Keys(tbw)); !slices.Equal(got, wantKeys) {
		t.Errorf("TopicConfig keys %v, want %v", got, wantKeys)
	}
	if string(mustJSON(tbw["attributes"])) != "{}" || tbw["perm"] != float64(7) {
		t.Errorf("TBW102 = %v", tbw)
	}
	// A nil Attributes map is written as {} too.
	if b, _ := json.Marshal(TopicConfig{TopicName: "x"}); !strings.Contains(string(b), `"attributes":{}`) {
		t.Errorf("nil attributes: %s", b)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// consume-semantics.md §13: sends to unknown topics.
func TestCreateOnSend(t *testing.T) {
	tests := []struct {
		name       string
		autoCreate bool
		setup      func(*Topics) error
		topic      string
		queueNums  int
		wantQueues int
		wantPerm   int
		wantErr    error
	}{
		{name: "auto-create copies TBW102", autoCreate: true, topic: "New", queueNums: 4, wantQueues: 4, wantPerm: 6},
		{name: "capped at TBW102's queues", autoCreate: true, topic: "New", queueNums: 16, wantQueues: 8, wantPerm: 6},
		{name: "no count takes TBW102's", autoCreate: true, topic: "New", queueNums: 0, wantQueues: 8, wantPerm: 6},
		{name: "auto-create off", topic: "New", queueNums: 4, wantErr: ErrTopicNotExist},
		{name: "retry topic without auto-create", topic: "%RETRY%G", queueNums: 4, wantQueues: 1, wantPerm: 6},
		{name: "TBW102 deleted", autoCreate: true, setup: func(tp *Topics) error { return tp.Delete(TopicAutoCreate) },
			topic: "New", queueNums: 4, wantErr: ErrTopicNotExist},
		{name: "TBW102 without inherit", autoCreate: true,
			setup: func(tp *Topics) error {
				tc, _ := tp.Get(TopicAutoCreate)
				tc.Perm = 6
				return tp.Put(tc)
			},
			topic: "New", queueNums: 4, wantErr: ErrTopicNotExist},
		{name: "read-only TBW102 gives read-only topics", autoCreate: true,
			setup: func(tp *Topics) error {
				tc, _ := tp.Get(TopicAutoCreate)
				tc.Perm = PermRead | PermInherit
				return tp.Put(tc)
			},
			topic: "New", queueNums: 4, wantQueues: 4, wantPerm: 4},
		{name: "invalid name", autoCreate: true, topic: "a.b", queueNums: 4, wantErr: ErrInvalidTopic},
		{name: "too long", autoCreate: true, topic: strings.Repeat("x", 128), queueNums: 4, wantErr: ErrInvalidTopic},
		{name: "not sendable", autoCreate: true, topic: TopicTransCheckMaxTime, queueNums: 4, wantErr: ErrTopicNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			tp := openTopics(t, fs, defaults(tt.autoCreate))
			if tt.setup != nil {
				if err := tt.setup(tp); err != nil {
					t.Fatal(err)
				}
			}
			tc, created, err := tp.CreateOnSend(tt.topic, tt.queueNums)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || created {
					t.Fatalf("err = %v, created %v; want %v", err, created, tt.wantErr)
				}
				if _, ok := tp.Get(tt.topic); ok {
					t.Fatal("topic exists after a failed creation")
				}
				return
			}
			if err != nil || !created {
				t.Fatalf("err = %v, created %v", err, created)
			}
			if tc.ReadQueueNums != tt.wantQueues || tc.WriteQueueNums != tt.wantQueues || tc.Perm != tt.wantPerm {
				t.Errorf("created %+v, want %d queues perm %d", tc, tt.wantQueues, tt.wantPerm)
			}
			again, created, err := tp.CreateOnSend(tt.topic, 1)
			if err != nil || created || !equalTopic(again, tc) {
				t.Errorf("second call: %+v, %v, %v", again, created, err)
			}
			got, ok := openTopics(t, fs.CrashClone(), defaults(tt.autoCreate)).Get(tt.topic)
			if !ok || !equalTopic(got, tc) {
				t.Errorf("after crash: %+v, %v", got, ok)
			}
		})
	}
}

func TestCreateRetryAndDLQTopics(t *testing.T) {
	tp := openTopics(t, vfs.NewMem(), defaults(false))
	tc, created, err := tp.CreateRetryTopic("G", 1, false)
	if err != nil || !created || tc.TopicName != "%RETRY%G" || tc.ReadQueueNums != 1 || tc.Perm != 6 || tc.Order {
		t.Fatalf("CreateRetryTopic = %+v, %v, %v", tc, created, err)
	}
	v := tp.DataVersion()
	if _, created, _ := tp.CreateRetryTopic("G", 3, false); created || tp.DataVersion() != v {
		t.Error("existing retry topic re-created")
	}
	// The heartbeat of a group that subscribes to an order topic sets the
	// order flag; it is not a creation.
	tc, created, err = tp.CreateRetryTopic("G", 1, true)
	if err != nil || created || !tc.Order {
		t.Errorf("order update = %+v, %v, %v", tc, created, err)
	}
	if got, _ := tp.Get("%RETRY%G"); !got.Order {
		t.Error("order flag not stored")
	}
	if tc, _, _ := tp.CreateRetryTopic("H", 0, false); tc.ReadQueueNums != 1 {
		t.Errorf("retryQueueNums 0 gave %d queues", tc.ReadQueueNums)
	}
	tc, created, err = tp.CreateDLQTopic("G")
	if err != nil || !created || tc.TopicName != "%DLQ%G" || tc.ReadQueueNums != 1 || tc.WriteQueueNums != 1 || tc.Perm != 6 {
		t.Errorf("CreateDLQTopic = %+v, %v, %v", tc, created, err)
	}
	if _, _, err := tp.CreateDLQTopic("bad group"); !errors.Is(err, ErrInvalidGroup) {
		t.Errorf("bad group: %v", err)
	}
	if _, _, err := tp.CreateRetryTopic("", 1, false); !errors.Is(err, ErrInvalidGroup) {
		t.Errorf("blank group: %v", err)
	}
}

func TestCreateIfAbsent(t *testing.T) {
	tp := openTopics(t, vfs.NewMem(), defaults(false))
	tc := NewTopicConfig(TopicTransCheckMaxTime)
	tc.ReadQueueNums, tc.WriteQueueNums = 1, 1
	got, created, err := tp.CreateIfAbsent(tc)
	if err != nil || !created || !equalTopic(got, tc) {
		t.Fatalf("%+v, %v, %v", got, created, err)
	}
	tc.Perm = 4
	if got, created, _ := tp.CreateIfAbsent(tc); created || got.Perm != 6 {
		t.Errorf("existing topic replaced: %+v", got)
	}
}

func TestPutRejects(t *testing.T) {
	tp := openTopics(t, vfs.NewMem(), defaults(false))
	for _, tc := range []TopicConfig{
		{TopicName: ""},
		{TopicName: "a b"},
		{TopicName: "T", ReadQueueNums: -1},
		{TopicName: "T", Perm: 16},
		{TopicName: "T", TopicFilterType: "SQL"},
	} {
		if err := tp.Put(tc); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("Put(%+v) = %v", tc, err)
		}
	}
	if err := tp.Put(TopicConfig{TopicName: "T", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	if got, _ := tp.Get("T"); got.TopicFilterType != SingleTag {
		t.Errorf("filter type %q", got.TopicFilterType)
	}
}

// A change whose file write fails is not applied.
func TestTopicsWriteFailureLeavesTableUnchanged(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.Inject(mem, vfs.FailPath(func(p string) bool { return strings.HasSuffix(p, ".tmp") }, syscall.ENOSPC, vfs.OpWriteAt))
	efs.Disable()
	tp := openTopics(t, efs, defaults(true))
	v := tp.DataVersion()
	efs.Enable()
	if err := tp.Put(NewTopicConfig("T")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put = %v, want ENOSPC", err)
	}
	if _, _, err := tp.CreateOnSend("U", 4); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CreateOnSend = %v, want ENOSPC", err)
	}
	if _, ok := tp.Get("T"); ok {
		t.Error("T visible after a failed write")
	}
	if _, ok := tp.Get("U"); ok {
		t.Error("U visible after a failed write")
	}
	if tp.DataVersion() != v {
		t.Error("DataVersion moved")
	}
	efs.Disable()
	if err := tp.Put(NewTopicConfig("T")); err != nil {
		t.Fatal(err)
	}
}

func TestIsSystem(t *testing.T) {
	def := defaults(false)
	def.TraceTopic = "MyTrace"
	tp := openTopics(t, vfs.NewMem(), def)
	for name, want := range map[string]bool{
		"TBW102": true, "SCHEDULE_TOPIC_XXXX": true, "DefaultCluster": true, "broker-a": true,
		"MyTrace": true, "RMQ_SYS_TRACE_TOPIC": true, "rmq_sys_anything": true, "CHECKPOINT_TOPIC": true,
		"DefaultCluster_REPLY_TOPIC": true, "TRANS_CHECK_MAX_TIME_TOPIC": true,
		"Orders": false, "%RETRY%G": false,
	} {
		if got := tp.IsSystem(name); got != want {
			t.Errorf("IsSystem(%q) = %v", name, got)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		name string
		want error
	}{
		{"Orders", nil},
		{"a-b_c|d%e09", nil},
		{strings.Repeat("t", 127), nil},
		{strings.Repeat("t", 128), ErrInvalidTopic},
		{"%RETRY%" + strings.Repeat("g", 248), nil},
		{"%RETRY%" + strings.Repeat("g", 249), ErrInvalidTopic},
		{"%DLQ%" + strings.Repeat("g", 250), nil},
		{"", ErrInvalidTopic},
		{" ", ErrInvalidTopic},
		{"a.b", ErrInvalidTopic},
		{"a b", ErrInvalidTopic},
		{"主题", ErrInvalidTopic},
		{"SCHEDULE_TOPIC_XXXX", ErrTopicNotAllowed},
		{"RMQ_SYS_TRANS_HALF_TOPIC", ErrTopicNotAllowed},
		{"RMQ_SYS_TRANS_OP_HALF_TOPIC", ErrTopicNotAllowed},
		{"TRANS_CHECK_MAX_TIME_TOPIC", ErrTopicNotAllowed},
		{"SELF_TEST_TOPIC", ErrTopicNotAllowed},
		{"OFFSET_MOVED_EVENT", ErrTopicNotAllowed},
		{"TBW102", nil},
		{"RMQ_SYS_TRACE_TOPIC", nil},
	}
	for _, tt := range tests {
		if err := ValidateTopic(tt.name); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("ValidateTopic(%q) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestValidateGroup(t *testing.T) {
	for name, ok := range map[string]bool{
		"G": true, "CID_ONS-HTTP-PROXY": true, strings.Repeat("g", 120): true,
		strings.Repeat("g", 121): false, "": false, "a.b": false, "a@b": false,
	} {
		err := ValidateGroup(name)
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("ValidateGroup(%q) = %v", name, err)
		}
	}
}

func TestNames(t *testing.T) {
	for got, want := range map[string]string{
		RetryTopic("G"):            "%RETRY%G",
		DLQTopic("G"):              "%DLQ%G",
		ReplyTopic("C"):            "C_REPLY_TOPIC",
		ReviveTopic("C"):           "rmq_sys_REVIVE_LOG_C",
		SyncBrokerMemberTopic("b"): "rmq_sys_SYNC_BROKER_MEMBER_b",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if !Readable(6) || !Writable(6) || Inherited(6) || !Inherited(7) || Writable(4) {
		t.Error("perm helpers")
	}
	if (TopicConfig{ReadQueueNums: 4, WriteQueueNums: 8}).QueueNums() != 8 {
		t.Error("QueueNums")
	}
}

// Many producers sending to new topics at once, with readers and admin
// changes alongside: every creation ends up in the file exactly once.
func TestTopicsConcurrent(t *testing.T) {
	fs := vfs.NewMem()
	tp := openTopics(t, fs, defaults(true))
	const workers, topics = 8, 20
	var wg sync.WaitGroup
	createdCount := make([]int, topics)
	var mu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range topics {
				name := fmt.Sprintf("T%d", (i+w)%topics)
				_, created, err := tp.CreateOnSend(name, 4)
				if err != nil {
					t.Error(err)
					return
				}
				if created {
					mu.Lock()
					createdCount[(i+w)%topics]++
					mu.Unlock()
				}
				tp.Get(name)
				tp.All()
				tp.SerializeWrapper()
				if w == 0 {
					if err := tp.Put(NewTopicConfig(fmt.Sprintf("A%d", i))); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for i, n := range createdCount {
		if n != 1 {
			t.Errorf("T%d created %d times", i, n)
		}
	}
	tp2 := openTopics(t, fs.CrashClone(), defaults(true))
	if !slices.Equal(names(tp2.All()), names(tp.All())) {
		t.Errorf("after crash %v\nwant %v", names(tp2.All()), names(tp.All()))
	}
}

// TestTopicsGroupCommit: changes queued while a file write is in progress
// are applied and written together, in one write (one DataVersion step),
// and every one of them is in the file afterwards; when that write fails,
// every change of the group fails and none is installed.
func TestTopicsGroupCommit(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.Inject(mem, vfs.FailPath(func(p string) bool { return strings.HasSuffix(p, ".tmp") }, syscall.ENOSPC, vfs.OpWriteAt))
	efs.Disable()
	tp := openTopics(t, efs, defaults(true))
	run := func(prefix string) []error {
		const n = 32
		tp.write.Lock() // a write in progress: the puts below queue up
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = tp.Put(NewTopicConfig(fmt.Sprintf("%s%02d", prefix, i))) })
		}
		for {
			tp.qmu.Lock()
			queued := len(tp.queue)
			tp.qmu.Unlock()
			if queued == n {
				break
			}
			time.Sleep(time.Millisecond)
		}
		tp.write.Unlock()
		wg.Wait()
		return errs
	}
	v := tp.DataVersion()
	for i, err := range run("G") {
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if got := tp.DataVersion().Counter - v.Counter; got != 1 {
		t.Fatalf("32 queued puts took %d writes, want 1", got)
	}
	reopened := openTopics(t, mem.CrashClone(), defaults(true))
	for i := range 32 {
		if _, ok := reopened.Get(fmt.Sprintf("G%02d", i)); !ok {
			t.Fatalf("G%02d missing from the file", i)
		}
	}
	efs.Enable()
	v = tp.DataVersion()
	for i, err := range run("F") {
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("put %d of a group whose write failed: %v", i, err)
		}
		if _, ok := tp.Get(fmt.Sprintf("F%02d", i)); ok {
			t.Fatalf("F%02d installed after a failed write", i)
		}
	}
	if tp.DataVersion() != v {
		t.Fatal("DataVersion moved after a failed write")
	}
}
