// Package grpcserver is the gRPC front door of the proxy: it serves
// apache.rocketmq.v2.MessagingService (the generated stubs of
// github.com/apache/rocketmq-clients/golang/v5/protocol/v2, v5.1.2) for the
// unmodified RocketMQ 5.x clients, and turns every RPC into RocketMQ's
// Remoting requests to brokers and the name server, as the Java proxy's
// cluster mode does.
//
// # Shape
//
// Service implements MessagingServiceServer. It is stateless about messages:
// routes come from the name server (GET_ROUTEINFO_BY_TOPIC, cached a few
// seconds), sends go to a broker as SEND_MESSAGE_V2, consumption is the
// broker's Pop (POP_MESSAGE 200050, ACK_MESSAGE 200051,
// CHANGE_MESSAGE_INVISIBLETIME 200053) with receipt handles in the Java
// format (handle.go), transactions end with END_TRANSACTION and dead letters
// go through CONSUMER_SEND_MSG_BACK. What it keeps in memory is per client:
// the Settings each client reported on its Telemetry stream (merged with the
// server's values and echoed back in full), the open Telemetry streams, and
// for 30 s the broker location of each transaction it saw, so that
// EndTransaction can find the half message.
//
// Routes handed to clients name the proxy itself (the endpoints the client
// dialled) as every broker's address, with queue ids 0..n-1 per broker; the
// client's choice of queue is ignored: the proxy picks the queue on send
// (message group → hash over all writable queues, else round robin) and
// pops from every queue of the broker the client named.
//
// Orphaned transactions: the proxy registers on every broker, through
// HEARTBEAT, as a producer of group <topic> for every topic a producer
// client publishes. The broker's CHECK_TRANSACTION_STATE then arrives on the
// proxy's Remoting connection and is written to one such client's Telemetry
// stream as a RecoverOrphanedTransactionCommand.
//
// The ServiceDesc (ServiceDesc) is a copy of the generated one, open to
// extra methods, so that RPCs newer than v5.1.2's snapshot (RecallMessage,
// PullMessage, …) can be served by the same registration later.
//
// Concurrency: every exported method is safe for concurrent use. Locks:
// clients.mu, routes.mu, txns.mu and a stream's send mutex are leaves; none
// is held while calling another or doing I/O, except a stream's send mutex
// around its Send.
package grpcserver
