// Package routes holds the name server's tables, RocketMQ's RouteInfoManager
// rebuilt as a pure state machine, and the JSON bodies the name server reads
// and writes.
//
// It sits at the bottom of the layers (STYLE.md): no I/O, no goroutines, no
// logging, no clock. Every method that depends on time takes now as an
// argument; the caller (internal/namesrv) owns the connections, the scan
// timer and the locking. A Table is not safe for concurrent use: callers
// serialize writers and may run the read-only methods (TopicRoute,
// ClusterInfo, TopicList, TopicsByCluster, SystemTopicList, KV, KVList,
// DataVersion) concurrently with each other under a read lock.
//
// # Tables
//
//	topics   topic → brokerName → QueueData        (topicQueueTable)
//	brokers  brokerName → BrokerData               (brokerAddrTable)
//	clusters cluster → set of brokerName           (clusterAddrTable)
//	live     (cluster, brokerAddr) → liveness      (brokerLiveTable)
//	filters  (cluster, brokerAddr) → filter servers (filterServerTable)
//	kv       namespace → key → value               (KV config)
//
// Nothing here is persisted; brokers re-register every 30 s and rebuild the
// route tables after a restart.
//
// # Rules reproduced from RouteInfoManager
//
//   - Queue data comes only from a master (brokerId 0), or from the slave
//     with the smallest id when the broker sent enableActingMaster and no
//     master is registered ("prime slave"). A slave registering next to its
//     master never changes queue data.
//   - A master's topic configs are applied on its first registration, when
//     its DataVersion differs from the one stored for its address, or for a
//     topic that lacks queue data of that broker.
//   - An address registering under a new brokerId replaces its old id (slave
//     promoted to master). A registration under an id held by another
//     address whose stored stateVersion is higher is ignored.
//   - A broker id registering for the first time with exactly one topic
//     (a single-topic increment racing ahead of the full registration) is
//     refused with ErrNotRegistered.
//   - Unregistering removes the address from its BrokerData. When the last
//     address of a brokerName goes, the name leaves its cluster (an empty
//     cluster disappears) and its QueueData leaves every topic; a topic left
//     without QueueData disappears.
//   - A broker whose lastUpdate + heartbeat timeout (120 s unless the broker
//     sent heartbeatTimeoutMillis) is before now is unregistered by
//     ScanExpired.
//
// Not reproduced: static-topic queue mappings (topicQueueMappingInfoTable),
// acting-master route rewriting (supportActingMaster defaults to false in
// RocketMQ), min-broker-id change notifications, deleting topics missing from
// a registration (deleteTopicWithBrokerRegistration, default false) and the
// compressed REGISTER_BROKER body.
//
// # JSON
//
// Encoders append compact JSON with a deterministic order (fields sorted by
// name as fastjson sorts them, map keys sorted, lists sorted) to a caller's
// buffer. Broker id maps ("brokerAddrs") come in two dialects, chosen by
// EncodingFor: LegacyJSON writes {0:"ip:port"} with a bare numeric key, as
// the Java name server answers clients older than 4.9.4 (the Go client
// v2.1.2 sends version 317); StandardJSON writes {"0":"ip:port"}. The Go
// client cuts brokerAddrs out as raw text and splits it on ',' and ':', so
// the output never contains whitespace and the field is never omitted.
//
// Decoders accept what fastjson writes, bare map keys included, and
// standard JSON; they are fuzzed. docs/format/namesrv.md shows every body.
package routes
