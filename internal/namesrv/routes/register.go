package routes

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// RegisterBrokerRequest is a REGISTER_BROKER request: its header fields and
// its decoded body.
type RegisterBrokerRequest struct {
	Cluster    string
	BrokerName string
	BrokerAddr string // "ip:port", as clients will dial it
	BrokerID   int64  // 0 for the master
	// HAServerAddr is where slaves of this broker replicate from.
	HAServerAddr string
	// ZoneName comes from the __ZONE_NAME ext field; usually empty.
	ZoneName string
	// HeartbeatTimeout is how long the broker may stay silent; zero or
	// negative means DefaultHeartbeatTimeout.
	HeartbeatTimeout time.Duration
	// EnableActingMaster is nil when the broker did not send the field
	// (brokers before 5.0); a non-nil value makes the broker eligible as
	// prime slave.
	EnableActingMaster *bool
	Body               RegisterBrokerBody
}

// RegisterBrokerResult is what REGISTER_BROKER answers.
type RegisterBrokerResult struct {
	// MasterAddr and HAServerAddr are set for a slave whose master is
	// registered and live.
	MasterAddr   string
	HAServerAddr string
	// New reports that the address was not live before this registration.
	New bool
	// Ignored reports that another address holds the broker id with a
	// higher stateVersion, so nothing was recorded.
	Ignored bool
}

// UnregisterBrokerRequest names one broker process to remove.
type UnregisterBrokerRequest struct {
	Cluster    string
	BrokerName string
	BrokerAddr string
	BrokerID   int64
}

// Key returns the liveness key of r.
func (r UnregisterBrokerRequest) Key() BrokerKey {
	return BrokerKey{Cluster: r.Cluster, Addr: r.BrokerAddr}
}

func (r *RegisterBrokerRequest) validate() error {
	switch {
	case r.Cluster == "":
		return fmt.Errorf("%w: register broker: empty clusterName", ErrInvalid)
	case r.BrokerName == "":
		return fmt.Errorf("%w: register broker: empty brokerName", ErrInvalid)
	case r.BrokerID < 0:
		return fmt.Errorf("%w: register broker: negative brokerId %d", ErrInvalid, r.BrokerID)
	}
	return validateAddr(r.BrokerAddr)
}

// validateAddr refuses addresses that would break the Go client's
// brokerAddrs parser, which splits the raw JSON text on ',' and ':' and
// strips quotes.
func validateAddr(addr string) error {
	if addr == "" {
		return fmt.Errorf("%w: empty brokerAddr", ErrInvalid)
	}
	for _, c := range []byte(addr) {
		if c <= ' ' || c == ',' || c == '"' || c == '\\' || c == '{' || c == '}' || c == 0x7f {
			return fmt.Errorf("%w: brokerAddr %q: character %q not allowed", ErrInvalid, addr, c)
		}
	}
	return nil
}

// RegisterBroker records a broker's registration at now
// (RouteInfoManager.registerBroker).
func (t *Table) RegisterBroker(req RegisterBrokerRequest, now time.Time) (RegisterBrokerResult, error) {
	if err := req.validate(); err != nil {
		return RegisterBrokerResult{}, err
	}
	key := BrokerKey{Cluster: req.Cluster, Addr: req.BrokerAddr}
	bd := t.brokers[req.BrokerName]

	// Another address holds this id with a newer state: ignore this one.
	if bd != nil {
		if old := bd.Addrs[req.BrokerID]; old != "" && old != req.BrokerAddr {
			if li := t.live[BrokerKey{Cluster: req.Cluster, Addr: old}]; li != nil &&
				li.dataVersion.StateVersion > req.Body.DataVersion.StateVersion {
				delete(t.live, key)
				return RegisterBrokerResult{Ignored: true}, nil
			}
		}
	}
	if (bd == nil || bd.Addrs[req.BrokerID] == "") && len(req.Body.TopicConfigTable) == 1 {
		return RegisterBrokerResult{}, fmt.Errorf("%w: %s id %d at %s sent a single topic before its first full registration",
			ErrNotRegistered, req.BrokerName, req.BrokerID, req.BrokerAddr)
	}

	names := t.clusters[req.Cluster]
	if names == nil {
		names = make(map[string]struct{})
		t.clusters[req.Cluster] = names
	}
	names[req.BrokerName] = struct{}{}

	first := false
	if bd == nil {
		first = true
		bd = &BrokerData{Cluster: req.Cluster, BrokerName: req.BrokerName, Addrs: make(map[int64]string)}
		t.brokers[req.BrokerName] = bd
	}
	bd.EnableActingMaster = req.EnableActingMaster != nil && *req.EnableActingMaster
	bd.ZoneName = req.ZoneName

	// One address, one id: a slave promoted to master drops its old id.
	for id, a := range bd.Addrs {
		if a == req.BrokerAddr && id != req.BrokerID {
			delete(bd.Addrs, id)
		}
	}
	if bd.Addrs[req.BrokerID] == "" {
		first = true
	}
	bd.Addrs[req.BrokerID] = req.BrokerAddr

	isMaster := req.BrokerID == MasterID
	minID, _ := bd.minID()
	isPrimeSlave := req.EnableActingMaster != nil && !isMaster && req.BrokerID == minID
	if isMaster || isPrimeSlave {
		for _, name := range slices.Sorted(maps.Keys(req.Body.TopicConfigTable)) {
			tc := req.Body.TopicConfigTable[name]
			topic := cmp.Or(tc.TopicName, name)
			if !first && !t.topicConfigChanged(key, req.Body.DataVersion, req.BrokerName, topic) {
				continue
			}
			perm := tc.Perm
			if isPrimeSlave && bd.EnableActingMaster {
				perm &^= PermWrite
			}
			t.putQueueData(topic, QueueData{
				BrokerName:     req.BrokerName,
				ReadQueueNums:  tc.ReadQueueNums,
				WriteQueueNums: tc.WriteQueueNums,
				Perm:           perm,
				TopicSysFlag:   tc.TopicSysFlag,
			})
		}
	}

	timeout := req.HeartbeatTimeout
	if timeout <= 0 {
		timeout = DefaultHeartbeatTimeout
	}
	_, existed := t.live[key]
	t.live[key] = &liveInfo{
		lastUpdate:   now,
		timeout:      timeout,
		dataVersion:  req.Body.DataVersion,
		haServerAddr: req.HAServerAddr,
	}
	if len(req.Body.FilterServerList) == 0 {
		delete(t.filters, key)
	} else {
		t.filters[key] = slices.Clone(req.Body.FilterServerList)
	}

	res := RegisterBrokerResult{New: !existed}
	if !isMaster {
		if master := bd.Addrs[MasterID]; master != "" {
			if li := t.live[BrokerKey{Cluster: req.Cluster, Addr: master}]; li != nil {
				res.MasterAddr, res.HAServerAddr = master, li.haServerAddr
			}
		}
	}
	return res, nil
}

// topicConfigChanged reports whether a registration carrying version v must
// (re)apply its config of topic (isTopicConfigChanged).
func (t *Table) topicConfigChanged(key BrokerKey, v DataVersion, brokerName, topic string) bool {
	li := t.live[key]
	if li == nil || li.dataVersion != v {
		return true
	}
	_, ok := t.topics[topic][brokerName]
	return !ok
}

func (t *Table) putQueueData(topic string, qd QueueData) {
	m := t.topics[topic]
	if m == nil {
		m = make(map[string]QueueData)
		t.topics[topic] = m
	}
	m[qd.BrokerName] = qd
}

// UnregisterBroker removes one broker process (RouteInfoManager.unRegisterBroker).
// It reports whether the table knew the process.
func (t *Table) UnregisterBroker(req UnregisterBrokerRequest) bool {
	key := req.Key()
	_, known := t.live[key]
	delete(t.live, key)
	delete(t.filters, key)

	removeName := false
	bd := t.brokers[req.BrokerName]
	if bd != nil {
		for id, a := range bd.Addrs {
			if a == req.BrokerAddr {
				delete(bd.Addrs, id)
				known = true
			}
		}
		if len(bd.Addrs) == 0 {
			delete(t.brokers, req.BrokerName)
			removeName = true
		}
	}
	if removeName {
		if names := t.clusters[req.Cluster]; names != nil {
			delete(names, req.BrokerName)
			if len(names) == 0 {
				delete(t.clusters, req.Cluster)
			}
		}
		t.dropBrokerName(req.BrokerName)
		return known
	}

	// The group lives on. In acting-master mode a group that lost its
	// master stops taking writes.
	if bd != nil && bd.EnableActingMaster {
		if id, ok := bd.minID(); !ok || id > MasterID {
			for _, qds := range t.topics {
				if qd, ok := qds[req.BrokerName]; ok {
					qd.Perm &^= PermWrite
					qds[req.BrokerName] = qd
				}
			}
		}
	}
	return known
}

// dropBrokerName removes brokerName's queue data from every topic and the
// topics left without any.
func (t *Table) dropBrokerName(brokerName string) {
	for topic, qds := range t.topics {
		delete(qds, brokerName)
		if len(qds) == 0 {
			delete(t.topics, topic)
		}
	}
}

// lookup finds the broker name and id registered for key
// (setupUnRegisterRequest).
func (t *Table) lookup(key BrokerKey) (UnregisterBrokerRequest, bool) {
	for _, name := range slices.Sorted(maps.Keys(t.brokers)) {
		bd := t.brokers[name]
		if bd.Cluster != key.Cluster {
			continue
		}
		for _, id := range slices.Sorted(maps.Keys(bd.Addrs)) {
			if bd.Addrs[id] == key.Addr {
				return UnregisterBrokerRequest{Cluster: key.Cluster, BrokerName: name, BrokerAddr: key.Addr, BrokerID: id}, true
			}
		}
	}
	return UnregisterBrokerRequest{Cluster: key.Cluster, BrokerAddr: key.Addr}, false
}

// Unregister removes the broker process known by key, as when its
// connection closes (onChannelDestroy). It returns what it removed and
// whether the table knew key.
func (t *Table) Unregister(key BrokerKey) (UnregisterBrokerRequest, bool) {
	req, ok := t.lookup(key)
	if !ok {
		_, known := t.live[key]
		delete(t.live, key)
		delete(t.filters, key)
		return req, known
	}
	t.UnregisterBroker(req)
	return req, true
}

// ScanExpired unregisters every broker process silent for longer than its
// heartbeat timeout at now (scanNotActiveBroker) and returns them, sorted
// by cluster and address.
func (t *Table) ScanExpired(now time.Time) []UnregisterBrokerRequest {
	var keys []BrokerKey
	for k, li := range t.live {
		if li.lastUpdate.Add(li.timeout).Before(now) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	out := make([]UnregisterBrokerRequest, 0, len(keys))
	for _, k := range keys {
		req, _ := t.Unregister(k)
		out = append(out, req)
	}
	return out
}

func compareKeys(a, b BrokerKey) int {
	return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Addr, b.Addr))
}

// Heartbeat refreshes the liveness of key at now (BROKER_HEARTBEAT). It
// reports whether key is registered.
func (t *Table) Heartbeat(key BrokerKey, now time.Time) bool {
	li := t.live[key]
	if li == nil {
		return false
	}
	li.lastUpdate = now
	return true
}

// QueryDataVersion answers QUERY_DATA_VERSION: whether v differs from the
// version stored for key (true when none is stored), and the stored one.
// It also refreshes key's liveness.
func (t *Table) QueryDataVersion(key BrokerKey, v DataVersion, now time.Time) (changed bool, stored DataVersion, found bool) {
	li := t.live[key]
	if li == nil {
		return true, DataVersion{}, false
	}
	li.lastUpdate = now
	return li.dataVersion != v, li.dataVersion, true
}

// LiveBrokers returns the keys of every live broker process, sorted.
func (t *Table) LiveBrokers() []BrokerKey {
	return slices.SortedFunc(maps.Keys(t.live), compareKeys)
}
