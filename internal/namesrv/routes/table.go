package routes

import (
	"maps"
	"slices"
	"time"
)

// MasterID is the broker id of a master (MixAll.MASTER_ID); slaves use ids ≥ 1.
const MasterID int64 = 0

// DefaultHeartbeatTimeout is how long a broker may stay silent before
// ScanExpired drops it, unless it registered with its own timeout
// (DEFAULT_BROKER_CHANNEL_EXPIRED_TIME).
const DefaultHeartbeatTimeout = 120 * time.Second

// Permission bits of QueueData.Perm and TopicConfig.Perm (PermName).
const (
	PermPriority int32 = 1 << 3
	PermRead     int32 = 1 << 2
	PermWrite    int32 = 1 << 1
	PermInherit  int32 = 1 << 0
)

// BrokerKey names a broker process: its cluster and its advertised address
// (BrokerAddrInfo). Liveness is kept per key.
type BrokerKey struct {
	Cluster string
	Addr    string
}

// BrokerData is one broker group (a master and its slaves) as routes show
// it.
type BrokerData struct {
	Cluster    string
	BrokerName string
	// Addrs maps broker id to "ip:port"; id 0 is the master.
	Addrs              map[int64]string
	ZoneName           string
	EnableActingMaster bool
}

// Clone returns a deep copy of d.
func (d BrokerData) Clone() BrokerData {
	d.Addrs = maps.Clone(d.Addrs)
	if d.Addrs == nil {
		d.Addrs = map[int64]string{}
	}
	return d
}

// minID returns the smallest broker id of d, and false when d has none.
func (d *BrokerData) minID() (int64, bool) {
	if len(d.Addrs) == 0 {
		return 0, false
	}
	return slices.Min(slices.Collect(maps.Keys(d.Addrs))), true
}

// QueueData is what one broker group hosts of one topic.
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int32
	WriteQueueNums int32
	Perm           int32
	TopicSysFlag   int32
}

// DataVersion versions a broker's topic configuration.
type DataVersion struct {
	StateVersion int64
	Timestamp    int64 // milliseconds since the epoch, set by the broker
	Counter      int64
}

// Compare orders versions by stateVersion, then counter, then timestamp
// (DataVersion.compare): -1, 0 or +1.
func (v DataVersion) Compare(o DataVersion) int {
	switch {
	case v.StateVersion != o.StateVersion:
		return cmp3(v.StateVersion, o.StateVersion)
	case v.Counter != o.Counter:
		return cmp3(v.Counter, o.Counter)
	default:
		return cmp3(v.Timestamp, o.Timestamp)
	}
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TopicRouteData is the answer to GET_ROUTEINFO_BY_TOPIC.
type TopicRouteData struct {
	// QueueDatas and BrokerDatas are sorted by brokerName.
	QueueDatas  []QueueData
	BrokerDatas []BrokerData
	// FilterServerTable maps a broker address to its filter servers; it is
	// empty unless a broker registered some.
	FilterServerTable map[string][]string
	// OrderTopicConf is "brokerName:queueNum;…"; the name server leaves it
	// empty (orderMessageEnable is false by default).
	OrderTopicConf string
}

// ClusterInfo is the answer to GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	// BrokerAddrTable maps brokerName to its BrokerData.
	BrokerAddrTable map[string]BrokerData
	// ClusterAddrTable maps a cluster to its brokerNames, sorted.
	ClusterAddrTable map[string][]string
}

// liveInfo is one entry of brokerLiveTable.
type liveInfo struct {
	lastUpdate   time.Time
	timeout      time.Duration
	dataVersion  DataVersion
	haServerAddr string
}

// Table holds the name server's state. The zero value is not usable; call
// New.
type Table struct {
	topics   map[string]map[string]QueueData
	brokers  map[string]*BrokerData
	clusters map[string]map[string]struct{}
	live     map[BrokerKey]*liveInfo
	filters  map[BrokerKey][]string
	kv       map[string]map[string]string
}

// New returns an empty table.
func New() *Table {
	return &Table{
		topics:   make(map[string]map[string]QueueData),
		brokers:  make(map[string]*BrokerData),
		clusters: make(map[string]map[string]struct{}),
		live:     make(map[BrokerKey]*liveInfo),
		filters:  make(map[BrokerKey][]string),
		kv:       make(map[string]map[string]string),
	}
}
