// Package processor holds the broker's Remoting request handlers: thin
// adapters that decode a request's header and body, call the store and the
// metadata managers, map errors to response codes (errors.go) and encode the
// answer. One file per family of codes: send.go, pull.go (with long polling
// in longpoll.go), offsets.go, clients.go (heartbeats, consumer and producer
// registries), admin.go (topics, groups, lookups).
//
// Handlers run on the remoting server's worker pools; a suspended pull
// returns nothing and is answered later by the long-polling service.
// Everything here is safe for concurrent use.
package processor
