package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/quiver-mq/quiver/internal/proxy/grpcserver"
)

// Options configure a Proxy.
type Options struct {
	// Addr is the gRPC listen address (default ":8081").
	Addr string
	// NamesrvAddrs are the name servers to find brokers through (required).
	NamesrvAddrs []string
	// TLSCertFile and TLSKeyFile are a PEM certificate and key; when both
	// are empty a self-signed certificate is generated.
	TLSCertFile, TLSKeyFile string
	// Service adjusts the gRPC service's options after the defaults (tests).
	Service func(*grpcserver.Options)
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
}

// Proxy is a running gRPC proxy.
type Proxy struct {
	opts Options
	log  *slog.Logger
	svc  *grpcserver.Service
	gs   *grpc.Server
	ln   *sniffListener
	wg   sync.WaitGroup
}

// New returns a proxy; Start listens.
func New(opts Options) (*Proxy, error) {
	if opts.Addr == "" {
		opts.Addr = ":8081"
	}
	if len(opts.NamesrvAddrs) == 0 {
		return nil, errors.New("proxy: a name server address is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	so := grpcserver.DefaultOptions(opts.NamesrvAddrs...)
	so.Logger = opts.Logger
	if opts.Service != nil {
		opts.Service(&so)
	}
	return &Proxy{opts: opts, log: opts.Logger, svc: grpcserver.New(so)}, nil
}

// Start listens and serves; it returns the bound address.
func (p *Proxy) Start() (net.Addr, error) {
	cert, err := p.certificate()
	if err != nil {
		return nil, err
	}
	inner, err := net.Listen("tcp", p.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen %s: %w", p.opts.Addr, err)
	}
	p.ln = newSniffListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	p.gs = grpc.NewServer(
		grpc.MaxRecvMsgSize(130<<20),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 120 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	p.svc.Register(p.gs)
	p.svc.Start()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.gs.Serve(p.ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			p.log.Error("proxy: serve", "err", err)
		}
	}()
	p.log.Info("proxy listening", "addr", inner.Addr().String(), "namesrv", p.opts.NamesrvAddrs)
	return inner.Addr(), nil
}

// Close stops serving (open streams are cut after a short grace) and the
// service's background work.
func (p *Proxy) Close() error {
	if p.gs != nil {
		done := make(chan struct{})
		go func() {
			p.gs.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			p.gs.Stop()
			<-done
		}
		p.wg.Wait()
	}
	return p.svc.Close()
}

func (p *Proxy) certificate() (tls.Certificate, error) {
	if p.opts.TLSCertFile != "" || p.opts.TLSKeyFile != "" {
		c, err := tls.LoadX509KeyPair(p.opts.TLSCertFile, p.opts.TLSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("proxy: TLS certificate: %w", err)
		}
		return c, nil
	}
	return selfSigned()
}

// selfSigned makes an ECDSA P-256 certificate for localhost, valid a year.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: self-signed key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: self-signed serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "quiver-proxy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// sniffListener hands out connections after looking at their first byte:
// TLS handshakes are wrapped in a TLS server, the rest served as is.
type sniffListener struct {
	net.Listener
	tls   *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	errMu sync.Mutex
	err   error
}

func newSniffListener(inner net.Listener, cfg *tls.Config) *sniffListener {
	l := &sniffListener{Listener: inner, tls: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *sniffListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			l.Close()
			return
		}
		go l.sniff(c)
	}
}

func (l *sniffListener) sniff(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	var out net.Conn = &prefixConn{Conn: c, prefix: b[:]}
	if b[0] == 0x16 {
		out = tls.Server(out, l.tls)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next sniffed connection.
func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.errMu.Lock()
		defer l.errMu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *sniffListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// prefixConn replays bytes already read before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
