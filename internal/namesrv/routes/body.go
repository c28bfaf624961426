package routes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Defaults of a TopicConfig field the JSON leaves out (TopicConfig.java).
const (
	DefaultQueueNums       int32 = 16
	DefaultPerm                  = PermRead | PermWrite
	DefaultTopicFilterType       = "SINGLE_TAG"
)

// TopicConfig is a broker's configuration of one topic, as REGISTER_BROKER
// carries it.
type TopicConfig struct {
	TopicName       string
	ReadQueueNums   int32
	WriteQueueNums  int32
	Perm            int32
	TopicFilterType string // "SINGLE_TAG" or "MULTI_TAG"
	TopicSysFlag    int32
	Order           bool
	// Attributes is nil when empty.
	Attributes map[string]string
}

// RegisterBrokerBody is the body of REGISTER_BROKER: the broker's
// topicConfigSerializeWrapper and its filter servers.
type RegisterBrokerBody struct {
	// TopicConfigTable maps topic name to config; never nil after decoding.
	TopicConfigTable map[string]TopicConfig
	DataVersion      DataVersion
	// FilterServerList is nil when empty.
	FilterServerList []string
}

type wireDataVersion struct {
	StateVersion int64 `json:"stateVersion"`
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
}

type wireTopicConfig struct {
	TopicName       *string           `json:"topicName"`
	ReadQueueNums   *int32            `json:"readQueueNums"`
	WriteQueueNums  *int32            `json:"writeQueueNums"`
	Perm            *int32            `json:"perm"`
	TopicFilterType *string           `json:"topicFilterType"`
	TopicSysFlag    int32             `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes"`
}

type wireRegisterBrokerBody struct {
	TopicConfigSerializeWrapper struct {
		TopicConfigTable map[string]*wireTopicConfig `json:"topicConfigTable"`
		DataVersion      *wireDataVersion            `json:"dataVersion"`
	} `json:"topicConfigSerializeWrapper"`
	FilterServerList []string `json:"filterServerList"`
}

// DecodeRegisterBrokerBody decodes an uncompressed REGISTER_BROKER body. An
// empty body is an empty registration (no topics, DataVersion zero), as in
// RocketMQ. Errors wrap ErrInvalid.
func DecodeRegisterBrokerBody(b []byte) (RegisterBrokerBody, error) {
	body := RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}}
	if len(bytes.TrimSpace(b)) == 0 {
		return body, nil
	}
	var w wireRegisterBrokerBody
	if err := unmarshal(b, &w, "register broker body"); err != nil {
		return RegisterBrokerBody{}, err
	}
	wr := w.TopicConfigSerializeWrapper
	if wr.DataVersion != nil {
		body.DataVersion = DataVersion(*wr.DataVersion)
	}
	for name, tc := range wr.TopicConfigTable {
		if tc == nil {
			continue
		}
		body.TopicConfigTable[name] = tc.config()
	}
	if len(w.FilterServerList) > 0 {
		body.FilterServerList = w.FilterServerList
	}
	return body, nil
}

func (w *wireTopicConfig) config() TopicConfig {
	c := TopicConfig{
		ReadQueueNums:   DefaultQueueNums,
		WriteQueueNums:  DefaultQueueNums,
		Perm:            DefaultPerm,
		TopicFilterType: DefaultTopicFilterType,
		TopicSysFlag:    w.TopicSysFlag,
		Order:           w.Order,
	}
	if w.TopicName != nil {
		c.TopicName = *w.TopicName
	}
	if w.ReadQueueNums != nil {
		c.ReadQueueNums = *w.ReadQueueNums
	}
	if w.WriteQueueNums != nil {
		c.WriteQueueNums = *w.WriteQueueNums
	}
	if w.Perm != nil {
		c.Perm = *w.Perm
	}
	if w.TopicFilterType != nil {
		c.TopicFilterType = *w.TopicFilterType
	}
	if len(w.Attributes) > 0 {
		c.Attributes = w.Attributes
	}
	return c
}

// DecodeDataVersion decodes a DataVersion body (QUERY_DATA_VERSION). An
// empty body is the zero version. Errors wrap ErrInvalid.
func DecodeDataVersion(b []byte) (DataVersion, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return DataVersion{}, nil
	}
	var w wireDataVersion
	if err := unmarshal(b, &w, "data version"); err != nil {
		return DataVersion{}, err
	}
	return DataVersion(w), nil
}

type wireQueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   *int32 `json:"topicSysFlag"`
	TopicSynFlag   int32  `json:"topicSynFlag"` // spelling of brokers before 4.x
}

type wireBrokerData struct {
	Cluster            string            `json:"cluster"`
	BrokerName         string            `json:"brokerName"`
	BrokerAddrs        map[string]string `json:"brokerAddrs"`
	ZoneName           string            `json:"zoneName"`
	EnableActingMaster bool              `json:"enableActingMaster"`
}

func (w *wireBrokerData) data() (BrokerData, error) {
	bd := BrokerData{
		Cluster: w.Cluster, BrokerName: w.BrokerName, ZoneName: w.ZoneName,
		EnableActingMaster: w.EnableActingMaster, Addrs: make(map[int64]string, len(w.BrokerAddrs)),
	}
	for k, addr := range w.BrokerAddrs {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return BrokerData{}, fmt.Errorf("%w: broker %q: brokerAddrs key %q is not a broker id", ErrInvalid, w.BrokerName, k)
		}
		bd.Addrs[id] = addr
	}
	return bd, nil
}

// DecodeTopicRouteData decodes a TopicRouteData body in either dialect
// (REGISTER_TOPIC_IN_NAMESRV carries one; clients of the name server read
// one). Lists keep their order. Errors wrap ErrInvalid.
func DecodeTopicRouteData(b []byte) (TopicRouteData, error) {
	var w struct {
		OrderTopicConf    string              `json:"orderTopicConf"`
		QueueDatas        []*wireQueueData    `json:"queueDatas"`
		BrokerDatas       []*wireBrokerData   `json:"brokerDatas"`
		FilterServerTable map[string][]string `json:"filterServerTable"`
	}
	if err := unmarshal(b, &w, "topic route"); err != nil {
		return TopicRouteData{}, err
	}
	r := TopicRouteData{OrderTopicConf: w.OrderTopicConf, FilterServerTable: map[string][]string{}}
	for _, q := range w.QueueDatas {
		if q == nil {
			continue
		}
		flag := q.TopicSynFlag
		if q.TopicSysFlag != nil {
			flag = *q.TopicSysFlag
		}
		r.QueueDatas = append(r.QueueDatas, QueueData{
			BrokerName: q.BrokerName, ReadQueueNums: q.ReadQueueNums,
			WriteQueueNums: q.WriteQueueNums, Perm: q.Perm, TopicSysFlag: flag,
		})
	}
	for _, wb := range w.BrokerDatas {
		if wb == nil {
			continue
		}
		bd, err := wb.data()
		if err != nil {
			return TopicRouteData{}, err
		}
		r.BrokerDatas = append(r.BrokerDatas, bd)
	}
	for addr, fs := range w.FilterServerTable {
		if len(fs) > 0 {
			r.FilterServerTable[addr] = fs
		}
	}
	return r, nil
}

// DecodeClusterInfo decodes a ClusterInfo body in either dialect. Errors
// wrap ErrInvalid.
func DecodeClusterInfo(b []byte) (ClusterInfo, error) {
	var w struct {
		BrokerAddrTable  map[string]*wireBrokerData `json:"brokerAddrTable"`
		ClusterAddrTable map[string][]string        `json:"clusterAddrTable"`
	}
	if err := unmarshal(b, &w, "cluster info"); err != nil {
		return ClusterInfo{}, err
	}
	ci := ClusterInfo{BrokerAddrTable: map[string]BrokerData{}, ClusterAddrTable: map[string][]string{}}
	for name, wb := range w.BrokerAddrTable {
		if wb == nil {
			continue
		}
		bd, err := wb.data()
		if err != nil {
			return ClusterInfo{}, err
		}
		ci.BrokerAddrTable[name] = bd
	}
	for c, names := range w.ClusterAddrTable {
		ci.ClusterAddrTable[c] = names
	}
	return ci, nil
}

// unmarshal decodes fastjson or standard JSON into v.
func unmarshal(b []byte, v any, what string) error {
	std, err := QuoteBareKeys(b)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
	}
	if err := json.Unmarshal(std, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
	}
	return nil
}
