package remoting

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// The broker calls a client back over the connection the client opened:
// GET_CONSUMER_RUNNING_INFO with Invoke, NOTIFY_CONSUMER_IDS_CHANGED and
// CHECK_TRANSACTION_STATE one-way. Both directions run at once on the same
// connection without mixing up their opaques.
func TestServerCallsClientOverItsConnection(t *testing.T) {
	conns := make(chan *Conn, 1)
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(protocol.HeartBeat, nil, func(_ context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			select {
			case conns <- c:
			default:
			}
			return protocol.NewResponse(req, protocol.Success, "")
		})
		s.Handle(codeEcho, s.NewPool("echo", 4, 256), echo)
	})
	cl := startClient(t)
	notified := make(chan *protocol.Command, 4)
	cl.Handle(protocol.GetConsumerRunningInfo, func(_ context.Context, _ *Conn, req *protocol.Command) *protocol.Command {
		resp := protocol.NewResponse(req, protocol.Success, "")
		resp.Body = []byte("running " + req.Ext("consumerGroup"))
		return resp
	})
	for _, code := range []int32{protocol.NotifyConsumerIDsChanged, protocol.CheckTransactionState} {
		cl.Handle(code, func(_ context.Context, _ *Conn, req *protocol.Command) *protocol.Command {
			notified <- req
			return nil
		})
	}
	ctx := timeout(t, 10*time.Second)
	if _, err := cl.Invoke(ctx, addr, protocol.NewRequest(protocol.HeartBeat, nil)); err != nil {
		t.Fatal(err)
	}
	sc := <-conns

	resp, err := sc.Invoke(ctx, protocol.NewRequest(protocol.GetConsumerRunningInfo, map[string]string{"consumerGroup": "G"}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != protocol.Success || string(resp.Body) != "running G" {
		t.Fatalf("running info: %+v", resp)
	}
	for _, code := range []int32{protocol.NotifyConsumerIDsChanged, protocol.CheckTransactionState} {
		if err := sc.InvokeOneway(ctx, protocol.NewRequest(code, map[string]string{"consumerGroup": "G"})); err != nil {
			t.Fatal(err)
		}
		select {
		case req := <-notified:
			if req.Code != code || !req.IsOneway() || req.Ext("consumerGroup") != "G" {
				t.Fatalf("client got %+v", req)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("client handler for %d not called", code)
		}
	}
	// A code the client does not handle.
	resp, err = sc.Invoke(ctx, protocol.NewRequest(protocol.ConsumeMessageDirectly, nil))
	if err != nil || resp.Code != protocol.RequestCodeNotSupported {
		t.Fatalf("unhandled code: %+v, %v", resp, err)
	}

	// Both directions at once.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				req := echoRequest(g*100 + i)
				resp, err := cl.Invoke(ctx, addr, req)
				if err != nil {
					t.Error(err)
					return
				}
				checkEcho(t, req, resp)
			}
		})
		wg.Go(func() {
			for i := range 50 {
				group := fmt.Sprint(g, "-", i)
				resp, err := sc.Invoke(ctx, protocol.NewRequest(protocol.GetConsumerRunningInfo, map[string]string{"consumerGroup": group}))
				if err != nil {
					t.Error(err)
					return
				}
				if string(resp.Body) != "running "+group {
					t.Errorf("server asked for %s, got %q", group, resp.Body)
				}
			}
		})
	}
	wg.Wait()
}

// A client handler that panics is answered SYSTEM_ERROR; a one-way request
// is never answered by the client, whatever its handler returns.
func TestClientHandlerAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl := startClient(t)
	cl.Handle(protocol.NotifyConsumerIDsChanged, echo)
	cl.Handle(protocol.GetConsumerRunningInfo, echo)
	cl.Handle(codePanic, func(context.Context, *Conn, *protocol.Command) *protocol.Command { panic("client boom") })
	if _, err := cl.Conn(timeout(t, 5*time.Second), ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r := &rawConn{t, nc}
	defer nc.Close()

	notify := protocol.NewRequest(protocol.NotifyConsumerIDsChanged, nil)
	notify.Opaque, notify.Flag = 1, protocol.FlagOneway
	r.send(notify)
	panicky := protocol.NewRequest(codePanic, nil)
	panicky.Opaque = 2
	r.send(panicky)
	if resp := r.mustRead(); resp.Opaque != 2 || resp.Code != protocol.SystemError || !resp.IsResponse() {
		t.Fatalf("panicking handler: %+v", resp)
	}
	info := protocol.NewRequest(protocol.GetConsumerRunningInfo, map[string]string{"x": "y"})
	info.Opaque = 3
	r.send(info)
	checkEcho(t, info, r.mustRead())
	r.expectSilence(200 * time.Millisecond)
}

// Invoke gives up when ctx's deadline passes, with an error wrapping
// ErrTimeout; the response that comes later is dropped and the connection
// goes on matching the next ones correctly.
func TestInvokeTimeout(t *testing.T) {
	type held struct {
		c   *Conn
		req *protocol.Command
	}
	heldCh := make(chan held, 1)
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeSuspend, nil, func(_ context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			heldCh <- held{c, req}
			return nil
		})
		s.Handle(codeEcho, nil, echo)
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = c.Invoke(short, protocol.NewRequest(codeSuspend, nil))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(begin); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if n := c.pendingCount(); n != 0 {
		t.Fatalf("%d pending after timeout", n)
	}

	// The late answer: same code as an echo, so a mix-up would show.
	h := <-heldCh
	late := protocol.NewResponse(h.req, protocol.Success, "late")
	late.Body = []byte("late")
	if err := h.c.Reply(h.req, late); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		req := echoRequest(i)
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		checkEcho(t, req, resp)
	}

	// Cancellation is not a timeout.
	canceled, cancel2 := context.WithCancel(ctx)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel2()
	}()
	_, err = c.Invoke(canceled, protocol.NewRequest(codeSuspend, nil))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("canceled Invoke: %v", err)
	}
	<-heldCh
}

// Closing a connection fails the Invokes waiting on it with ErrClosed, and
// later Invokes and Sends on it too.
func TestConnCloseFailsPendingInvokes(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeSuspend, nil, func(context.Context, *Conn, *protocol.Command) *protocol.Command { return nil })
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Invoke(ctx, protocol.NewRequest(codeSuspend, nil))
			errs <- err
		}()
	}
	eventually(t, 5*time.Second, "all requests pending", func() bool { return c.pendingCount() == n })
	c.Close()
	for range n {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("pending Invoke: %v", err)
		}
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	if c.Context().Err() == nil {
		t.Fatal("Context not canceled")
	}
	if _, err := c.Invoke(ctx, protocol.NewRequest(codeSuspend, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Invoke after close: %v", err)
	}
	if err := c.Send(ctx, protocol.NewRequest(codeSuspend, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after close: %v", err)
	}
	if err := c.InvokeOneway(ctx, protocol.NewRequest(codeSuspend, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("InvokeOneway after close: %v", err)
	}
}

// When the server goes away, pending Invokes fail with ErrClosed, and the
// client dials again on the next request: after the server dropped the
// connection, and after the server restarted on the same address.
func TestClientReconnects(t *testing.T) {
	setup := func(s *Server) {
		s.Handle(codeEcho, nil, echo)
		s.Handle(codeSuspend, nil, func(context.Context, *Conn, *protocol.Command) *protocol.Command { return nil })
	}
	srv, addr := startServer(t, ServerOptions{}, setup)
	cl := startClient(t)
	ctx := timeout(t, 20*time.Second)
	invoke := func(i int) {
		t.Helper()
		req := echoRequest(i)
		resp, err := cl.Invoke(ctx, addr, req)
		if err != nil {
			t.Fatal(err)
		}
		checkEcho(t, req, resp)
	}
	invoke(1)
	first, _ := cl.Conn(ctx, addr)

	// The server drops the connection.
	for _, c := range srv.Conns() {
		c.Close()
	}
	<-first.Done()
	invoke(2)
	second, _ := cl.Conn(ctx, addr)
	if second == first {
		t.Fatal("closed connection reused")
	}

	// Again, Invoking as soon as the client has seen the drop.
	for _, c := range srv.Conns() {
		c.Close()
	}
	eventually(t, 5*time.Second, "client sees the drop", func() bool {
		select {
		case <-second.Done():
			return true
		default:
			return false
		}
	})
	invoke(3)

	// The server stops with a request pending, then comes back.
	errc := make(chan error, 1)
	go func() {
		_, err := cl.Invoke(ctx, addr, protocol.NewRequest(codeSuspend, nil))
		errc <- err
	}()
	third, _ := cl.Conn(ctx, addr)
	eventually(t, 5*time.Second, "request pending", func() bool { return third.pendingCount() == 1 })
	srv.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending Invoke when the server stopped: %v", err)
	}
	if _, err := cl.Invoke(ctx, addr, echoRequest(4)); err == nil {
		t.Fatal("Invoke succeeded with no server")
	}
	srv2 := NewServer(ServerOptions{})
	setup(srv2)
	if _, err := srv2.Listen(addr); err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	// The connection the failed Invoke dialled may have landed in the old
	// listener's backlog and be closing now: one request may still see
	// that close; the next one reconnects.
	if _, err := cl.Invoke(ctx, addr, echoRequest(5)); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("first Invoke after the restart: %v", err)
	}
	invoke(6)
}

// Client.Close closes its connections and waits for the handlers it
// started; afterwards the client refuses work.
func TestClientCloseWaitsForHandlers(t *testing.T) {
	conns := make(chan *Conn, 1)
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(protocol.HeartBeat, nil, func(_ context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			conns <- c
			return protocol.NewResponse(req, protocol.Success, "")
		})
	})
	cl := NewClient(ClientOptions{})
	var finished atomic.Bool
	running := make(chan struct{})
	cl.Handle(protocol.CheckTransactionState, func(ctx context.Context, _ *Conn, _ *protocol.Command) *protocol.Command {
		close(running)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		finished.Store(true)
		return nil
	})
	ctx := timeout(t, 10*time.Second)
	if _, err := cl.Invoke(ctx, addr, protocol.NewRequest(protocol.HeartBeat, nil)); err != nil {
		t.Fatal(err)
	}
	sc := <-conns
	if err := sc.InvokeOneway(ctx, protocol.NewRequest(protocol.CheckTransactionState, nil)); err != nil {
		t.Fatal(err)
	}
	<-running
	cl.Close()
	if !finished.Load() {
		t.Fatal("Client.Close returned before its handler")
	}
	if _, err := cl.Invoke(ctx, addr, protocol.NewRequest(protocol.HeartBeat, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Invoke after Close: %v", err)
	}
	cl.Close() // again
}

// Concurrent first requests to one address share a single dial; a failed
// dial is reported, not cached.
func TestClientDialing(t *testing.T) {
	srv, addr := startServer(t, ServerOptions{}, func(s *Server) { s.Handle(codeEcho, nil, echo) })
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			req := echoRequest(i)
			resp, err := cl.Invoke(ctx, addr, req)
			if err != nil {
				t.Error(err)
				return
			}
			checkEcho(t, req, resp)
		})
	}
	wg.Wait()
	if n := len(srv.Conns()); n != 1 {
		t.Fatalf("%d connections for one address", n)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	_, err := cl.Invoke(ctx, dead, echoRequest(0))
	if err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("dial to a closed port: %v", err)
	}
}

// countingConn counts the Write calls reaching the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// The write loop puts every frame that is queued into one buffered write:
// a burst of small frames costs a few system calls, not one each.
func TestWriteLoopBatchesFrames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	cc := &countingConn{Conn: nc}
	c := newConn(cc, nil, connOptions{maxFrame: protocol.DefaultMaxFrame}, slog.New(slog.DiscardHandler))

	const n = 2000
	ctx := timeout(t, 10*time.Second)
	total := 0
	for i := range n {
		resp := protocol.NewResponse(&protocol.Command{Opaque: int32(i)}, protocol.Success, "")
		frame, _ := resp.AppendFrame(nil)
		total += len(frame)
		if err := c.Send(ctx, resp); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	c.start(&wg)
	br := bufio.NewReader(peer)
	for i := range n {
		var l [4]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			t.Fatal(err)
		}
		m, _ := protocol.DecodeLength(l, protocol.DefaultMaxFrame)
		frame := make([]byte, m)
		if _, err := io.ReadFull(br, frame); err != nil {
			t.Fatal(err)
		}
		cmd, err := protocol.Decode(frame)
		if err != nil || cmd.Opaque != int32(i) {
			t.Fatalf("frame %d: %+v, %v", i, cmd, err)
		}
	}
	writes := int(cc.writes.Load())
	t.Logf("%d frames, %d bytes, %d writes", n, total, writes)
	if max := total/(64<<10) + 2; writes > max {
		t.Fatalf("%d writes for %d queued frames (%d bytes), want at most %d", writes, n, total, max)
	}
	c.Close()
	wg.Wait()
}

// Many small responses under load all arrive intact.
func TestManySmallResponsesUnderLoad(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, func(s *Server) { s.Handle(codeEcho, nil, echo) })
	ctx := timeout(t, 60*time.Second)
	var wg sync.WaitGroup
	var done atomic.Int32
	for range 2 {
		cl := startClient(t)
		for g := range 32 {
			wg.Go(func() {
				for i := range 300 {
					req := echoRequest(g*1000 + i)
					var err error
					var resp *protocol.Command
					if i%10 == 0 {
						err = cl.InvokeOneway(ctx, addr, req)
					} else if resp, err = cl.Invoke(ctx, addr, req); err == nil {
						checkEcho(t, req, resp)
					}
					if err != nil {
						t.Error(err)
						return
					}
					done.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := done.Load(); n != 2*32*300 {
		t.Fatalf("%d requests done", n)
	}
}

// InvokeAsync calls back once per request with its own response, many in
// flight on one connection; when the connection closes, the calls still
// waiting are answered with ErrClosed, and a call on a closed connection
// fails at once without a callback.
func TestInvokeAsyncAnswersEveryCallOnce(t *testing.T) {
	var held sync.WaitGroup
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeEcho, s.NewPool("echo", 4, 1000), echo)
		s.Handle(codeSuspend, nil, func(context.Context, *Conn, *protocol.Command) *protocol.Command {
			held.Done()
			return nil // never answered
		})
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	var got sync.WaitGroup
	var calls [n]atomic.Int32
	for i := range n {
		req := echoRequest(i)
		want := string(req.Body)
		got.Add(1)
		err := c.InvokeAsync(ctx, req, func(resp *protocol.Command, err error) {
			defer got.Done()
			calls[i].Add(1)
			if err != nil || string(resp.Body) != want {
				t.Errorf("call %d: %v, %+v", i, err, resp)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got.Wait()
	for i := range calls {
		if n := calls[i].Load(); n != 1 {
			t.Fatalf("call %d answered %d times", i, n)
		}
	}

	held.Add(1)
	closed := make(chan error, 1)
	if err := c.InvokeAsync(ctx, protocol.NewRequest(codeSuspend, nil), func(_ *protocol.Command, err error) { closed <- err }); err != nil {
		t.Fatal(err)
	}
	held.Wait()
	c.Close()
	select {
	case err := <-closed:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("waiting call answered %v, want ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("waiting call not answered when the connection closed")
	}
	err = c.InvokeAsync(ctx, echoRequest(0), func(*protocol.Command, error) { t.Error("callback after a failed InvokeAsync") })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("InvokeAsync on a closed connection: %v", err)
	}
}

// Send blocks while the write buffer is over its limit and goes on once
// the peer reads; a blocked Send ends with its ctx.
func TestSendBlocksWhileThePeerDoesNotRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := newConn(nc, nil, connOptions{maxFrame: protocol.DefaultMaxFrame, maxPending: 64 << 10}, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	c.start(&wg)
	defer func() { c.Close(); wg.Wait() }()
	big := protocol.NewRequest(codeEcho, nil)
	big.Body = make([]byte, 256<<10)
	// The socket buffers fill up, then the write buffer: Send must block.
	blocked := false
	for range 200 {
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := c.Send(short, big)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			blocked = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !blocked {
		t.Fatal("Send never blocked although the peer reads nothing")
	}
	// Once the peer reads, Send goes on.
	go io.Copy(io.Discard, peer)
	if err := c.Send(timeout(t, 10*time.Second), big); err != nil {
		t.Fatalf("Send after the peer started reading: %v", err)
	}
}

// Frames sent inline by an idle connection and frames batched by the write
// loop, with partial writes to a slow reader in between, arrive whole and
// in each sender's order.
func TestSendKeepsFramesWholeAndInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := newConn(nc, nil, connOptions{maxFrame: protocol.DefaultMaxFrame}, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	c.start(&wg)
	defer func() { c.Close(); wg.Wait() }()
	const senders, per = 4, 300
	ctx := timeout(t, 30*time.Second)
	var sent sync.WaitGroup
	for g := range senders {
		sent.Go(func() {
			for i := range per {
				req := protocol.NewRequest(codeEcho, map[string]string{"g": fmt.Sprint(g), "i": fmt.Sprint(i)})
				req.Body = bytes.Repeat([]byte{byte(i)}, (i*7919)%(200<<10)) // up to 200 KiB: partial writes
				if err := c.Send(ctx, req); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					time.Sleep(100 * time.Microsecond) // idle: the next send goes inline
				}
			}
		})
	}
	next := make([]int, senders)
	br := bufio.NewReader(peer)
	for n := 0; n < senders*per; n++ {
		if n%50 == 0 {
			time.Sleep(time.Millisecond) // a slow reader
		}
		var l [4]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			t.Fatal(err)
		}
		m, err := protocol.DecodeLength(l, protocol.DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		frame := make([]byte, m)
		if _, err := io.ReadFull(br, frame); err != nil {
			t.Fatal(err)
		}
		cmd, err := protocol.Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		fmt.Sscan(cmd.Ext("g"), &g)
		fmt.Sscan(cmd.Ext("i"), &i)
		if i != next[g] || len(cmd.Body) != (i*7919)%(200<<10) || (len(cmd.Body) > 0 && cmd.Body[len(cmd.Body)-1] != byte(i)) {
			t.Fatalf("sender %d: got frame %d (%d bytes), want frame %d", g, i, len(cmd.Body), next[g])
		}
		next[g]++
	}
	sent.Wait()
}

// The write deadline that the write loop sets for its blocking writes
// does not hold back a later inline send once it has passed: a connection
// that writes now and then stays open for good.
func TestInlineSendAfterTheWriteDeadlinePassed(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, func(s *Server) { s.Handle(codeEcho, nil, echo) })
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		// As if the write loop's deadline had been set long ago.
		c.wmu.Lock()
		c.deadline = time.Now().Add(-time.Second)
		c.nc.SetWriteDeadline(c.deadline)
		c.wmu.Unlock()
		time.Sleep(2 * inlineIdle) // idle: the send goes inline
		req := echoRequest(i)
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			t.Fatalf("send %d after the deadline passed: %v", i, err)
		}
		checkEcho(t, req, resp)
	}
}
