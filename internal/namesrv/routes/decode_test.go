package routes

import (
	"errors"
	"os"
	"reflect"
	"testing"
)

// A body as a Java 5.x broker sends it, static-topic mappings with
// fastjson's bare integer keys included.
func TestDecodeRegisterBrokerBodyFromJava(t *testing.T) {
	b, err := os.ReadFile("testdata/register_body_java.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := DecodeRegisterBrokerBody(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (DataVersion{Counter: 12, Timestamp: 1700000000123}); body.DataVersion != want {
		t.Errorf("DataVersion = %+v, want %+v", body.DataVersion, want)
	}
	if len(body.TopicConfigTable) != 4 || body.FilterServerList != nil {
		t.Errorf("%d topics, filter servers %v", len(body.TopicConfigTable), body.FilterServerList)
	}
	want := TopicConfig{TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6,
		TopicFilterType: "SINGLE_TAG", Attributes: map[string]string{"+message.type": "NORMAL"}}
	if got := body.TopicConfigTable["TopicTest"]; !reflect.DeepEqual(got, want) {
		t.Errorf("TopicTest = %+v, want %+v", got, want)
	}
	if got := body.TopicConfigTable["TBW102"]; got.Perm != 7 || got.Attributes != nil {
		t.Errorf("TBW102 = %+v", got)
	}
}

func TestDecodeRegisterBrokerBody(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want RegisterBrokerBody
		err  bool
	}{
		{name: "empty body", in: "", want: RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}}},
		{name: "empty object", in: "{}", want: RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}}},
		{name: "defaults for missing fields",
			in: `{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T"},"N":null}},"filterServerList":["f"]}`,
			want: RegisterBrokerBody{
				TopicConfigTable: map[string]TopicConfig{"T": {TopicName: "T", ReadQueueNums: 16, WriteQueueNums: 16, Perm: 6, TopicFilterType: "SINGLE_TAG"}},
				FilterServerList: []string{"f"},
			}},
		{name: "whitespace and standard keys",
			in:   "{ \"topicConfigSerializeWrapper\" : { \"dataVersion\" : {\"counter\": 3, \"timestamp\": 9} } }",
			want: RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}, DataVersion: DataVersion{Counter: 3, Timestamp: 9}}},
		{name: "truncated", in: `{"topicConfigSerializeWrapper":{`, err: true},
		{name: "not an object", in: `[1,2]`, err: true},
		{name: "wrong type", in: `{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"perm":"rw"}}}}`, err: true},
		{name: "queue count overflows int32", in: `{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":4294967296}}}}`, err: true},
		{name: "garbage", in: "\x00\x01", err: true},
		{name: "unbalanced", in: `{"a":[}`, err: true},
		{name: "unterminated string", in: `{"a":"`, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRegisterBrokerBody([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// What the encoders write, the decoders read back.
func TestRoundTrip(t *testing.T) {
	for _, enc := range []Encoding{LegacyJSON, StandardJSON} {
		r, err := DecodeTopicRouteData(AppendTopicRouteJSON(nil, sampleRoute, enc))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, sampleRoute) {
			t.Errorf("route (encoding %d):\n got %+v\nwant %+v", enc, r, sampleRoute)
		}
		ci := ClusterInfo{
			BrokerAddrTable:  map[string]BrokerData{"a": {Cluster: "c", BrokerName: "a", Addrs: map[int64]string{0: "x:1", 3: "y:2"}}},
			ClusterAddrTable: map[string][]string{"c": {"a"}},
		}
		got, err := DecodeClusterInfo(AppendClusterInfoJSON(nil, ci, enc))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ci) {
			t.Errorf("cluster info (encoding %d):\n got %+v\nwant %+v", enc, got, ci)
		}
	}
	v := DataVersion{StateVersion: -1, Timestamp: 1 << 62, Counter: 3}
	if got, err := DecodeDataVersion(v.AppendJSON(nil)); err != nil || got != v {
		t.Errorf("data version: %+v %v", got, err)
	}
}

func TestDecodeTopicRouteData(t *testing.T) {
	// As the Java mqadmin sends REGISTER_TOPIC_IN_NAMESRV: fastjson, old
	// field spelling.
	in := `{"brokerDatas":[{"brokerAddrs":{0:"1.1.1.1:10911",-1:"x"},"brokerName":"a","cluster":"c"}],"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":2,"topicSynFlag":1,"writeQueueNums":2},null]}`
	r, err := DecodeTopicRouteData([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := TopicRouteData{
		QueueDatas:        []QueueData{{BrokerName: "a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicSysFlag: 1}},
		BrokerDatas:       []BrokerData{{Cluster: "c", BrokerName: "a", Addrs: map[int64]string{0: "1.1.1.1:10911", -1: "x"}}},
		FilterServerTable: map[string][]string{},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	for _, bad := range []string{``, `{"brokerDatas":[{"brokerAddrs":{"m":"x"}}]}`, `{"queueDatas":{}}`} {
		if _, err := DecodeTopicRouteData([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeTopicRouteData(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestQuoteBareKeys(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{0:"a",1:"b"}`, `{"0":"a","1":"b"}`},
		{`{ 0 : "a" , -1:"b"}`, `{ "0" : "a" , "-1":"b"}`},
		{`{"k":{0:[1,{2:3}]},"s":"{0:1}"}`, `{"k":{"0":[1,{"2":3}]},"s":"{0:1}"}`},
		{`{"e":"q\"{0:1}"}`, `{"e":"q\"{0:1}"}`},
		{`[0,1,{a:true}]`, `[0,1,{"a":true}]`},
		{`{}`, `{}`},
		{`1`, `1`},
	} {
		got, err := QuoteBareKeys([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("QuoteBareKeys(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"a":1]`, `]`, `{"a`, `{%:1}`, `{"a":1,*:2}`} {
		if got, err := QuoteBareKeys([]byte(bad)); err == nil {
			t.Errorf("QuoteBareKeys(%s) = %s, want an error", bad, got)
		}
	}
}
