package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
)

// nodeDir is where the Node.js test scripts and their node_modules live.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "test", "node"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireNode finds node and the rocketmq-client-nodejs package (running
// npm ci when it is missing). It skips only when node itself is absent
// outside CI; under CI (CI=true) a missing node fails the test.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; scripts/test.sh installs nodejs and npm under CI")
		}
		t.Skip("node is not installed: skipping the Node.js client tests (apt-get install nodejs npm)")
	}
	dir := nodeDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "rocketmq-client-nodejs")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	return node
}

// runNode runs a script of test/node and returns its output.
func runNode(t *testing.T, node string, timeout time.Duration, script string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = nodeDir(t)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // the client logs under $HOME
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestProxyNodeProducer: the Node.js client (plaintext gRPC) sends through
// the proxy; the 4.x client reads the messages.
func TestProxyNodeProducer(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		node := requireNode(t)
		const topic, n = "TopicNodeSend", 20
		e.createTopic(t, topic)
		out, err := runNode(t, node, 60*time.Second, "producer.js", e.proxy, topic, fmt.Sprint(n), "node")
		if err != nil || !strings.Contains(out, fmt.Sprintf("sent %d", n)) {
			t.Fatalf("node producer: %v\n%s", err, out)
		}
		c := e.remotingConsumer(t, "CG_NodeSend", topic)
		c.waitDistinct(t, n, 30*time.Second)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range c.all {
			if m.GetTags() != "node" || !strings.HasPrefix(string(m.Body), "node-") {
				t.Fatalf("message %v", m)
			}
		}
	})
}

// TestProxyNodePushConsumer: the Node.js PushConsumer, then the Node.js
// SimpleConsumer, consume what the Go 5.x producer sent.
func TestProxyNodePushConsumer(t *testing.T) {
	t.Parallel()
	forBothModes(t, func(t *testing.T, e *proxyEnv) {
		e.requirePop(t)
		node := requireNode(t)
		const topic, group, n = "TopicNodePush", "CG_NodePush", 20
		e.createTopic(t, topic)
		e.createGroup(t, group, false)
		type result struct {
			out string
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, err := runNode(t, node, 90*time.Second, "push.js", e.proxy, group, topic, fmt.Sprint(n), "60000")
			done <- result{out, err}
		}()
		// Send after the consumer has had time to start; sends keep coming
		// until it has them all or gives up.
		p := e.v5Producer(t, nil, topic)
		time.Sleep(time.Second)
		for i := range n {
			if _, err := p.Send(context.Background(), &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("push-%d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		r := <-done
		if r.err != nil || !strings.Contains(r.out, fmt.Sprintf("received %d ", n)) {
			t.Fatalf("node push consumer: %v\n%s", r.err, r.out)
		}
		t.Log(strings.TrimSpace(r.out))
		// The Node SimpleConsumer of the same group reads what comes next.
		for i := range n {
			if _, err := p.Send(context.Background(), &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("simple-%d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := runNode(t, node, 60*time.Second, "simple.js", e.proxy, group, topic, fmt.Sprint(n), "40000")
		if err != nil || !strings.Contains(out, fmt.Sprintf("received %d ", n)) {
			t.Fatalf("node simple consumer: %v\n%s", err, out)
		}
	})
}
