// Package bench is the load generator behind `quiver bench`: a lean
// Remoting client (route lookup through the name server, SEND_MESSAGE_V2 to
// queues round-robin, PULL_MESSAGE with long polling, UPDATE_CONSUMER_OFFSET
// for acks), runners for produce, consume and end-to-end latency, the
// workloads of ../shared/perf/WORKLOADS.md, a log-linear latency Histogram,
// and the side-by-side report that sets Quiver's results against NATS
// JetStream's (jsbench's RESULT lines).
//
// It sits at the cmd rank (tooling): it uses internal/remoting,
// internal/protocol, internal/message and internal/namesrv/routes, and
// nothing imports it but cmd/quiver.
//
// # Producers
//
// Every producer and consumer has its own remoting.Client, hence its own TCP
// connection. A producer with window W runs W goroutines over its one
// connection, each sending the next message once its previous one is acked,
// so at most W sends are in flight. Paced runs (Config.Rate) hand out message
// i at start + i/rate and measure latency from that due time, so a stalled
// sender cannot hide queueing (no coordinated omission).
//
// # Consumers
//
// The consumer pulls each queue from its own goroutine over one connection,
// batch 32 (what RocketMQ clients ask for; Quiver's remoting has no POP
// yet), so with 8 queues at most 256 messages are unacknowledged. W3
// acknowledges every message on its own with a one-way
// UPDATE_CONSUMER_OFFSET of its queue offset + 1 (JetStream's per-message
// Ack is one message to the server as well); W3b commits a queue's offset
// once at least 100 of its messages were consumed; others commit after each
// batch. The last commit of each queue waits for the broker, and the run
// checks that the committed offsets add up to what was consumed.
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
