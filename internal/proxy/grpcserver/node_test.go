package grpcserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// TestNodePushConsumerAgainstPopContract: the Node.js PushConsumer and
// SimpleConsumer
// (QueryAssignment, auto-renew receives with attempt ids, acks) consumes
// through the service from a broker that speaks the Java Pop contract.
// The Node.js producer sends the messages first (plaintext gRPC).
func TestNodePushConsumerAgainstPopContract(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; scripts/test.sh installs it under CI")
		}
		t.Skip("node is not installed: skipping the Node.js client test")
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "test", "node"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "rocketmq-client-nodejs")); err != nil {
		t.Skip("test/node/node_modules is missing (scripts/test.sh runs npm ci; the server tests do too)")
	}
	fb := startFakeBroker(t)
	svc := New(DefaultOptions(fb.addr))
	svc.Start()
	gs := grpc.NewServer()
	svc.Register(gs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	defer func() {
		gs.Stop()
		svc.Close()
	}()
	run := func(script string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	const n = 15
	if out := run("producer.js", ln.Addr().String(), "TopicNode", fmt.Sprint(n), "node"); !strings.Contains(out, fmt.Sprintf("sent %d", n)) {
		t.Fatalf("producer: %s", out)
	}
	if out := run("push.js", ln.Addr().String(), "CG_Node", "TopicNode", fmt.Sprint(n), "30000"); !strings.Contains(out, fmt.Sprintf("received %d ", n)) {
		t.Fatalf("push consumer: %s", out)
	}
	// The SimpleConsumer (long_polling_timeout from the newer apis) reads
	// what the producer sends next.
	if out := run("producer.js", ln.Addr().String(), "TopicNode", fmt.Sprint(n), "simple"); !strings.Contains(out, fmt.Sprintf("sent %d", n)) {
		t.Fatalf("producer: %s", out)
	}
	if out := run("simple.js", ln.Addr().String(), "CG_Node", "TopicNode", fmt.Sprint(n), "30000"); !strings.Contains(out, fmt.Sprintf("received %d ", n)) {
		t.Fatalf("simple consumer: %s", out)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.acks) != 2*n {
		t.Fatalf("%d messages acked, want %d", len(fb.acks), 2*n)
	}
}
