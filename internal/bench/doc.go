// Package bench is the load generator behind `quiver bench`: a lean
// Remoting client (route lookup through the name server, SEND_MESSAGE_V2 to
// queues round-robin, PULL_MESSAGE with long polling, UPDATE_CONSUMER_OFFSET
// for cumulative acks), runners for produce, consume and end-to-end latency,
// the workloads of ../shared/perf/WORKLOADS.md, and a log-linear latency
// Histogram.
//
// It sits at the cmd rank (tooling): it uses internal/remoting,
// internal/protocol, internal/message and internal/namesrv/routes, and
// nothing imports it but cmd/quiver.
//
// Every producer and consumer has its own remoting.Client, hence its own TCP
// connection. A producer with window W runs W goroutines over its one
// connection, each sending the next message once its previous one is acked,
// so at most W sends are in flight. Paced runs (Config.Rate) hand out message
// i at start + i/rate and measure latency from that due time, so a stalled
// sender cannot hide queueing (no coordinated omission).
//
// The consumer pulls each queue from its own goroutine over one connection.
// Quiver's remoting has no POP yet, so W3 drains with PULL batch 32 and
// commits the queue's offset after every batch (one-way UPDATE_CONSUMER_OFFSET;
// the last commit waits for the answer), and W3b commits once at least 100
// messages of a queue were consumed since the last commit.
//
// Concurrency: the run functions may be called concurrently; a Histogram is
// not safe for concurrent use.
package bench
