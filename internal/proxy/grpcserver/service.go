package grpcserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// Options configure a Service.
type Options struct {
	// NamesrvAddrs are the name servers' "host:port" (required).
	NamesrvAddrs []string
	// RequestTimeout bounds one Remoting request (default 3 s).
	RequestTimeout time.Duration
	// RouteTTL is how long a topic route is cached (default 5 s).
	RouteTTL time.Duration
	// HeartbeatInterval is the period of the proxy's HEARTBEAT to brokers,
	// which keeps it registered as the producer of transactional topics
	// (default 10 s).
	HeartbeatInterval time.Duration
	// MaxMessageSize is the largest body accepted (maxMessageSize, 4 MiB).
	MaxMessageSize int
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults for the given name servers.
func DefaultOptions(namesrv ...string) Options {
	return Options{
		NamesrvAddrs: namesrv, RequestTimeout: 3 * time.Second, RouteTTL: 5 * time.Second,
		HeartbeatInterval: 10 * time.Second, MaxMessageSize: 4 << 20,
	}
}

// Service serves apache.rocketmq.v2.MessagingService over Remoting.
type Service struct {
	pb.UnimplementedMessagingServiceServer

	opts    Options
	log     *slog.Logger
	rc      *remoting.Client
	routes  *routeCache
	clients *clients
	txns    *txnTable
	groups  *groupCache
	renew   *renewals
	id      string // the proxy's client id on brokers
	rr      atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup
	kick chan struct{} // asks the heartbeat loop for a round now
}

// New returns a service; Start begins its background work.
func New(opts Options) *Service {
	d := DefaultOptions()
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = d.RequestTimeout
	}
	if opts.RouteTTL <= 0 {
		opts.RouteTTL = d.RouteTTL
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = d.HeartbeatInterval
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = d.MaxMessageSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var nonce [4]byte
	rand.Read(nonce[:])
	host, _ := os.Hostname()
	s := &Service{
		opts: opts, log: opts.Logger,
		rc:      remoting.NewClient(remoting.ClientOptions{Logger: opts.Logger}),
		clients: newClients(),
		txns:    newTxnTable(30 * time.Second),
		renew:   newRenewals(),
		id:      fmt.Sprintf("proxy@%s@%d@%s", host, os.Getpid(), hex.EncodeToString(nonce[:])),
		stop:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	s.routes = newRouteCache(s, opts.RouteTTL)
	s.groups = newGroupCache(s, opts.RouteTTL)
	s.rc.Handle(protocol.CheckTransactionState, s.checkTransactionState)
	return s
}

// Start begins the heartbeat and receipt-handle renewal loops.
func (s *Service) Start() {
	s.wg.Add(2)
	go s.heartbeatLoop()
	go s.renewLoop()
}

// Close stops the background work and closes the Remoting connections.
func (s *Service) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	return s.rc.Close()
}

// ServiceDesc returns the MessagingService description to register: the
// generated one's methods and streams plus extra, so newer RPCs
// (RecallMessage, PullMessage, …) can be added without a second service of
// the same name. The handler type stays MessagingServiceServer; extra
// methods' handlers assert whatever interface they need.
func ServiceDesc(extra ...grpc.MethodDesc) *grpc.ServiceDesc {
	g := pb.MessagingService_ServiceDesc
	d := g
	d.Methods = append(slices.Clone(g.Methods), extra...)
	d.Streams = slices.Clone(g.Streams)
	return &d
}

// Register registers the service on r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	r.RegisterService(ServiceDesc(), s)
}

// clientID returns the x-mq-client-id header.
func clientID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-mq-client-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// invoke sends a Remoting request to a broker, bounded by the request
// timeout.
func (s *Service) invoke(ctx context.Context, addr string, req *protocol.Command) (*protocol.Command, error) {
	cctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	resp, err := s.rc.Invoke(cctx, addr, req)
	if err != nil {
		return nil, fmt.Errorf("grpcserver: %d to %s: %w", req.Code, addr, err)
	}
	return resp, nil
}
