// Package namesrv is the name server role: the registry brokers register
// with and clients ask for topic routes, speaking RocketMQ's Remoting
// protocol on port 9876 so that unmodified RocketMQ brokers, admin tools and
// clients (rocketmq-client-go v2.1.2 among them) work against it.
//
// # Shape
//
// The tables and every RocketMQ rule about them live in the pure package
// routes; this package adds what needs a clock, a socket or a goroutine:
//
//   - one handler per request code or family, each thin: read the ext
//     fields and body, call the table under the lock, encode the answer
//     (files named after the request: register_broker.go, route.go, …);
//   - errors.go, the one place where errors become response codes;
//   - liveness: a broker is unregistered when the connection it registered
//     on closes (RocketMQ's onChannelDestroy), and a scan every
//     Options.ScanInterval drops brokers silent for longer than their
//     heartbeat timeout (120 s by default) and closes their connection.
//
// Requests served: 100–102 and 219 (KV config, in memory), 103
// REGISTER_BROKER, 104 UNREGISTER_BROKER, 105 GET_ROUTEINFO_BY_TOPIC, 106
// GET_BROKER_CLUSTER_INFO, 205/327 WIPE/ADD_WRITE_PERM_OF_BROKER, 206
// GET_ALL_TOPIC_LIST_FROM_NAMESERVER, 216 DELETE_TOPIC_IN_NAMESRV, 217
// REGISTER_TOPIC_IN_NAMESRV, 224 GET_TOPICS_BY_CLUSTER, 304
// GET_SYSTEM_TOPIC_LIST_FROM_NS, 322 QUERY_DATA_VERSION and 904
// BROKER_HEARTBEAT. Any other code is answered REQUEST_CODE_NOT_SUPPORTED by
// internal/remoting. Route requests (105) run on their own worker pool, as
// RocketMQ's client request executor does, so a registration storm cannot
// starve clients.
//
// Bodies that hold broker id maps (routes, cluster info) are written with
// bare numeric keys for clients older than 4.9.4 and with quoted keys for
// newer ones or when the request sets acceptStandardJsonOnly; see
// routes.EncodingFor.
//
// Differences from RocketMQ: unregistration is applied before UNREGISTER_BROKER
// is answered (RocketMQ queues it to a batch thread); the KV config is not
// persisted; the compressed REGISTER_BROKER body (deprecated, off by
// default in brokers) is refused.
//
// # Concurrency
//
// All exported methods of Server are safe for concurrent use. Locks, in the
// order they may be taken:
//
//	Server.life  Start/Close state, the remoting server and the scan loop
//	Server.mu    the route table and the connection owning each broker
//
// No lock is held while a connection is closed: closing one runs the
// remoting server's OnClose, which takes Server.mu.
package namesrv
