package routes

import (
	"fmt"
	"maps"
	"slices"
)

// TopicRoute returns the route of topic (pickupTopicRouteData), and false
// when the topic has no queue data or none of its brokers is registered.
func (t *Table) TopicRoute(topic string) (TopicRouteData, bool) {
	qds := t.topics[topic]
	if len(qds) == 0 {
		return TopicRouteData{}, false
	}
	r := TopicRouteData{
		QueueDatas:        make([]QueueData, 0, len(qds)),
		FilterServerTable: map[string][]string{},
	}
	for _, name := range slices.Sorted(maps.Keys(qds)) {
		r.QueueDatas = append(r.QueueDatas, qds[name])
		bd := t.brokers[name]
		if bd == nil {
			continue
		}
		c := bd.Clone()
		r.BrokerDatas = append(r.BrokerDatas, c)
		for _, addr := range c.Addrs {
			if fs := t.filters[BrokerKey{Cluster: c.Cluster, Addr: addr}]; len(fs) > 0 {
				r.FilterServerTable[addr] = slices.Clone(fs)
			}
		}
	}
	if len(r.BrokerDatas) == 0 {
		return TopicRouteData{}, false
	}
	return r, true
}

// ClusterInfo returns a copy of the broker and cluster tables
// (getAllClusterInfo).
func (t *Table) ClusterInfo() ClusterInfo {
	ci := ClusterInfo{
		BrokerAddrTable:  make(map[string]BrokerData, len(t.brokers)),
		ClusterAddrTable: make(map[string][]string, len(t.clusters)),
	}
	for name, bd := range t.brokers {
		ci.BrokerAddrTable[name] = bd.Clone()
	}
	for c, names := range t.clusters {
		ci.ClusterAddrTable[c] = slices.Sorted(maps.Keys(names))
	}
	return ci
}

// TopicList returns every topic with a route, sorted (getAllTopicList).
func (t *Table) TopicList() []string {
	return slices.Sorted(maps.Keys(t.topics))
}

// TopicsByCluster returns the topics hosted by a broker group of cluster,
// sorted; none for an unknown cluster (getTopicsByCluster).
func (t *Table) TopicsByCluster(cluster string) []string {
	names := t.clusters[cluster]
	var out []string
	for topic, qds := range t.topics {
		for name := range names {
			if _, ok := qds[name]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// SystemTopicList returns the cluster names and broker names, which brokers
// create as topics, sorted, and the address of one broker (the lowest id of
// the first brokerName) for the caller to query (getSystemTopicList).
func (t *Table) SystemTopicList() (topics []string, brokerAddr string) {
	set := make(map[string]struct{})
	for c, names := range t.clusters {
		set[c] = struct{}{}
		for n := range names {
			set[n] = struct{}{}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.brokers)) {
		if id, ok := t.brokers[name].minID(); ok {
			brokerAddr = t.brokers[name].Addrs[id]
			break
		}
	}
	return slices.Sorted(maps.Keys(set)), brokerAddr
}

// DataVersion returns the DataVersion stored for key.
func (t *Table) DataVersion(key BrokerKey) (DataVersion, bool) {
	if li := t.live[key]; li != nil {
		return li.dataVersion, true
	}
	return DataVersion{}, false
}

// DeleteTopic removes topic (DELETE_TOPIC_IN_NAMESRV). With a cluster, only
// the queue data of that cluster's broker groups goes, and the topic only if
// nothing is left. It reports whether anything was removed.
func (t *Table) DeleteTopic(topic, cluster string) bool {
	qds, ok := t.topics[topic]
	if !ok {
		return false
	}
	if cluster == "" {
		delete(t.topics, topic)
		return true
	}
	removed := false
	for name := range t.clusters[cluster] {
		if _, ok := qds[name]; ok {
			delete(qds, name)
			removed = true
		}
	}
	if len(qds) == 0 {
		delete(t.topics, topic)
	}
	return removed
}

// RegisterTopic adds or replaces queue data of topic
// (REGISTER_TOPIC_IN_NAMESRV). Every brokerName must be registered;
// otherwise nothing changes and the error wraps ErrUnknownBroker.
func (t *Table) RegisterTopic(topic string, qds []QueueData) error {
	if topic == "" {
		return fmt.Errorf("%w: register topic: empty topic", ErrInvalid)
	}
	for _, qd := range qds {
		if _, ok := t.brokers[qd.BrokerName]; !ok {
			return fmt.Errorf("%w: register topic %s: broker %q", ErrUnknownBroker, topic, qd.BrokerName)
		}
	}
	for _, qd := range qds {
		t.putQueueData(topic, qd)
	}
	return nil
}

// WipeWritePerm clears the write bit of every queue data of brokerName and
// returns how many topics it touched (WIPE_WRITE_PERM_OF_BROKER).
func (t *Table) WipeWritePerm(brokerName string) int {
	return t.editPerm(brokerName, func(p int32) int32 { return p &^ PermWrite })
}

// AddWritePerm sets the permission of every queue data of brokerName to
// read-write and returns how many topics it touched
// (ADD_WRITE_PERM_OF_BROKER).
func (t *Table) AddWritePerm(brokerName string) int {
	return t.editPerm(brokerName, func(int32) int32 { return PermRead | PermWrite })
}

func (t *Table) editPerm(brokerName string, f func(int32) int32) int {
	n := 0
	for _, qds := range t.topics {
		if qd, ok := qds[brokerName]; ok {
			qd.Perm = f(qd.Perm)
			qds[brokerName] = qd
			n++
		}
	}
	return n
}
