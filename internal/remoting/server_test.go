package remoting

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// Many goroutines share one client connection; every response reaches the
// goroutine that sent its request, although the server answers out of
// order.
func TestResponsesMatchRequestsByOpaque(t *testing.T) {
	srv, addr := startServer(t, ServerOptions{}, func(s *Server) {
		pool := s.NewPool("echo", 16, 1024)
		s.Handle(codeEcho, pool, func(ctx context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
			return echo(ctx, c, req)
		})
	})
	cl := startClient(t)
	ctx := timeout(t, 30*time.Second)

	const goroutines, each = 64, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				req := echoRequest(g*each + i)
				resp, err := cl.Invoke(ctx, addr, req)
				if err != nil {
					t.Error(err)
					return
				}
				checkEcho(t, req, resp)
			}
		})
	}
	wg.Wait()
	if n := len(srv.Conns()); n != 1 {
		t.Errorf("server has %d connections, want the one shared connection", n)
	}
	c, _ := cl.Conn(ctx, addr)
	if n := c.pendingCount(); n != 0 {
		t.Errorf("%d requests still pending", n)
	}
}

// A one-way request runs its handler but gets no answer, even when the
// handler returns one; an unknown one-way code is not answered either.
func TestOnewayRequestGetsNoAnswer(t *testing.T) {
	var calls atomic.Int32
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeEcho, nil, func(ctx context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			calls.Add(1)
			return echo(ctx, c, req)
		})
	})
	r := dialRaw(t, addr)
	oneway := echoRequest(1)
	oneway.Opaque, oneway.Flag = 7, protocol.FlagOneway
	r.send(oneway)
	unknown := protocol.NewRequest(9999, nil)
	unknown.Opaque, unknown.Flag = 8, protocol.FlagOneway
	r.send(unknown)
	req := echoRequest(2)
	req.Opaque = 9
	r.send(req)

	resp := r.mustRead()
	checkEcho(t, req, resp)
	r.expectSilence(200 * time.Millisecond)
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2", n)
	}

	// Through the client.
	cl := startClient(t)
	if err := cl.InvokeOneway(timeout(t, 5*time.Second), addr, echoRequest(3)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "one-way handler", func() bool { return calls.Load() == 3 })
}

// An unknown code is answered REQUEST_CODE_NOT_SUPPORTED with Java's remark,
// in the serialize type of the request.
func TestUnknownCodeAnswersNotSupported(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, nil)
	cl := startClient(t)
	req := protocol.NewRequest(9999, map[string]string{"a": "b"})
	resp, err := cl.Invoke(timeout(t, 5*time.Second), addr, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != protocol.RequestCodeNotSupported || resp.Remark != " request type 9999 not supported" ||
		resp.Opaque != req.Opaque || !resp.IsResponse() {
		t.Fatalf("got %+v", resp)
	}

	r := dialRaw(t, addr)
	bin := protocol.NewRequest(4321, nil)
	bin.Opaque, bin.SerializeType = 3, protocol.SerializeRocketMQ
	r.send(bin)
	resp = r.mustRead()
	if resp.Code != protocol.RequestCodeNotSupported || resp.SerializeType != protocol.SerializeRocketMQ || resp.Opaque != 3 {
		t.Fatalf("binary request got %+v", resp)
	}
}

// HandleDefault takes every code without its own handler.
func TestHandleDefault(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeEcho, nil, echo)
		s.HandleDefault(nil, func(_ context.Context, _ *Conn, req *protocol.Command) *protocol.Command {
			return protocol.NewResponse(req, protocol.TopicNotExist, "default")
		})
	})
	cl := startClient(t)
	ctx := timeout(t, 5*time.Second)
	resp, err := cl.Invoke(ctx, addr, protocol.NewRequest(77, nil))
	if err != nil || resp.Code != protocol.TopicNotExist || resp.Remark != "default" {
		t.Fatalf("got %+v, %v", resp, err)
	}
	req := echoRequest(1)
	resp, err = cl.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, req, resp)
}

// When a pool's workers are busy and its queue is full, the next request is
// answered SYSTEM_BUSY at once; the queued ones still run.
func TestFullPoolAnswersSystemBusy(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var pool *Pool
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		pool = s.NewPool("slow", 1, 1)
		s.Handle(codeBlock, pool, func(ctx context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return protocol.NewResponse(req, protocol.Success, "")
		})
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := cl.Invoke(ctx, addr, protocol.NewRequest(codeBlock, nil))
			if err != nil || resp.Code != protocol.Success {
				t.Errorf("queued request: %+v, %v", resp, err)
			}
		})
	}
	<-started // one running
	eventually(t, 5*time.Second, "second request queued", func() bool { return len(pool.queue) == 1 })

	begin := time.Now()
	resp, err := cl.Invoke(timeout(t, 2*time.Second), addr, protocol.NewRequest(codeBlock, nil))
	if err != nil {
		t.Fatalf("third request: %v (a full pool must answer, not hang)", err)
	}
	if resp.Code != protocol.SystemBusy || !strings.HasPrefix(resp.Remark, "[OVERLOAD]system busy") {
		t.Fatalf("third request got %+v", resp)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("SYSTEM_BUSY took %v", d)
	}
	close(release)
	wg.Wait()
}

// A panicking handler is answered SYSTEM_ERROR, in a pool or inline, and
// the server, the connection and other connections keep working.
func TestPanickingHandlerAnswersSystemError(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		pool := s.NewPool("p", 2, 16)
		s.Handle(codePanic, pool, func(context.Context, *Conn, *protocol.Command) *protocol.Command { panic("boom") })
		s.Handle(codePanic+100, nil, func(context.Context, *Conn, *protocol.Command) *protocol.Command {
			var m map[string]int
			m["x"] = 1 // a runtime error
			return nil
		})
		s.Handle(codeEcho, pool, echo)
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	for _, code := range []int32{codePanic, codePanic + 100} {
		for range 3 {
			resp, err := cl.Invoke(ctx, addr, protocol.NewRequest(code, nil))
			if err != nil {
				t.Fatalf("code %d: %v", code, err)
			}
			if resp.Code != protocol.SystemError || resp.Remark == "" {
				t.Fatalf("code %d: got %+v", code, resp)
			}
		}
		if err := cl.InvokeOneway(ctx, addr, protocol.NewRequest(code, nil)); err != nil {
			t.Fatal(err)
		}
	}
	req := echoRequest(1)
	resp, err := cl.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, req, resp)
	other := startClient(t)
	req = echoRequest(2)
	if resp, err = other.Invoke(ctx, addr, req); err != nil {
		t.Fatal(err)
	}
	checkEcho(t, req, resp)
}

// A LENGTH over MaxFrame closes the connection at once: the server does not
// wait for (or allocate) the frame. Other connections carry on, and Invoke
// on the closed connection reports why.
func TestOversizedFrameClosesConnection(t *testing.T) {
	closed := make(chan *Conn, 4)
	_, addr := startServer(t, ServerOptions{MaxFrame: 1024, OnClose: func(c *Conn) { closed <- c }}, func(s *Server) {
		s.Handle(codeEcho, nil, echo)
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)
	req := echoRequest(1)
	if _, err := cl.Invoke(ctx, addr, req); err != nil {
		t.Fatal(err)
	}

	// A frame of exactly MaxFrame is fine.
	r := dialRaw(t, addr)
	full := echoRequest(2)
	full.Opaque = 1
	frame, _ := full.AppendFrame(nil)
	full.Body = append(full.Body, make([]byte, 1024+4-len(frame))...)
	r.send(full)
	checkEcho(t, full, r.mustRead())

	// One byte more is not; only the LENGTH is sent.
	r.write(binary.BigEndian.AppendUint32(nil, 1025))
	r.expectClosed(2 * time.Second)
	sc := <-closed
	_, err := sc.Invoke(ctx, protocol.NewRequest(codeEcho, nil))
	if !errors.Is(err, ErrClosed) || !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Fatalf("Invoke on the closed connection: %v, want ErrClosed wrapping ErrFrameTooLarge", err)
	}

	req = echoRequest(3)
	resp, err := cl.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, req, resp)
}

// A malformed frame closes its connection, never panics, and leaves the
// others alone.
func TestMalformedFrameClosesConnection(t *testing.T) {
	raw := func(word uint32, rest string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(4+len(rest)))
		b = binary.BigEndian.AppendUint32(b, word)
		return append(b, rest...)
	}
	frame := func(typ byte, hdr string) []byte { return raw(uint32(typ)<<24|uint32(len(hdr)), hdr) }
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"serialize type 2", frame(2, "{}")},
		{"serialize type 0xFF", frame(0xFF, "{}")},
		{"header length past frame", raw(100, `{"code":1001}`)},
		{"broken json", frame(0, `{"code":1001`)},
		{"json not an object", frame(0, `[1,2]`)},
		{"extFields not an object", frame(0, `{"extFields":"a=b"}`)},
		{"opaque beyond int32", frame(0, `{"opaque":99999999999}`)},
		{"binary remark overrun", frame(1, "\x03\xe9\x09\x01\x3d\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00")},
		{"binary too short", frame(1, "\x03\xe9\x09")},
		{"length zero", []byte{0, 0, 0, 0}},
		{"length below header word", []byte{0, 0, 0, 3, 0, 0, 0}},
		{"negative length", []byte{0xFF, 0xFF, 0xFF, 0xFF}},
	}
	var closes atomic.Int32
	_, addr := startServer(t, ServerOptions{OnClose: func(*Conn) { closes.Add(1) }}, func(s *Server) {
		s.Handle(codeEcho, nil, echo)
	})
	cl := startClient(t)
	ctx := timeout(t, 30*time.Second)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			// A good request first: the connection works until the bad frame.
			good := echoRequest(i)
			good.Opaque = 1
			r.send(good)
			checkEcho(t, good, r.mustRead())
			r.write(tc.bytes)
			r.expectClosed(2 * time.Second)

			req := echoRequest(100 + i)
			resp, err := cl.Invoke(ctx, addr, req)
			if err != nil {
				t.Fatal(err)
			}
			checkEcho(t, req, resp)
		})
	}
	eventually(t, 5*time.Second, "OnClose for every bad connection", func() bool { return int(closes.Load()) == len(cases) })
}

// A connection that sends nothing for IdleTimeout is closed; one that keeps
// talking is not.
func TestIdleTimeoutClosesSilentConnection(t *testing.T) {
	const idle = 200 * time.Millisecond
	_, addr := startServer(t, ServerOptions{IdleTimeout: idle}, func(s *Server) { s.Handle(codeEcho, nil, echo) })

	silent := dialRaw(t, addr)
	busy := dialRaw(t, addr)
	begin := time.Now()
	for i := range 8 { // 8 × 60 ms: well past the idle timeout
		req := echoRequest(i)
		req.Opaque = int32(i)
		busy.send(req)
		checkEcho(t, req, busy.mustRead())
		time.Sleep(60 * time.Millisecond)
	}
	silent.expectClosed(5 * time.Second)
	if d := time.Since(begin); d < idle {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
	req := echoRequest(99)
	busy.send(req)
	checkEcho(t, req, busy.mustRead())
}

// A handler may answer later from another goroutine (long polling): return
// nil, keep the request, call Conn.Reply.
func TestHandlerAnswersLaterWithReply(t *testing.T) {
	type held struct {
		c   *Conn
		req *protocol.Command
	}
	heldCh := make(chan held, 8)
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeSuspend, s.NewPool("pull", 2, 16), func(_ context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			heldCh <- held{c, req}
			return nil
		})
	})
	cl := startClient(t)
	ctx := timeout(t, 10*time.Second)

	const n = 5
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := protocol.NewRequest(codeSuspend, map[string]string{"i": string(rune('a' + i))})
			resp, err := cl.Invoke(ctx, addr, req)
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Code != protocol.PullNotFound || resp.Remark != "late "+req.Ext("i") {
				t.Errorf("request %s got %+v", req.Ext("i"), resp)
			}
		})
	}
	var hs []held
	for range n {
		hs = append(hs, <-heldCh)
	}
	time.Sleep(50 * time.Millisecond)   // they are held
	for i := len(hs) - 1; i >= 0; i-- { // answer in reverse
		h := hs[i]
		if err := h.c.Reply(h.req, protocol.NewResponse(h.req, protocol.PullNotFound, "late "+h.req.Ext("i"))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()

	// Reply on a closed connection fails with ErrClosed.
	hs[0].c.Close()
	if err := hs[0].c.Reply(hs[0].req, protocol.NewResponse(hs[0].req, protocol.Success, "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reply after close: %v", err)
	}
}

// The handler's ctx ends when its connection closes, so a long poll stops.
func TestHandlerContextEndsWithConnection(t *testing.T) {
	running := make(chan struct{})
	stopped := make(chan struct{})
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		s.Handle(codeBlock, s.NewPool("p", 1, 1), func(ctx context.Context, _ *Conn, _ *protocol.Command) *protocol.Command {
			close(running)
			<-ctx.Done()
			close(stopped)
			return nil
		})
	})
	r := dialRaw(t, addr)
	r.send(protocol.NewRequest(codeBlock, nil))
	<-running
	r.Close()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("handler ctx not canceled when the connection closed")
	}
}

// Server.Close returns only when every goroutine it started has: accept
// loops, connection loops, pool workers and the handlers they run.
func TestServerCloseStopsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	var active atomic.Int32
	started := make(chan struct{}, 4)
	srv := NewServer(ServerOptions{})
	pool := srv.NewPool("p", 4, 16)
	srv.Handle(codeEcho, pool, echo)
	srv.Handle(codeBlock, pool, func(ctx context.Context, _ *Conn, req *protocol.Command) *protocol.Command {
		active.Add(1)
		defer active.Add(-1)
		started <- struct{}{}
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // still running when the connection is gone
		return protocol.NewResponse(req, protocol.Success, "")
	})
	a1, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := NewClient(ClientOptions{})
	ctx := timeout(t, 10*time.Second)
	for _, a := range []string{a1.String(), a2.String()} {
		req := echoRequest(1)
		resp, err := cl.Invoke(ctx, a, req)
		if err != nil {
			t.Fatal(err)
		}
		checkEcho(t, req, resp)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := cl.Invoke(ctx, a1.String(), protocol.NewRequest(codeBlock, nil))
			errs <- err
		}()
	}
	<-started
	<-started

	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Server.Close hangs")
	}
	if n := active.Load(); n != 0 {
		t.Fatalf("%d handlers still running after Close returned", n)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("pending Invoke: %v, want ErrClosed", err)
		}
	}
	if _, err := srv.Listen("127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}
	srv.NewPool("late", 2, 2) // starts nothing
	srv.Close()               // again: no-op
	cl.Close()
	if err := settleGoroutines(base, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// OnClose may close the connection itself (or anything that does) without
// deadlocking.
func TestOnCloseMayCloseConn(t *testing.T) {
	called := make(chan struct{}, 4)
	_, addr := startServer(t, ServerOptions{OnClose: func(c *Conn) {
		c.Close()
		called <- struct{}{}
	}}, nil)
	r := dialRaw(t, addr)
	r.write([]byte{0, 0, 0, 0}) // bad frame: the server closes
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose deadlocked")
	}
}

// A HandleQuick route runs on the read goroutine when nothing waits (so it
// is answered while the pool's only worker is busy), queues behind queued
// requests (SYSTEM_BUSY when the queue is full), and its reused frames and
// commands never mix up pipelined requests of every size.
func TestHandleQuick(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var pool *Pool
	_, addr := startServer(t, ServerOptions{}, func(s *Server) {
		pool = s.NewPool("p", 1, 1)
		s.Handle(codeBlock, pool, func(ctx context.Context, c *Conn, req *protocol.Command) *protocol.Command {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return protocol.NewResponse(req, protocol.Success, "")
		})
		s.HandleQuick(codeEcho, pool, echo)
	})
	cl, blocker := startClient(t), startClient(t)
	ctx := timeout(t, 30*time.Second)
	var wg sync.WaitGroup
	block := func() {
		wg.Go(func() {
			resp, err := blocker.Invoke(ctx, addr, protocol.NewRequest(codeBlock, nil))
			if err != nil || resp.Code != protocol.Success {
				t.Errorf("blocking request: %+v, %v", resp, err)
			}
		})
	}
	block()
	<-started // the only worker is busy
	for i := range 3 {
		req := echoRequest(i)
		resp, err := cl.Invoke(ctx, addr, req)
		if err != nil {
			t.Fatalf("quick request with the worker busy: %v", err)
		}
		checkEcho(t, req, resp)
	}
	block()
	eventually(t, 5*time.Second, "second blocking request queued", func() bool { return len(pool.queue) == 1 })
	resp, err := cl.Invoke(ctx, addr, echoRequest(9))
	if err != nil || resp.Code != protocol.SystemBusy {
		t.Fatalf("quick request behind a full queue: %+v, %v", resp, err)
	}
	close(release)
	wg.Wait()

	_, addr = startServer(t, ServerOptions{}, func(s *Server) {
		s.HandleQuick(codeEcho, s.NewPool("q", 4, 10000), echo)
	})
	for g := range 32 {
		wg.Go(func() {
			for i := range 40 {
				req := echoRequest(g*40 + i)
				req.Body = bytes.Repeat(req.Body, rand.IntN(3000))
				resp, err := cl.Invoke(ctx, addr, req)
				if err != nil {
					t.Error(err)
					return
				}
				if resp.Code != protocol.Success || !maps.Equal(resp.ExtFields, req.ExtFields) || !bytes.Equal(resp.Body, req.Body) {
					t.Errorf("request %v (%d bytes) got %d %q %v (%d bytes)", req.ExtFields, len(req.Body), resp.Code, resp.Remark, resp.ExtFields, len(resp.Body))
					return
				}
			}
		})
	}
	wg.Wait()
}
