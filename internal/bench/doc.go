// Package bench is the load generator behind `quiver bench`: a lean
// Remoting client (route lookup through the name server, SEND_MESSAGE_V2 to
// queues round-robin, PULL_MESSAGE with long polling, UPDATE_CONSUMER_OFFSET
// for acks; POP_MESSAGE and ACK_MESSAGE for W3:pop), runners for produce, consume and end-to-end latency, the
// workloads of ../shared/perf/WORKLOADS.md, a log-linear latency Histogram,
// and the side-by-side report that sets Quiver's results against NATS
// JetStream's (jsbench's RESULT lines).
//
// It sits at the cmd rank (tooling): it uses internal/remoting,
// internal/protocol, internal/message, internal/namesrv/routes and, for
// the receipt-handle format, internal/pop, and nothing imports it but
// cmd/quiver.
//
// # gRPC
//
// ProduceGRPC, ConsumeGRPC and E2EGRPC (`quiver bench produce|consume|e2e
// --grpc`, W7) speak the RocketMQ 5 gRPC API to a proxy with the stubs of
// rocketmq-clients/golang/v5 and google.golang.org/grpc, not the SDK: each
// producer has its own connection (plaintext), asks QueryRoute once, then
// sends one message per SendMessage call, round-robin over the route's
// writable queues (in local mode the proxy picks the queue itself), as the
// SDK does. Unary calls block, so a window of W is W goroutines, each with
// one call in flight. A call that fails or answers a status other than OK
// is a failed send (Result.Errors, Result.FirstError), never an ack;
// nothing is retried.
// The consumer is a SimpleConsumer's loop: one ReceiveMessage loop per
// readable queue on one connection, batch 32, then AckMessage per message
// (CommitEvery 1, all of a batch at once) or per batch.
// W7 interleaves W1 and W2p over Remoting and gRPC and reports the ratios
// gRPC / Remoting of the medians (Result.GRPC).
//
// # Producers
//
// Every producer and consumer has its own remoting.Client, hence its own TCP
// connection. A producer is one goroutine with a window of W slots: it takes
// a free slot, sends SEND_MESSAGE_V2 asynchronously (remoting's InvokeAsync)
// and goes on; the ack's callback, on the connection's read loop, records
// the latency and frees the slot. So at most W sends are in flight (W = 1 is
// a closed loop, W2p's 256 the semaphore of WORKLOADS.md), and nothing is
// allocated per message but its frame. Messages carry a UNIQ_KEY made as
// RocketMQ clients make it, so the broker stores what it would store from
// them. Paced runs (Config.Rate) hand out message i at start + i/rate and
// measure latency from that due time, so a stalled sender cannot hide
// queueing (no coordinated omission).
//
// # Consumers
//
// The consumer pulls each queue over one connection, the next PULL sent as
// soon as the last is answered while another goroutine consumes that batch,
// batch 32 (what RocketMQ clients ask for), so with 8 queues at most 768
// messages are unacknowledged. W3
// acknowledges every message on its own with a one-way
// UPDATE_CONSUMER_OFFSET of its queue offset + 1 (JetStream's per-message
// Ack is one message to the server as well); W3b commits a queue's offset
// once at least 100 of its messages were consumed; others commit after each
// batch. The last commit of each queue waits for the broker, and the run
// checks that the committed offsets add up to what was consumed.
//
// The pop consumer (PopConsume, W3's extra result W3:pop) has the same
// shape: one connection, per queue a POP_MESSAGE of 32 (the broker's
// most) in flight, answers consumed by one goroutine, which sends an
// ACK_MESSAGE per message (request/response, pipelined); a window of
// 1,000 messages popped and not yet acknowledged holds back the next pop.
// It counts every queue offset received (missing and duplicate messages
// are errors) and checks at the end that a pop finds nothing and the
// group's consume offsets reached the queues' max offsets.
//
// # Many topics and timers
//
// W6b creates topics 8 requests at a time and sends round-robin over them
// straight to the broker. W8 sends messages with TIMER_DELIVER_MS (send time
// plus a delay spread uniformly over 60 s, the same delays every run) and
// the due time in the body, to a consumer subscribed from the start, and
// reports lateness = receive − due, with early, missing and duplicate
// arrivals counted.
//
// Concurrency: the run functions may be called concurrently; a Histogram is
// not safe for concurrent use.
package bench
