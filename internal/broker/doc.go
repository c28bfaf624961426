// Package broker is the broker role: it opens the message store and the
// metadata (topics, subscription groups, consumer offsets) under the store
// root, serves the Remoting request codes (package processor) on its listen
// port, and keeps itself registered with every name server: at start, every
// registerNameServerPeriod (30 s), and at once when its topics change.
//
// A Broker is built by New, runs after Start, and has stopped every
// goroutine when Close returns. Nothing here is global: several brokers may
// run in one process (tests do).
package broker
