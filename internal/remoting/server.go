package remoting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// Handler serves requests of one code. It returns the response, or nil when
// there is none now: the request was one-way, or the handler will answer
// later with Conn.Reply (long polling). ctx ends when the connection closes.
type Handler func(ctx context.Context, c *Conn, req *protocol.Command) *protocol.Command

// ServerOptions configure a Server.
type ServerOptions struct {
	// MaxFrame is the largest frame accepted (default 16 MiB); a larger
	// LENGTH closes the connection.
	MaxFrame int
	// IdleTimeout closes a connection that received nothing for this long
	// (default 120 s, RocketMQ's serverChannelMaxIdleTimeSeconds).
	IdleTimeout time.Duration
	// Logger receives connection-level logs; nil discards them.
	Logger *slog.Logger
	// OnClose is called once for every connection that closes.
	OnClose func(c *Conn)
}

// Pool bounds how many requests of its codes run at once and how many may
// wait. Requests beyond that are answered SYSTEM_BUSY.
type Pool struct {
	name  string
	queue chan job
	wg    sync.WaitGroup
}

type job struct {
	c   *Conn
	req *protocol.Command
	h   Handler
	// frame: req's frame, given back with req and the response once h
	// returns, when the route says h keeps nothing of them; else nil.
	frame []byte
}

type route struct {
	h    Handler
	pool *Pool
	// quick: run h on the read goroutine when nothing waits for it, and
	// reuse its request and response (HandleQuick).
	quick bool
}

// Server accepts connections and dispatches their requests.
type Server struct {
	opts   ServerOptions
	log    *slog.Logger
	mu     sync.RWMutex // guards the fields below; read-locked per request
	routes map[int32]route
	def    *route
	pools  []*Pool
	lns    []net.Listener
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup // accept loops
	connWG sync.WaitGroup // connection loops (and handlers run inline)
}

// NewServer returns a server with no handlers.
func NewServer(opts ServerOptions) *Server {
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = protocol.DefaultMaxFrame
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 120 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: opts.Logger, routes: make(map[int32]route), conns: make(map[*Conn]struct{})}
}

// NewPool creates a pool of workers goroutines with a queue of queueLen
// waiting requests. The pool stops when the server closes.
func (s *Server) NewPool(name string, workers, queueLen int) *Pool {
	p := &Pool{name: name, queue: make(chan job, max(queueLen, 0))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(p.queue) // nothing will ever run in it
		return p
	}
	for range max(workers, 1) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range p.queue {
				s.run(j)
			}
		}()
	}
	s.pools = append(s.pools, p)
	return p
}

// Handle routes code to h, run in pool (nil: on the connection's read
// goroutine, for cheap handlers that never block).
func (s *Server) Handle(code int32, pool *Pool, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[code] = route{h: h, pool: pool}
}

// HandleQuick routes code to h in pool, like Handle, with two savings for
// a handler that runs often and briefly (a send under ASYNC_FLUSH):
//
//   - h runs on the connection's read goroutine, saving the hand-off to a
//     worker, when nothing waits for it to finish: the connection has no
//     further request read yet and the pool's queue is empty. A request
//     that arrives meanwhile waits in the socket, so h must be quick, and
//     it must not wait for a later request of its own connection (a
//     long-polling pull must not be quick). When the pool is backed up the
//     request queues there, and gets SYSTEM_BUSY when the queue is full.
//   - The request (its ExtFields map, its frame, so its Body) and the
//     response h returns are reused once h returns and the response is
//     written: h must keep no reference to them, nor to the ext map or
//     body, past its return. The strings of either may be kept.
func (s *Server) HandleQuick(code int32, pool *Pool, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[code] = route{h: h, pool: pool, quick: pool != nil}
}

// HandleDefault routes every code without a handler of its own to h.
func (s *Server) HandleDefault(pool *Pool, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = &route{h: h, pool: pool}
}

// Listen listens on addr ("127.0.0.1:0" for a free port) and serves it in
// the background. It returns the bound address.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("remoting: listen %s: %w", addr, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil, ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return ln.Addr(), nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		c := newConn(nc, s, connOptions{maxFrame: s.opts.MaxFrame, idleTimeout: s.opts.IdleTimeout, poolFrames: true}, s.log)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		c.start(&s.connWG) // before Close can wait: Close waits for this loop first
		s.mu.Unlock()
	}
}

// Conns returns the open connections.
func (s *Server) Conns() []*Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) connClosed(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if s.opts.OnClose != nil {
		s.opts.OnClose(c)
	}
}

func (s *Server) dispatch(c *Conn, req *protocol.Command) {
	s.mu.RLock()
	r, ok := s.routes[req.Code]
	if !ok && s.def != nil {
		r, ok = *s.def, true
	}
	s.mu.RUnlock()
	if !ok {
		c.Reply(req, protocol.NewResponse(req, protocol.RequestCodeNotSupported,
			fmt.Sprintf(" request type %d not supported", req.Code)))
		return
	}
	j := job{c: c, req: req, h: r.h}
	if r.quick {
		j.frame, c.frame = c.frame, nil
	}
	if r.pool == nil || r.quick && !c.more && len(r.pool.queue) == 0 {
		s.run(j)
		return
	}
	// The queue is closed only under the write lock with closed set.
	s.mu.RLock()
	queued := false
	if !s.closed {
		select {
		case r.pool.queue <- j:
			queued = true
		default:
		}
	}
	s.mu.RUnlock()
	if !queued {
		c.Reply(req, protocol.NewResponse(req, protocol.SystemBusy,
			"[OVERLOAD]system busy, start flow control for a while"))
		j.release(nil)
	}
}

func (s *Server) run(j job) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", "code", j.req.Code, "panic", p, "stack", string(debug.Stack()))
			j.c.Reply(j.req, protocol.NewResponse(j.req, protocol.SystemError, fmt.Sprintf("internal error: %v", p)))
			// Nothing is reused: the handler may have left a reference.
		}
	}()
	resp := j.h(j.c.ctx, j.c, j.req)
	if resp != nil {
		if err := j.c.Reply(j.req, resp); err != nil && !errors.Is(err, ErrClosed) {
			// Unencodable (say, a code beyond int16 in a binary header):
			// the caller will time out, so say why here.
			s.log.Warn("cannot send response", "code", j.req.Code, "response", resp.Code, "err", err)
		}
	}
	j.release(resp)
}

// release gives back the request, its frame and resp (encoded by now) of
// a HandleQuick route.
func (j *job) release(resp *protocol.Command) {
	if j.frame == nil {
		return
	}
	putFrame(j.frame)
	protocol.Release(j.req)
	if resp != nil && resp != j.req {
		protocol.Release(resp)
	}
}

// Close stops listening, closes every connection and stops the pools. When
// it returns, every goroutine the server started has returned, including
// the handlers (their ctx is canceled; they must not block past it).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	lns := s.lns
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	pools := s.pools
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	s.wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	s.connWG.Wait()
	s.mu.Lock()
	for _, p := range pools {
		close(p.queue)
	}
	s.mu.Unlock()
	for _, p := range pools {
		p.wg.Wait()
	}
	return nil
}
