package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	done    chan struct{}
	once    sync.Once
	wdone   chan struct{} // closed when writeLoop returns
	opaque  atomic.Int32
	mu      sync.Mutex
	pending map[int32]call
	err     error

	// Outgoing frames are encoded straight into wbuf. One goroutine at a
	// time owns the socket's write side (writing): it swaps wbuf for the
	// spare buffer and writes it whole, so whatever queued up while the
	// previous write ran goes out in one system call. The owner is the
	// write loop, or, when the connection has been quiet for inlineIdle,
	// the sender itself, which tries one non-blocking write and hands what
	// is left to the write loop (kick): a lone request or response goes out
	// without waking another goroutine, a stream is batched.
	wmu       sync.Mutex
	wbuf      []byte
	spare     []byte
	writing   bool
	lastWrite int64         // UnixNano when the write side was last released
	wroom     chan struct{} // closed when wbuf is taken; nil if nobody waits
	kick      chan struct{} // capacity 1: hands the write side to the write loop
	head      []byte        // bytes an inline write left, the owner's…
	headBuf   []byte        // …and the buffer they are in
	deadline  time.Time     // the socket's write deadline, the owner's
	raw       syscall.RawConn
	tw        *inlineWrite // tryWrite's, the owner's

	// more: when dispatch is called, the read loop already holds bytes of
	// a further frame; frame is the request's frame, from getFrame when
	// poolFrames (the read loop's, no lock; dispatch may take frame).
	more  bool
	frame []byte

	// Values is free for the owner (a client id, a channel's role).
	Values sync.Map
}

// call is a request waiting for its response: Invoke waits on ch,
// InvokeAsync's callback is cb.
type call struct {
	ch chan *protocol.Command
	cb func(*protocol.Command, error)
}

type connOptions struct {
	maxFrame    int
	idleTimeout time.Duration
	// maxPending is how many encoded bytes may wait for the write loop
	// before Send blocks (default 4 MiB); one frame may go past it.
	maxPending int
	// poolFrames reads small frames into recycled buffers (a server's
	// connections: dispatch gives back those of handlers that keep nothing).
	poolFrames bool
}

// Frames of up to maxPooledFrame bytes are read into buffers of a power of
// two from minPooledFrame, recycled per size.
const (
	minPooledFrame = 1 << 10
	maxPooledFrame = 16 << 10
)

var framePools [5]sync.Pool // 1, 2, 4, 8, 16 KiB

func frameClass(n int) int {
	return max(bits.Len(uint(n-1)), 10) - 10
}

// getFrame returns a buffer of n bytes, recycled when small.
func getFrame(n int) []byte {
	if n > maxPooledFrame {
		return make([]byte, n)
	}
	k := frameClass(n)
	if p, ok := framePools[k].Get().(*byte); ok {
		return unsafe.Slice(p, minPooledFrame<<k)[:n]
	}
	return make([]byte, n, minPooledFrame<<k)
}

// putFrame recycles a buffer from getFrame; nothing may use it afterwards.
func putFrame(b []byte) {
	if c := cap(b); c >= minPooledFrame && c <= maxPooledFrame && c&(c-1) == 0 {
		framePools[frameClass(c)].Put(unsafe.SliceData(b[:1]))
	}
}

// Write buffers: the initial size, and the largest one kept for reuse
// after a write (a big pull response is not held per connection).
const (
	defaultMaxPending = 4 << 20
	writeBufSize      = 64 << 10
	writeBufKeep      = 1 << 20
	// inlineIdle: a sender writes inline only when the write side was idle
	// this long, so a steady stream keeps going through the write loop,
	// which batches it.
	inlineIdle = 20 * time.Microsecond
)

func newConn(nc net.Conn, d dispatcher, opts connOptions, log *slog.Logger) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	if opts.maxPending <= 0 {
		opts.maxPending = defaultMaxPending
	}
	c := &Conn{
		nc: nc, d: d, opts: opts, ctx: ctx, cancel: cancel,
		log:     log.With("remote", nc.RemoteAddr().String()),
		done:    make(chan struct{}),
		pending: make(map[int32]call),
		wdone:   make(chan struct{}),
		wbuf:    make([]byte, 0, writeBufSize),
		spare:   make([]byte, 0, writeBufSize),
		kick:    make(chan struct{}, 1),
	}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
		c.tw = &inlineWrite{}
		c.tw.fn = c.tw.write
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
		for _, p := range pend {
			if p.cb != nil {
				p.cb(nil, err)
			} else {
				close(p.ch)
			}
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
	var r io.Reader = c.nc
	if c.opts.idleTimeout > 0 {
		r = &idleReader{nc: c.nc, idle: c.opts.idleTimeout}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var lenBuf [4]byte
	for {
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
		var frame []byte
		if c.opts.poolFrames {
			frame = getFrame(n)
		} else {
			frame = make([]byte, n)
		}
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
			p, ok := c.pending[cmd.Opaque]
			delete(c.pending, cmd.Opaque)
			c.mu.Unlock()
			switch {
			case !ok:
			case p.cb != nil:
				p.cb(cmd, nil)
			default:
				p.ch <- cmd
			}
			continue
		}
		if c.d != nil {
			// Whether another request is already here, waiting for this
			// one to be dispatched (read loop only).
			c.more = br.Buffered() > 0
			c.frame = frame
			c.d.dispatch(c, cmd)
			c.frame = nil
		}
	}
}

// idleReader fails a read that waits idle for bytes. Its read deadline is
// moved on now and then, not per read (a timer update each time); when it
// passes before the read waited idle, it is moved to that point.
type idleReader struct {
	nc       net.Conn
	idle     time.Duration
	deadline time.Time
}

func (r *idleReader) Read(p []byte) (int, error) {
	start := time.Now()
	if r.deadline.Sub(start) < r.idle/2 {
		r.deadline = start.Add(r.idle)
		r.nc.SetReadDeadline(r.deadline)
	}
	for {
		n, err := r.nc.Read(p)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		end := start.Add(r.idle)
		if !end.After(time.Now()) {
			return n, err
		}
		r.deadline = end
		r.nc.SetReadDeadline(end)
	}
}

// writeLoop writes whenever it is handed the write side (kick), until
// nothing is left, then releases it.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	write := func(b []byte) bool {
		// A write blocked this long on a peer that reads nothing closes
		// the connection; the deadline is moved on now and then, not per
		// write.
		if now := time.Now(); c.deadline.Sub(now) < 110*time.Second {
			c.deadline = now.Add(120 * time.Second)
			c.nc.SetWriteDeadline(c.deadline)
		}
		if _, err := c.nc.Write(b); err != nil {
			c.closeWith(fmt.Errorf("%w: write: %v", ErrClosed, err))
			return false
		}
		return true
	}
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		if len(c.head) > 0 {
			if !write(c.head) {
				return
			}
			c.wmu.Lock()
			c.giveBackLocked(c.headBuf)
			c.wmu.Unlock()
			c.head, c.headBuf = nil, nil
		}
		for {
			c.wmu.Lock()
			if len(c.wbuf) == 0 {
				c.writing = false
				c.lastWrite = time.Now().UnixNano()
				c.wmu.Unlock()
				break
			}
			buf, room := c.takeLocked()
			c.wmu.Unlock()
			if room != nil {
				close(room)
			}
			if !write(buf) {
				return
			}
			c.wmu.Lock()
			c.giveBackLocked(buf)
			c.wmu.Unlock()
		}
	}
}

// takeLocked takes the pending bytes, leaving the spare buffer in their
// place; it returns the channel to close for senders waiting for room.
func (c *Conn) takeLocked() ([]byte, chan struct{}) {
	buf, room := c.wbuf, c.wroom
	c.wbuf, c.spare, c.wroom = c.spare[:0], nil, nil
	return buf, room
}

// giveBackLocked keeps a written buffer as the spare, unless it grew big.
func (c *Conn) giveBackLocked(buf []byte) {
	if cap(buf) > writeBufKeep {
		buf = make([]byte, 0, writeBufSize)
	}
	c.spare = buf[:0]
}

// inlineWrite is the one write system call of tryWrite, made once per
// connection (a closure per call would be an allocation per call).
type inlineWrite struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool // write
}

func (w *inlineWrite) write(fd uintptr) bool {
	w.n, w.err = syscall.Write(int(fd), w.b)
	return true
}

// tryWrite makes one non-blocking write attempt and says how much went.
func (c *Conn) tryWrite(b []byte) (int, error) {
	c.tw.b = b
	err := c.raw.Write(c.tw.fn)
	n, werr := c.tw.n, c.tw.err
	c.tw.b, c.tw.err = nil, nil
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The write loop's deadline, set for a blocking write long
			// ago, has passed: let the write loop write, with a new one.
			return 0, nil
		}
		return 0, err
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		return 0, nil
	}
	return max(n, 0), werr
}

// Send encodes cmd onto the connection's write buffer. It blocks while
// the buffer holds more than its limit, until ctx ends or the connection
// closes (then the error wraps ErrClosed). An unencodable cmd is an error
// and leaves the connection as it was.
func (c *Conn) Send(ctx context.Context, cmd *protocol.Command) error {
	c.wmu.Lock()
	for len(c.wbuf) >= c.opts.maxPending {
		if c.wroom == nil {
			c.wroom = make(chan struct{})
		}
		room := c.wroom
		c.wmu.Unlock()
		select {
		case <-room:
		case <-c.done:
			return c.closeErr()
		case <-ctx.Done():
			return ctx.Err()
		}
		c.wmu.Lock()
	}
	select {
	case <-c.done:
		c.wmu.Unlock()
		return c.closeErr()
	default:
	}
	var err error
	c.wbuf, err = cmd.AppendFrame(c.wbuf)
	if err != nil || c.writing {
		c.wmu.Unlock()
		return err // nil: the owner of the write side takes the frame
	}
	c.writing = true
	if c.raw == nil || time.Now().UnixNano()-c.lastWrite < int64(inlineIdle) {
		c.wmu.Unlock()
		c.kick <- struct{}{} // never blocks: only the owner kicks
		return nil
	}
	buf, room := c.takeLocked()
	c.wmu.Unlock()
	if room != nil {
		close(room)
	}
	n, werr := c.tryWrite(buf)
	if werr != nil {
		c.closeWith(fmt.Errorf("%w: write: %v", ErrClosed, werr))
		return c.closeErr()
	}
	c.wmu.Lock()
	if n == len(buf) {
		c.giveBackLocked(buf)
		if len(c.wbuf) == 0 {
			c.writing = false
			c.lastWrite = time.Now().UnixNano()
			c.wmu.Unlock()
			return nil
		}
	} else {
		c.head, c.headBuf = buf[n:], buf
	}
	c.wmu.Unlock()
	c.kick <- struct{}{}
	return nil
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
	c.pending[req.Opaque] = call{ch: ch}
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

// InvokeAsync sends req and returns without waiting: cb is called once,
// with the response, or with an error wrapping ErrClosed when the
// connection closes first (or the send fails once req is registered). It
// runs on the connection's read loop (or on the goroutine closing the
// connection), so it must be quick and must not wait on this connection.
// When InvokeAsync returns an error, cb is not called. There is no
// timeout: closing the connection ends every call still waiting (Java's
// invokeAsync scans for expired ones; a caller that needs that closes).
func (c *Conn) InvokeAsync(ctx context.Context, req *protocol.Command, cb func(*protocol.Command, error)) error {
	req.Opaque = c.opaque.Add(1)
	req.Flag &^= protocol.FlagResponse | protocol.FlagOneway
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return c.closeErr()
	}
	c.pending[req.Opaque] = call{cb: cb}
	c.mu.Unlock()
	if err := c.Send(ctx, req); err != nil {
		c.mu.Lock()
		_, mine := c.pending[req.Opaque]
		if mine {
			delete(c.pending, req.Opaque)
		}
		c.mu.Unlock()
		if mine {
			return c.ctxErr(req, err)
		}
		// closeWith took the call and has answered it.
	}
	return nil
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
