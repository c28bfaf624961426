package remoting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// TestMain fails the run when goroutines outlive the tests: every test
// closes what it started, and Close must wait for what it owns.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := settleGoroutines(base, 10*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// settleGoroutines waits until at most n goroutines run.
func settleGoroutines(n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines running, want at most %d:\n%s", got, n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Request codes the tests route. Real codes are used where the behaviour
// is the one RocketMQ gives them.
const (
	codeEcho    int32 = 1001 // answered at once with the request's ext and body
	codeSuspend int32 = 1002 // held: the test answers with Conn.Reply
	codePanic   int32 = 1003
	codeBlock   int32 = 1004 // blocks until released or the connection closes
)

func echo(_ context.Context, _ *Conn, req *protocol.Command) *protocol.Command {
	resp := protocol.NewResponse(req, protocol.Success, "")
	resp.ExtFields = maps.Clone(req.ExtFields)
	resp.Body = req.Body
	return resp
}

func echoRequest(i int) *protocol.Command {
	req := protocol.NewRequest(codeEcho, map[string]string{"i": fmt.Sprint(i)})
	req.Body = fmt.Appendf(nil, "body-%d", i)
	return req
}

func checkEcho(t testing.TB, req, resp *protocol.Command) {
	t.Helper()
	if !resp.IsResponse() || resp.Code != protocol.Success || resp.Opaque != req.Opaque ||
		!maps.Equal(resp.ExtFields, req.ExtFields) || !bytes.Equal(resp.Body, req.Body) {
		t.Errorf("request %+v got response %+v", req, resp)
	}
}

// startServer listens on a free loopback port; the server closes when the
// test ends.
func startServer(t testing.TB, opts ServerOptions, setup func(*Server)) (*Server, string) {
	t.Helper()
	s := NewServer(opts)
	if setup != nil {
		setup(s)
	}
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr.String()
}

func startClient(t testing.TB) *Client {
	cl := NewClient(ClientOptions{})
	t.Cleanup(func() { cl.Close() })
	return cl
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is a plain TCP connection that speaks frames by hand, to send
// what a well-behaved Conn would not and to see exactly what comes back.
type rawConn struct {
	t testing.TB
	net.Conn
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t, nc}
}

func (r *rawConn) send(cmd *protocol.Command) {
	r.t.Helper()
	frame, err := cmd.AppendFrame(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(frame)
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// read reads one frame, or fails with a timeout error.
func (r *rawConn) read(within time.Duration) (*protocol.Command, error) {
	r.SetReadDeadline(time.Now().Add(within))
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n, err := protocol.DecodeLength(l, protocol.DefaultMaxFrame)
	if err != nil {
		return nil, err
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return protocol.Decode(frame)
}

func (r *rawConn) mustRead() *protocol.Command {
	r.t.Helper()
	c, err := r.read(5 * time.Second)
	if err != nil {
		r.t.Fatalf("read frame: %v", err)
	}
	return c
}

// expectSilence checks that nothing arrives for a while.
func (r *rawConn) expectSilence(d time.Duration) {
	r.t.Helper()
	c, err := r.read(d)
	if err == nil {
		r.t.Fatalf("unexpected frame %+v", c)
	}
	if !isTimeout(err) {
		r.t.Fatalf("connection failed while waiting: %v", err)
	}
}

// expectClosed checks that the peer closes the connection within d,
// sending nothing first.
func (r *rawConn) expectClosed(d time.Duration) {
	r.t.Helper()
	r.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	n, err := r.Read(b[:])
	if n > 0 {
		r.t.Fatalf("got data %x, want the connection closed", b[:n])
	}
	if err == nil || isTimeout(err) {
		r.t.Fatalf("connection still open after %v (%v)", d, err)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		r.t.Fatalf("read error %v, want EOF or reset", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *Conn) pendingCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}
