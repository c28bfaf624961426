package namesrv

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// Worker pools, sized as RocketMQ's executors (NamesrvConfig).
const (
	defaultWorkers     = 16
	defaultQueue       = 10000
	clientWorkers      = 8
	clientRequestQueue = 10000
)

// Server is a name server.
type Server struct {
	opts Options
	log  *slog.Logger

	life    sync.Mutex
	rs      *remoting.Server
	addr    net.Addr
	stop    chan struct{}
	done    chan struct{}
	started bool
	closed  bool

	mu    sync.RWMutex
	table *routes.Table
	// owners maps each registered broker process to the connection of its
	// latest registration; that connection closing unregisters it.
	owners map[routes.BrokerKey]*remoting.Conn
}

// New returns a name server with empty tables; Start serves it.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	return &Server{
		opts:   opts,
		log:    opts.Logger.With("role", "namesrv"),
		table:  routes.New(),
		owners: make(map[routes.BrokerKey]*remoting.Conn),
	}
}

// Start listens on Options.Addr, serves requests and starts the expiry
// scan. It returns the bound address.
func (s *Server) Start() (net.Addr, error) {
	if err := s.opts.Validate(); err != nil {
		return nil, err
	}
	s.life.Lock()
	defer s.life.Unlock()
	switch {
	case s.closed:
		return nil, errClosed
	case s.started:
		return nil, errStarted
	}
	rs := remoting.NewServer(remoting.ServerOptions{Logger: s.log, OnClose: s.connClosed})
	s.handle(rs)
	addr, err := rs.Listen(s.opts.Addr)
	if err != nil {
		rs.Close()
		return nil, fmt.Errorf("namesrv: %w", err)
	}
	s.rs, s.addr, s.started = rs, addr, true
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.scanLoop(s.stop, s.done)
	s.log.Info("name server started", "addr", addr.String())
	return addr, nil
}

// handle routes every request code the name server serves.
func (s *Server) handle(rs *remoting.Server) {
	def := rs.NewPool("namesrv", defaultWorkers, defaultQueue)
	client := rs.NewPool("namesrv-client", clientWorkers, clientRequestQueue)
	for code, h := range map[int32]remoting.Handler{
		protocol.PutKVConfig:                   s.putKVConfig,
		protocol.GetKVConfig:                   s.getKVConfig,
		protocol.DeleteKVConfig:                s.deleteKVConfig,
		protocol.GetKVListByNamespace:          s.getKVListByNamespace,
		protocol.RegisterBroker:                s.registerBroker,
		protocol.UnregisterBroker:              s.unregisterBroker,
		protocol.GetBrokerClusterInfo:          s.getBrokerClusterInfo,
		protocol.WipeWritePermOfBroker:         s.wipeWritePermOfBroker,
		protocol.AddWritePermOfBroker:          s.addWritePermOfBroker,
		protocol.GetAllTopicListFromNameserver: s.getAllTopicList,
		protocol.DeleteTopicInNamesrv:          s.deleteTopic,
		protocol.RegisterTopicInNamesrv:        s.registerTopic,
		protocol.GetTopicsByCluster:            s.getTopicsByCluster,
		protocol.GetSystemTopicListFromNS:      s.getSystemTopicList,
		protocol.QueryDataVersion:              s.queryDataVersion,
		protocol.BrokerHeartbeat:               s.brokerHeartbeat,
	} {
		rs.Handle(code, def, h)
	}
	rs.Handle(protocol.GetRouteInfoByTopic, client, s.getRouteInfoByTopic)
}

// Addr returns the address Start bound, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.life.Lock()
	defer s.life.Unlock()
	return s.addr
}

// Close stops the scan, closes every connection and stops listening. It
// returns when everything has stopped; later calls do nothing.
func (s *Server) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.started {
		return nil
	}
	close(s.stop)
	<-s.done
	err := s.rs.Close()
	s.log.Info("name server stopped")
	return err
}

func (s *Server) scanLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.opts.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.scanExpired()
		}
	}
}

// scanExpired unregisters every broker silent past its timeout and closes
// the connections that served only expired brokers, as RocketMQ closes the
// channel of an expired broker.
func (s *Server) scanExpired() []routes.UnregisterBrokerRequest {
	now := s.opts.Now()
	s.mu.Lock()
	gone := s.table.ScanExpired(now)
	var stale []*remoting.Conn
	for _, g := range gone {
		c := s.owners[g.Key()]
		delete(s.owners, g.Key())
		if c != nil && !slices.Contains(slices.Collect(maps.Values(s.owners)), c) && !slices.Contains(stale, c) {
			stale = append(stale, c)
		}
	}
	s.mu.Unlock()
	for _, g := range gone {
		s.log.Warn("broker expired", "cluster", g.Cluster, "broker", g.BrokerName, "id", g.BrokerID, "addr", g.BrokerAddr)
	}
	for _, c := range stale {
		c.Close()
	}
	return gone
}

// connClosed unregisters the brokers whose latest registration came over c.
func (s *Server) connClosed(c *remoting.Conn) {
	s.mu.Lock()
	var keys []routes.BrokerKey
	for k, o := range s.owners {
		if o == c {
			keys = append(keys, k)
			delete(s.owners, k)
		}
	}
	slices.SortFunc(keys, func(a, b routes.BrokerKey) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Addr, b.Addr))
	})
	gone := make([]routes.UnregisterBrokerRequest, 0, len(keys))
	for _, k := range keys {
		if req, known := s.table.Unregister(k); known {
			gone = append(gone, req)
		}
	}
	s.mu.Unlock()
	for _, g := range gone {
		s.log.Info("broker connection closed, unregistered", "cluster", g.Cluster, "broker", g.BrokerName,
			"id", g.BrokerID, "addr", g.BrokerAddr, "remote", c.RemoteAddr().String())
	}
}

// read runs f under the read lock.
func (s *Server) read(f func(t *routes.Table)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f(s.table)
}

// write runs f under the write lock.
func (s *Server) write(f func(t *routes.Table)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.table)
}
