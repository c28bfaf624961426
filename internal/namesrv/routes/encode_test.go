package routes

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	jsoniter "github.com/json-iterator/go"
	"github.com/tidwall/gjson"
)

var sampleRoute = TopicRouteData{
	QueueDatas: []QueueData{
		{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6},
		{BrokerName: "broker-b", ReadQueueNums: 8, WriteQueueNums: 2, Perm: 4, TopicSysFlag: 1},
	},
	BrokerDatas: []BrokerData{
		{Cluster: "DefaultCluster", BrokerName: "broker-a", Addrs: map[int64]string{1: "10.0.0.2:10911", 0: "10.0.0.1:10911"}},
		{Cluster: "DefaultCluster", BrokerName: "broker-b", Addrs: map[int64]string{}, ZoneName: "z1", EnableActingMaster: true},
	},
	FilterServerTable: map[string][]string{},
}

func TestEncodeGolden(t *testing.T) {
	withFilters := sampleRoute
	withFilters.FilterServerTable = map[string][]string{"10.0.0.2:10911": {"10.0.0.2:30000"}, "10.0.0.1:10911": {}}
	withFilters.OrderTopicConf = "broker-a:4"
	ci := ClusterInfo{
		BrokerAddrTable: map[string]BrokerData{
			"broker-b": {Cluster: "c", BrokerName: "broker-b", Addrs: map[int64]string{0: "10.0.0.3:10911"}},
			"broker-a": {Cluster: "c", BrokerName: "broker-a", Addrs: map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}},
		},
		ClusterAddrTable: map[string][]string{"c": {"broker-b", "broker-a"}, "b": {}},
	}
	body := RegisterBrokerBody{
		TopicConfigTable: map[string]TopicConfig{
			"TopicTest": {TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"},
			"TBW102": {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: "SINGLE_TAG",
				Order: true, Attributes: map[string]string{"+message.type": "NORMAL"}},
		},
		DataVersion:      DataVersion{StateVersion: 1, Timestamp: 1700000000000, Counter: 5},
		FilterServerList: []string{"f1"},
	}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"route legacy", AppendTopicRouteJSON(nil, sampleRoute, LegacyJSON),
			`{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},` +
				`{"brokerAddrs":{},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":true,"zoneName":"z1"}],` +
				`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},` +
				`{"brokerName":"broker-b","perm":4,"readQueueNums":8,"topicSysFlag":1,"writeQueueNums":2}]}`},
		{"route standard", AppendTopicRouteJSON(nil, sampleRoute, StandardJSON),
			`{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},` +
				`{"brokerAddrs":{},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":true,"zoneName":"z1"}],` +
				`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},` +
				`{"brokerName":"broker-b","perm":4,"readQueueNums":8,"topicSysFlag":1,"writeQueueNums":2}]}`},
		{"route with filter servers and order conf", AppendTopicRouteJSON(nil, TopicRouteData{
			QueueDatas: withFilters.QueueDatas[:1], BrokerDatas: withFilters.BrokerDatas[:1],
			FilterServerTable: withFilters.FilterServerTable, OrderTopicConf: withFilters.OrderTopicConf}, StandardJSON),
			`{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],` +
				`"filterServerTable":{"10.0.0.1:10911":[],"10.0.0.2:10911":["10.0.0.2:30000"]},"orderTopicConf":"broker-a:4",` +
				`"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`},
		{"empty route", AppendTopicRouteJSON(nil, TopicRouteData{}, LegacyJSON),
			`{"brokerDatas":[],"filterServerTable":{},"queueDatas":[]}`},
		{"cluster info legacy", AppendClusterInfoJSON(nil, ci, LegacyJSON),
			`{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"c","enableActingMaster":false},` +
				`"broker-b":{"brokerAddrs":{0:"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"c","enableActingMaster":false}},` +
				`"clusterAddrTable":{"b":[],"c":["broker-a","broker-b"]}}`},
		{"cluster info standard", AppendClusterInfoJSON(nil, ci, StandardJSON),
			`{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"c","enableActingMaster":false},` +
				`"broker-b":{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"c","enableActingMaster":false}},` +
				`"clusterAddrTable":{"b":[],"c":["broker-a","broker-b"]}}`},
		{"empty cluster info", AppendClusterInfoJSON(nil, ClusterInfo{}, LegacyJSON),
			`{"brokerAddrTable":{},"clusterAddrTable":{}}`},
		{"topic list", AppendTopicListJSON(nil, []string{"A", "B"}, ""), `{"topicList":["A","B"]}`},
		{"empty topic list", AppendTopicListJSON(nil, nil, ""), `{"topicList":[]}`},
		{"system topic list", AppendTopicListJSON(nil, []string{"c"}, "10.0.0.1:10911"), `{"brokerAddr":"10.0.0.1:10911","topicList":["c"]}`},
		{"kv table", AppendKVTableJSON(nil, map[string]string{"b": "2", "a": "1"}), `{"table":{"a":"1","b":"2"}}`},
		{"empty kv table", AppendKVTableJSON(nil, nil), `{"table":{}}`},
		{"data version", DataVersion{StateVersion: 2, Timestamp: 1700000000000, Counter: 7}.AppendJSON(nil),
			`{"counter":7,"stateVersion":2,"timestamp":1700000000000}`},
		{"register body", body.AppendJSON(nil),
			`{"filterServerList":["f1"],"topicConfigSerializeWrapper":{"dataVersion":{"counter":5,"stateVersion":1,"timestamp":1700000000000},"topicConfigTable":{` +
				`"TBW102":{"attributes":{"+message.type":"NORMAL"},"order":true,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8},` +
				`"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}`},
		{"empty register body", RegisterBrokerBody{}.AppendJSON(nil),
			`{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":0,"stateVersion":0,"timestamp":0},"topicConfigTable":{}}}`},
		{"appends to dst", AppendTopicListJSON([]byte("x"), nil, ""), `x{"topicList":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Errorf("\n got %s\nwant %s", tc.got, tc.want)
			}
			if strings.HasPrefix(tc.name, "appends") || strings.HasSuffix(tc.name, "legacy") {
				return
			}
			if !json.Valid(tc.got) {
				t.Errorf("not valid JSON: %s", tc.got)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "nl\n\r\t", "\x00\x1f\x7f", "<&>", "日本", "bad\xffutf8", "\u2028"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendString(%q) = %s: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("appendString(%q) decodes to %q, want %q", s, back, want)
		}
	}
	if got := string(appendString(nil, "<&>")); got != `"<&>"` {
		t.Errorf("HTML characters escaped: %s", got)
	}
}

// goQueueData is the Go client's QueueData (internal/route.go, v2.1.2).
type goQueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
	TopicSynFlag   int    `json:"topicSynFlag"`
}

type goBrokerData struct {
	Cluster         string
	BrokerName      string
	BrokerAddresses map[int64]string
}

// goClientDecode is TopicRouteData.decode of rocketmq-client-go v2.1.2,
// copied line for line: gjson extracts the parts, jsoniter decodes the
// queue data, and brokerAddrs is cut up as text.
func goClientDecode(data string) ([]*goQueueData, []*goBrokerData, error) {
	var qds []*goQueueData
	res := gjson.Parse(data)
	err := jsoniter.Unmarshal([]byte(res.Get("queueDatas").String()), &qds)
	if err != nil {
		return nil, nil, err
	}
	bds := res.Get("brokerDatas").Array()
	out := make([]*goBrokerData, len(bds))
	for idx, v := range bds {
		bd := &goBrokerData{
			BrokerName:      v.Get("brokerName").String(),
			Cluster:         v.Get("cluster").String(),
			BrokerAddresses: make(map[int64]string, 0),
		}
		addrs := v.Get("brokerAddrs").String()
		strs := strings.Split(addrs[1:len(addrs)-1], ",")
		if strs != nil {
			for _, str := range strs {
				i := strings.Index(str, ":")
				if i < 0 {
					continue
				}
				brokerId := strings.ReplaceAll(str[0:i], "\"", "")
				id, _ := strconv.ParseInt(brokerId, 10, 64)
				bd.BrokerAddresses[id] = strings.Replace(str[i+1:], "\"", "", -1)
			}
		}
		out[idx] = bd
	}
	return qds, out, nil
}

// Both dialects parse in the Go client to the same route, addresses intact.
func TestRouteParsesLikeGoClient(t *testing.T) {
	for _, enc := range []Encoding{LegacyJSON, StandardJSON} {
		body := string(AppendTopicRouteJSON(nil, sampleRoute, enc))
		qds, bds, err := goClientDecode(body)
		if err != nil {
			t.Fatalf("encoding %d: %v\n%s", enc, err, body)
		}
		if len(qds) != 2 || *qds[0] != (goQueueData{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}) ||
			qds[1].BrokerName != "broker-b" || qds[1].WriteQueueNums != 2 {
			t.Errorf("encoding %d: queue data %+v %+v", enc, qds[0], qds[1])
		}
		if len(bds) != 2 {
			t.Fatalf("encoding %d: %d broker datas", enc, len(bds))
		}
		a, b := bds[0], bds[1]
		if a.BrokerName != "broker-a" || a.Cluster != "DefaultCluster" || len(a.BrokerAddresses) != 2 ||
			a.BrokerAddresses[0] != "10.0.0.1:10911" || a.BrokerAddresses[1] != "10.0.0.2:10911" {
			t.Errorf("encoding %d: broker a = %+v", enc, a)
		}
		if b.BrokerName != "broker-b" || len(b.BrokerAddresses) != 0 {
			t.Errorf("encoding %d: broker b = %+v", enc, b)
		}
	}
}

func TestEncodingFor(t *testing.T) {
	for _, tc := range []struct {
		version int32
		std     bool
		want    Encoding
	}{
		{317, false, LegacyJSON}, // rocketmq-client-go v2.1.2
		{400, false, LegacyJSON},
		{401, false, StandardJSON},
		{479, false, StandardJSON},
		{317, true, StandardJSON},
		{0, false, LegacyJSON},
	} {
		if got := EncodingFor(tc.version, tc.std); got != tc.want {
			t.Errorf("EncodingFor(%d, %v) = %d, want %d", tc.version, tc.std, got, tc.want)
		}
	}
}
