// Package proxy is the RocketMQ 5.x Proxy role: a gRPC server on one port
// (8081 by default) serving apache.rocketmq.v2.MessagingService (package
// grpcserver) to the official 5.x clients, in front of brokers it reaches
// over Remoting.
//
// # Modes
//
// Cluster mode (`quiver proxy --namesrv ADDR`) runs alone: it finds brokers
// through the name server and keeps no message state, so several proxies
// can serve several brokers. Local mode (`quiver serve`) runs in the same
// process as a name server and a broker and takes exactly the same path,
// over loopback Remoting to the in-process name server and broker: one code
// path, so what is tested in one mode holds in the other.
//
// # One port, TLS and plaintext
//
// The Go client always dials TLS, the Node client plaintext. The listener
// reads each connection's first byte: 0x16 (a TLS handshake record) gets a
// TLS server handshake (ALPN h2) with the configured certificate, or a
// self-signed one generated at start; anything else is served as
// plaintext HTTP/2. The sniffing happens off the accept loop, with a
// deadline, so a silent connection cannot stall others.
//
// Concurrency: Start and Close are called once each; everything else
// runs on the gRPC server's goroutines.
package proxy
