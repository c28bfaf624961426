package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// DialTimeout bounds connecting (default 3 s).
	DialTimeout time.Duration
	// MaxFrame is the largest frame accepted (default 16 MiB).
	MaxFrame int
	// Logger receives connection-level logs; nil discards them.
	Logger *slog.Logger
}

// Client sends requests to servers, one shared connection per address, and
// serves the requests servers send back on those connections.
type Client struct {
	opts     ClientOptions
	log      *slog.Logger
	mu       sync.Mutex
	conns    map[string]*Conn
	dialing  map[string]chan struct{}
	handlers map[int32]Handler
	closed   bool
	wg       sync.WaitGroup // connection loops and handler goroutines
}

// NewClient returns a client.
func NewClient(opts ClientOptions) *Client {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 3 * time.Second
	}
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = protocol.DefaultMaxFrame
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		opts: opts, log: opts.Logger, conns: make(map[string]*Conn),
		dialing: make(map[string]chan struct{}), handlers: make(map[int32]Handler),
	}
}

// Handle serves requests of code that servers send on this client's
// connections. Handlers run on their own goroutine.
func (cl *Client) Handle(code int32, h Handler) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.handlers[code] = h
}

// Conn returns the connection to addr, dialing it if needed.
func (cl *Client) Conn(ctx context.Context, addr string) (*Conn, error) {
	for {
		cl.mu.Lock()
		if cl.closed {
			cl.mu.Unlock()
			return nil, ErrClosed
		}
		if c := cl.conns[addr]; c != nil {
			select {
			case <-c.done:
				// Closed, and its read loop has not yet removed it:
				// dial again.
				delete(cl.conns, addr)
			default:
				cl.mu.Unlock()
				return c, nil
			}
		}
		if wait := cl.dialing[addr]; wait != nil {
			cl.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wait := make(chan struct{})
		cl.dialing[addr] = wait
		cl.mu.Unlock()

		d := net.Dialer{Timeout: cl.opts.DialTimeout}
		nc, err := d.DialContext(ctx, "tcp", addr)
		cl.mu.Lock()
		delete(cl.dialing, addr)
		close(wait)
		if err != nil {
			cl.mu.Unlock()
			return nil, fmt.Errorf("remoting: dial %s: %w", addr, err)
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		if cl.closed {
			cl.mu.Unlock()
			nc.Close()
			return nil, ErrClosed
		}
		c := newConn(nc, clientDispatcher{cl, addr}, connOptions{maxFrame: cl.opts.MaxFrame}, cl.log)
		cl.conns[addr] = c
		c.start(&cl.wg) // under mu, so before Close can wait
		cl.mu.Unlock()
		return c, nil
	}
}

// Invoke sends req to addr and waits for the response until ctx ends.
func (cl *Client) Invoke(ctx context.Context, addr string, req *protocol.Command) (*protocol.Command, error) {
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c.Invoke(ctx, req)
}

// InvokeOneway sends req to addr flagged one-way.
func (cl *Client) InvokeOneway(ctx context.Context, addr string, req *protocol.Command) error {
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		return err
	}
	return c.InvokeOneway(ctx, req)
}

// Close closes every connection and waits until their goroutines and the
// handlers they started have returned (handlers' ctx is canceled).
func (cl *Client) Close() error {
	cl.mu.Lock()
	cl.closed = true
	conns := cl.conns
	cl.conns = make(map[string]*Conn)
	cl.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	cl.wg.Wait()
	return nil
}

type clientDispatcher struct {
	cl   *Client
	addr string
}

func (d clientDispatcher) dispatch(c *Conn, req *protocol.Command) {
	d.cl.mu.Lock()
	h := d.cl.handlers[req.Code]
	d.cl.mu.Unlock()
	if h == nil {
		c.Reply(req, protocol.NewResponse(req, protocol.RequestCodeNotSupported,
			fmt.Sprintf(" request type %d not supported", req.Code)))
		return
	}
	// The read loop calling us holds a count in wg, so Add is safe here.
	d.cl.wg.Add(1)
	go func() {
		defer d.cl.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				d.cl.log.Error("client handler panicked", "code", req.Code, "panic", p)
				c.Reply(req, protocol.NewResponse(req, protocol.SystemError, fmt.Sprint(p)))
			}
		}()
		if resp := h(c.ctx, c, req); resp != nil {
			c.Reply(req, resp)
		}
	}()
}

func (d clientDispatcher) connClosed(c *Conn) {
	d.cl.mu.Lock()
	if d.cl.conns[d.addr] == c {
		delete(d.cl.conns, d.addr)
	}
	d.cl.mu.Unlock()
}
