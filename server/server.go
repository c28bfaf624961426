// Package server runs Quiver's NameServer, Broker and (when ProxyAddr is
// set) gRPC Proxy in one process, as `quiver serve` does, and lets Go programs and tests embed it (as
// nats-server can be embedded): Start on free ports in a temporary
// directory, point clients at NamesrvAddr, Close when done.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/namesrv"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/proxy"
	"github.com/quiver-mq/quiver/internal/proxy/grpcserver"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/store"
)

// Options configure an all-in-one server. Zero fields take the defaults of
// `quiver serve`.
type Options struct {
	// DataDir holds the store (default "./data").
	DataDir string
	// NamesrvAddr and BrokerAddr are the listen addresses (defaults ":9876"
	// and ":10911"; "127.0.0.1:0" picks a free port).
	NamesrvAddr string
	BrokerAddr  string
	// ProxyAddr is the gRPC proxy's listen address ("" runs no proxy;
	// `quiver serve` passes ":8081"). The proxy reaches the broker through
	// the in-process name server over loopback Remoting.
	ProxyAddr string
	// TLSCertFile and TLSKeyFile are the proxy's certificate (PEM); empty
	// generates a self-signed one.
	TLSCertFile, TLSKeyFile string
	// Proxy, if set, adjusts the proxy service's options (tests).
	Proxy func(*grpcserver.Options)
	// SyncFlush acknowledges sends only once they are on disk (SYNC_FLUSH).
	SyncFlush bool
	// DisableAutoCreateTopic refuses sends to unknown topics (autoCreateTopicEnable=false).
	DisableAutoCreateTopic bool
	// Logger receives every role's logs; nil discards them.
	Logger *slog.Logger
	// Broker, if set, adjusts the broker options after the defaults are
	// applied (for tests: segment sizes, intervals).
	Broker func(*broker.Options)
}

// Server is a running NameServer + Broker.
type Server struct {
	ns          *namesrv.Server
	br          *broker.Broker
	px          *proxy.Proxy
	namesrvAddr string
	proxyAddr   string
}

// Start starts the name server, then the broker, and returns once the
// broker is registered with the name server.
func Start(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		opts.DataDir = "./data"
	}
	if opts.NamesrvAddr == "" {
		opts.NamesrvAddr = ":9876"
	}
	if opts.BrokerAddr == "" {
		opts.BrokerAddr = ":10911"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ns := namesrv.New(namesrv.Options{Addr: opts.NamesrvAddr, Logger: opts.Logger})
	nsAddr, err := ns.Start()
	if err != nil {
		return nil, fmt.Errorf("server: name server: %w", err)
	}
	nsTCP := nsAddr.String()
	if h, p, ok := hostPort(nsTCP); ok && (h == "::" || h == "0.0.0.0" || h == "") {
		nsTCP = "127.0.0.1:" + p
	}
	bo := broker.DefaultOptions(opts.DataDir)
	bo.ListenAddr = opts.BrokerAddr
	bo.NamesrvAddrs = []string{nsTCP}
	bo.AutoCreateTopic = !opts.DisableAutoCreateTopic
	bo.EnablePropertyFilter = true // SQL92 subscriptions work out of the box
	bo.Logger = opts.Logger.With("role", "broker")
	if opts.SyncFlush {
		bo.Store.FlushDiskType = store.SyncFlush
	}
	if opts.Broker != nil {
		opts.Broker(&bo)
	}
	br, err := broker.New(bo)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	if _, err := br.Start(); err != nil {
		br.Close()
		ns.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{ns: ns, br: br, namesrvAddr: nsTCP}
	// Ready means routable: clients that start now find the broker.
	if err := s.WaitReady(10 * time.Second); err != nil {
		s.Close()
		return nil, err
	}
	if opts.ProxyAddr != "" {
		px, err := proxy.New(proxy.Options{
			Addr: opts.ProxyAddr, NamesrvAddrs: []string{nsTCP}, TLSCertFile: opts.TLSCertFile,
			TLSKeyFile: opts.TLSKeyFile, Service: opts.Proxy, Logger: opts.Logger.With("role", "proxy"),
		})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		addr, err := px.Start()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		s.px, s.proxyAddr = px, addr.String()
		if h, p, ok := hostPort(s.proxyAddr); ok && (h == "::" || h == "0.0.0.0" || h == "") {
			s.proxyAddr = "127.0.0.1:" + p
		}
	}
	return s, nil
}

// ProxyAddr is the gRPC proxy's "host:port" ("" when no proxy runs).
func (s *Server) ProxyAddr() string { return s.proxyAddr }

// NamesrvAddr is the name server's "host:port", for clients.
func (s *Server) NamesrvAddr() string { return s.namesrvAddr }

// BrokerAddr is the broker's advertised "host:port".
func (s *Server) BrokerAddr() string { return s.br.Addr() }

// Broker is the embedded broker.
func (s *Server) Broker() *broker.Broker { return s.br }

// WaitReady waits until the broker's routes are served by the name server.
func (s *Server) WaitReady(timeout time.Duration) error {
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	for !s.lists(cl, s.br.Addr()) {
		if time.Now().After(deadline) {
			return errors.New("server: broker did not register in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Close stops the proxy, then the broker (cleanly: flushed, abort marker cleared), then the
// name server.
func (s *Server) Close() error {
	var perr error
	if s.px != nil {
		perr = s.px.Close()
	}
	return errors.Join(perr, s.br.Close(), s.ns.Close())
}

func hostPort(addr string) (string, string, bool) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			h := addr[:i]
			if len(h) >= 2 && h[0] == '[' {
				h = h[1 : len(h)-1]
			}
			return h, addr[i+1:], true
		}
	}
	return "", "", false
}

// hasBroker reports whether the name server lists a broker address.
func (s *Server) hasBroker(addr string) bool {
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	return s.lists(cl, addr)
}

// lists asks the name server, over cl, whether it lists a broker address.
func (s *Server) lists(cl *remoting.Client, addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := cl.Invoke(ctx, s.namesrvAddr, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil))
	return err == nil && r.Code == protocol.Success && bytes.Contains(r.Body, []byte(`"`+addr+`"`))
}
