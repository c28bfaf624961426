package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProxyCommandStartsAndStops: `quiver proxy` listens, says where, and
// stops when its context ends.
func TestProxyCommandStartsAndStops(t *testing.T) {
	var out syncBuffer
	root := newRootCmd(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"proxy", "--namesrv", "127.0.0.1:1", "--listen", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "quiver: proxy on 127.0.0.1:") {
		if time.Now().After(deadline) {
			t.Fatalf("no ready line in %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop")
	}
}
