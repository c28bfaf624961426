// Package remoting moves RocketMQ RemotingCommands (package protocol) over
// TCP: a Server with one handler per request code and bounded worker pools,
// a Client with one shared connection per address, and the Conn they both
// use, which carries requests and responses in both directions (the broker
// calls clients back with CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED
// and GET_CONSUMER_RUNNING_INFO over the connection the client opened).
//
// # Conn
//
// A Conn has a read loop and a write loop. The read loop decodes frames
// (refusing any over the frame limit by closing the connection), matches
// responses to pending requests by opaque (waking Invoke, or calling
// InvokeAsync's callback), and hands requests to the dispatcher. Send
// encodes a frame straight onto the connection's write buffer; whoever
// owns the write side swaps the buffer for an empty one and writes it
// whole, so whatever queued up while the previous write ran goes out in one
// system call, and no frame is allocated or passed through a channel on its
// own. The owner is the write loop, or, on a connection idle for 20 µs,
// the sender itself, with one non-blocking write (a lone request or
// response then costs no goroutine switch; what the socket does not take
// goes to the write loop). Send blocks while more than 4 MiB wait to be
// written.
//
// # Server
//
// Each request code maps to a handler and a pool; a pool is a bounded set
// of workers and a bounded queue. A request that finds its pool's queue full
// is answered SYSTEM_BUSY at once. An unknown code is answered
// REQUEST_CODE_NOT_SUPPORTED. A handler that panics is answered SYSTEM_ERROR
// and the server keeps running. A handler may answer later (long polling)
// by returning nil and calling Conn.Reply.
//
// # Errors and lifetimes
//
// Invoke fails with an error wrapping ErrTimeout (and
// context.DeadlineExceeded) when its ctx's deadline passes; the response
// that comes later is dropped. Everything that fails because its connection
// closed wraps ErrClosed, and also the cause when there is one (for example
// protocol.ErrFrameTooLarge). Server.Close and Client.Close return only once
// every goroutine they started has returned, handlers included: handlers
// must return once their ctx ends. Conn.Close does not wait, so that a
// handler may call it.
//
// Concurrency: all exported methods are safe for concurrent use. Server.mu,
// Client.mu, Conn.mu and Conn.wmu are never held together, nor while
// calling a handler, a callback or OnClose.
package remoting
