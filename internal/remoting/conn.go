package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// Errors returned by Conn and Client.
var (
	// ErrClosed: the connection is closed (Invoke, Send, Reply).
	ErrClosed = errors.New("remoting: connection closed")
	// ErrTimeout: no response came in time (Invoke).
	ErrTimeout = errors.New("remoting: request timed out")
)

// dispatcher receives the requests that arrive on a Conn.
type dispatcher interface {
	dispatch(c *Conn, req *protocol.Command)
	connClosed(c *Conn)
}

// Conn is one TCP connection carrying RemotingCommands both ways.
type Conn struct {
	nc      net.Conn
	log     *slog.Logger
	d       dispatcher
	opts    connOptions
	ctx     context.Context
	cancel  context.CancelFunc
	out     chan []byte
	done    chan struct{}
	once    sync.Once
	wdone   chan struct{} // closed when writeLoop returns
	opaque  atomic.Int32
	mu      sync.Mutex
	pending map[int32]chan *protocol.Command
	err     error

	// Values is free for the owner (a client id, a channel's role).
	Values sync.Map
}

type connOptions struct {
	maxFrame    int
	idleTimeout time.Duration
	queue       int
}

func newConn(nc net.Conn, d dispatcher, opts connOptions, log *slog.Logger) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		nc: nc, d: d, opts: opts, ctx: ctx, cancel: cancel,
		log:     log.With("remote", nc.RemoteAddr().String()),
		out:     make(chan []byte, opts.queue),
		done:    make(chan struct{}),
		pending: make(map[int32]chan *protocol.Command),
		wdone:   make(chan struct{}),
	}
	return c
}

// start runs the read and write loops, counted in wg until they return. The
// read loop returns last, after the write loop and after any handler it ran
// inline. The caller must hold a count in wg, or guarantee that nobody
// waits on wg yet.
func (c *Conn) start(wg *sync.WaitGroup) {
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer wg.Done()
		c.readLoop()
	}()
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is this side's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Context is canceled when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection; pending requests fail with ErrClosed.
func (c *Conn) Close() error {
	c.closeWith(ErrClosed)
	return nil
}

// closeWith closes the connection with err as the reason that Invoke
// reports (always wrapping ErrClosed). The first call wins.
func (c *Conn) closeWith(err error) {
	first := false
	c.once.Do(func() {
		first = true
		if !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		c.mu.Lock()
		c.err = err
		pend := c.pending
		c.pending = nil
		c.mu.Unlock()
		// Done first: a caller woken by its failed Invoke must find the
		// connection closed, so Client.Conn redials instead of reusing it.
		c.cancel()
		close(c.done)
		c.nc.Close()
		for _, ch := range pend {
			close(ch)
		}
	})
	// Outside once.Do: the owner's callback (Server's OnClose) may call
	// Close again, which would deadlock inside it.
	if first && c.d != nil {
		c.d.connClosed(c)
	}
}

func (c *Conn) readLoop() {
	defer func() { <-c.wdone }()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var lenBuf [4]byte
	for {
		if c.opts.idleTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.opts.idleTimeout))
		}
		if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
			c.closeWith(fmt.Errorf("%w: %v", ErrClosed, err))
			return
		}
		n, err := protocol.DecodeLength(lenBuf, c.opts.maxFrame)
		if err != nil {
			c.log.Warn("closing connection: bad frame", "err", err)
			c.closeWith(err)
			return
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(br, frame); err != nil {
			c.closeWith(fmt.Errorf("%w: %v", ErrClosed, err))
			return
		}
		cmd, err := protocol.Decode(frame)
		if err != nil {
			c.log.Warn("closing connection: undecodable frame", "err", err)
			c.closeWith(err)
			return
		}
		if cmd.IsResponse() {
			c.mu.Lock()
			ch := c.pending[cmd.Opaque]
			delete(c.pending, cmd.Opaque)
			c.mu.Unlock()
			if ch != nil {
				ch <- cmd
			}
			continue
		}
		if c.d != nil {
			c.d.dispatch(c, cmd)
		}
	}
}

func (c *Conn) writeLoop() {
	defer close(c.wdone)
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		var frame []byte
		select {
		case frame = <-c.out:
		case <-c.done:
			return
		}
		c.nc.SetWriteDeadline(time.Now().Add(120 * time.Second))
		if _, err := bw.Write(frame); err != nil {
			c.closeWith(fmt.Errorf("%w: write: %v", ErrClosed, err))
			return
		}
	drain:
		for {
			select {
			case frame = <-c.out:
				if _, err := bw.Write(frame); err != nil {
					c.closeWith(fmt.Errorf("%w: write: %v", ErrClosed, err))
					return
				}
			default:
				break drain
			}
		}
		if err := bw.Flush(); err != nil {
			c.closeWith(fmt.Errorf("%w: write: %v", ErrClosed, err))
			return
		}
	}
}

// Send queues cmd for writing. It blocks while the write queue is full,
// until ctx ends or the connection closes (then the error wraps ErrClosed).
func (c *Conn) Send(ctx context.Context, cmd *protocol.Command) error {
	frame, err := cmd.AppendFrame(make([]byte, 0, frameSizeHint(cmd)))
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.closeErr()
	default:
	}
	select {
	case c.out <- frame:
		return nil
	case <-c.done:
		return c.closeErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// frameSizeHint is about the encoded size of cmd, so that encoding
// allocates once.
func frameSizeHint(cmd *protocol.Command) int {
	n := 128 + len(cmd.Remark) + len(cmd.Body)
	for k, v := range cmd.ExtFields {
		n += len(k) + len(v) + 8
	}
	return n
}

// closeErr is why the connection closed (wrapping ErrClosed); nil while
// it is open.
func (c *Conn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Reply sends resp as the answer to req (copying its opaque and marking it a
// response). A one-way request gets no answer.
func (c *Conn) Reply(req, resp *protocol.Command) error {
	if req.IsOneway() || resp == nil {
		return nil
	}
	resp.Opaque = req.Opaque
	resp.Flag |= protocol.FlagResponse
	if resp.Language == "" {
		resp.Language = protocol.LanguageGo
	}
	if resp.Version == 0 {
		resp.Version = protocol.Version
	}
	resp.SerializeType = req.SerializeType
	return c.Send(c.ctx, resp)
}

// Invoke sends req and waits for its response, until ctx ends. It sets
// req's opaque and clears its flags. When ctx's deadline passes first the
// error wraps both ErrTimeout and context.DeadlineExceeded, and a response
// that comes later is dropped. When the connection closes first it wraps
// ErrClosed.
func (c *Conn) Invoke(ctx context.Context, req *protocol.Command) (*protocol.Command, error) {
	req.Opaque = c.opaque.Add(1)
	req.Flag &^= protocol.FlagResponse | protocol.FlagOneway
	ch := make(chan *protocol.Command, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return nil, c.closeErr()
	}
	c.pending[req.Opaque] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, req.Opaque)
		}
		c.mu.Unlock()
	}
	if err := c.Send(ctx, req); err != nil {
		forget()
		return nil, c.ctxErr(req, err)
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, c.closeErr()
		}
		return resp, nil
	case <-ctx.Done():
		forget()
		return nil, c.ctxErr(req, ctx.Err())
	}
}

// ctxErr marks a deadline as ErrTimeout.
func (c *Conn) ctxErr(req *protocol.Command, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: code %d to %s: %w", ErrTimeout, req.Code, c.RemoteAddr(), err)
	}
	return err
}

// InvokeOneway sends req flagged one-way; no answer is expected.
func (c *Conn) InvokeOneway(ctx context.Context, req *protocol.Command) error {
	req.Opaque = c.opaque.Add(1)
	req.Flag = req.Flag&^protocol.FlagResponse | protocol.FlagOneway
	return c.Send(ctx, req)
}
