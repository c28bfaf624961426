package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/server"
)

func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.Start(server.Options{
		DataDir: t.TempDir(), NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0",
		Broker: func(o *broker.Options) {
			o.Store.SegmentSize = 64 << 20
			o.Store.IndexSlots = 10_000
			o.Store.IndexEntries = 40_000
			o.Store.WarmSegments = false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestProduceThenConsumeGetsEveryMessage(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := FreshTopic("t")
	tgt, err := Prepare(ctx, s.NamesrvAddr(), topic, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(tgt.Queues) != 8 {
		t.Fatalf("route has %d queues, want 8", len(tgt.Queues))
	}
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Count, c.Producers, c.Window = s.NamesrvAddr(), topic, "produce", 1000, 2, 8
	p, err := Produce(ctx, c, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Msgs != 1000 || p.Errors != 0 || p.P50Us <= 0 || p.MaxUs < p.P99Us || p.MsgsPerSec <= 0 {
		t.Fatalf("produce result %+v", p)
	}
	for _, every := range []int{0, 100} {
		cc := c
		cc.Name, cc.Group, cc.CommitEvery, cc.Count = "consume", FreshTopic("g"), every, 0 // drain until empty
		r, err := Consume(ctx, cc, tgt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Msgs != p.Msgs || r.Committed == nil || *r.Committed != p.Msgs {
			t.Fatalf("commit every %d: consumed %d, committed %d, produced %d", every, r.Msgs, *r.Committed, p.Msgs)
		}
	}
}

func TestE2EPacedReceivesEverythingProduced(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Rate, c.Duration, c.Window, c.Warmup = s.NamesrvAddr(), FreshTopic("e"), "e2e", 2000, 500*time.Millisecond, 16, 100*time.Millisecond
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		t.Fatal(err)
	}
	r, err := E2E(ctx, c, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Produced == nil || *r.Produced < 1000 || r.Msgs != *r.Produced || *r.Committed != r.Msgs {
		t.Fatalf("e2e: %s", r.Summary())
	}
	if r.P50Us <= 0 || r.SentP50Us == nil || r.LateSends == nil {
		t.Fatalf("e2e latency missing: %+v", r)
	}
}

func TestWorkloadsSmall(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := WorkloadOptions{Namesrv: s.NamesrvAddr(), Count: 500, Duration: 5 * time.Second}
	for _, name := range []string{"W1", "W2", "W2p"} {
		rs, err := Workload(ctx, name, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if last := rs[len(rs)-1]; last.Workload != name || last.Msgs != 500 {
			t.Fatalf("%s: %+v", name, last)
		}
	}
	rs, err := Workload(ctx, "W3", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].Workload != "W3:fill" || rs[1].Workload != "W3b" || rs[2].Workload != "W3" {
		t.Fatalf("W3 results %+v", rs)
	}
	for _, r := range rs {
		if r.Msgs != 500 {
			t.Fatalf("%s: %d msgs, want 500", r.Workload, r.Msgs)
		}
	}
	if *rs[2].Committed != 500 || *rs[1].Committed != 500 {
		t.Fatalf("committed %d / %d, want 500", *rs[2].Committed, *rs[1].Committed)
	}
	for _, name := range []string{"W6b", "W7", "W8"} {
		if _, err := Workload(ctx, name, o); !errors.Is(err, ErrNotImplemented) {
			t.Fatalf("%s: %v, want ErrNotImplemented", name, err)
		}
	}
	if _, err := Workload(ctx, "W9", o); !errors.Is(err, ErrUnknownWorkload) {
		t.Fatalf("W9: %v", err)
	}
}
