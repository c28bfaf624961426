package bench

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/server"
)

func startServer(t *testing.T) *server.Server { return startServerProxy(t, "") }

// startServerProxy starts a server, with a gRPC proxy on proxyAddr unless
// it is "".
func startServerProxy(t *testing.T, proxyAddr string) *server.Server {
	t.Helper()
	s, err := server.Start(server.Options{
		DataDir: t.TempDir(), NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0", ProxyAddr: proxyAddr,
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
	// A drain until empty stops at queues that look empty for 50 ms: wait
	// for the dispatcher first (on a loaded machine it can lag the acks
	// longer).
	if n := stored(s, topic, 8, 1000); n != 1000 {
		t.Fatalf("stored %d of 1000", n)
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
	if len(rs) != 4 || rs[0].Workload != "W3:fill" || rs[1].Workload != "W3b" || rs[2].Workload != "W3:pop" || rs[3].Workload != "W3" {
		t.Fatalf("W3 results %+v", rs)
	}
	for _, r := range rs {
		if r.Msgs != 500 || r.Errors != 0 {
			t.Fatalf("%s: %d msgs, %d errors, want 500 and none", r.Workload, r.Msgs, r.Errors)
		}
	}
	if *rs[3].Committed != 500 || *rs[1].Committed != 500 || *rs[2].Committed != 500 {
		t.Fatalf("committed %d / %d / %d, want 500", *rs[3].Committed, *rs[1].Committed, *rs[2].Committed)
	}
	if pr := rs[2]; pr.Batch != PopBatch || pr.Missing == nil || *pr.Missing != 0 || pr.Duplicates == nil || *pr.Duplicates != 0 || pr.P50Us <= 0 {
		t.Fatalf("W3:pop: %s", pr.Summary())
	}
	if _, err := Workload(ctx, "W7", o); err == nil || !strings.Contains(err.Error(), "--proxy") {
		t.Fatalf("W7 without a proxy address: %v", err)
	}
	if _, err := Workload(ctx, "W6a", o); err == nil {
		t.Fatal("W6a ran without a broker pid")
	}
	if _, err := Workload(ctx, "W9", o); !errors.Is(err, ErrUnknownWorkload) {
		t.Fatalf("W9: %v", err)
	}
}

// stored sums topic's messages over its queues in the broker's store,
// waiting up to 10 s for the dispatcher to reach want (consume queues are
// written after the ack).
func stored(s *server.Server, topic string, queues int, want int64) int64 {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int64
		for q := range int32(queues) {
			n += s.Broker().Store().MaxOffset(topic, q)
		}
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestW7SendsW1AndW2pOverBothTransportsInterleaved(t *testing.T) {
	s := startServerProxy(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := WorkloadOptions{Namesrv: s.NamesrvAddr(), Proxy: s.ProxyAddr(), Count: 300, Duration: 10 * time.Second, Reps: 2}
	rs, err := Workload(ctx, "W7", o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"W7:W1:remoting", "W7:W1:grpc", "W7:W2p:remoting", "W7:W2p:grpc"}
	if len(rs) != 2*len(want)+1 {
		t.Fatalf("W7: %d results, want %d", len(rs), 2*len(want)+1)
	}
	topics := map[string]bool{}
	for i, r := range rs[:len(rs)-1] {
		if r.Workload != want[i%len(want)] {
			t.Fatalf("result %d is %s, want %s (interleaved)", i, r.Workload, want[i%len(want)])
		}
		tr := strings.Split(r.Workload, ":")[2]
		if r.Transport != tr || r.Msgs != 300 || r.Errors != 0 || r.P50Us <= 0 {
			t.Fatalf("%s: %s", r.Workload, r.Summary())
		}
		if topics[r.Topic] {
			t.Fatalf("%s reused topic %s", r.Workload, r.Topic)
		}
		topics[r.Topic] = true
		// Acked means stored: the broker's queues hold every message.
		if n := stored(s, r.Topic, 8, 300); n != 300 {
			t.Fatalf("%s: topic %s holds %d messages, want 300", r.Workload, r.Topic, n)
		}
		if strings.HasPrefix(r.Workload, "W7:W2p") && r.Window != 256 {
			t.Fatalf("%s: window %d, want 256", r.Workload, r.Window)
		}
	}
	head := rs[len(rs)-1]
	if head.Workload != "W7" || head.Of != "W7:W2p:grpc" || head.Transport != TransportGRPC || head.Msgs != 300 || head.GRPC == nil {
		t.Fatalf("W7 headline: %+v", head)
	}
	g := head.GRPC
	if g.Reps != 2 || g.W1MsgsPerSec <= 0 || g.W2pMsgsPerSec <= 0 || g.W1P50 <= 0 || g.W2pP99 <= 0 {
		t.Fatalf("W7 ratios: %+v", *g)
	}

	// A proxy that is not there is a clear error, not a run of failures.
	o.Proxy, o.Reps = "127.0.0.1:1", 1
	rs, err = Workload(ctx, "W7", o)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "W7:W1:grpc") {
		t.Fatalf("W7 with no proxy at 127.0.0.1:1: %v", err)
	}
	if len(rs) != 1 || rs[0].Workload != "W7:W1:remoting" {
		t.Fatalf("W7 with no proxy: results %+v", rs)
	}
	for _, bad := range []string{"", "localhost", "127.0.0.1:x"} {
		o.Proxy = bad
		if _, err := Workload(ctx, "W7", o); err == nil || !strings.Contains(err.Error(), "proxy") {
			t.Fatalf("W7 with proxy %q: %v", bad, err)
		}
	}
}

func TestProduceGRPCCountsRefusedSendsAsErrors(t *testing.T) {
	s := startServerProxy(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Count, c.Producers, c.Window = s.NamesrvAddr(), FreshTopic("g"), "produce", 200, 2, 8
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Bodies over the proxy's limit are refused with MESSAGE_BODY_TOO_LARGE:
	// every send fails, none counts as acked.
	big := c
	big.Size, big.Count = 5<<20, 20
	r, err := ProduceGRPC(ctx, big, s.ProxyAddr(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Msgs != 0 || r.Errors != 20 || !strings.Contains(r.FirstError, "MESSAGE_BODY_TOO_LARGE") {
		t.Fatalf("oversized sends: %s", r.Summary())
	}
	r, err = ProduceGRPC(ctx, c, s.ProxyAddr(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if n := stored(s, tgt.Topic, 8, 200); r.Msgs != 200 || r.Errors != 0 || r.Transport != TransportGRPC || n != 200 {
		t.Fatalf("gRPC produce: %s; stored %d", r.Summary(), n)
	}
}

func TestGRPCProduceThenConsumeGetsEveryMessage(t *testing.T) {
	s := startServerProxy(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Count, c.Window = s.NamesrvAddr(), FreshTopic("gc"), "produce", 500, 16
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ProduceGRPC(ctx, c, s.ProxyAddr(), tgt); err != nil || p.Msgs != 500 || p.Errors != 0 {
		t.Fatalf("produce: %v %s", err, p.Summary())
	}
	if n := stored(s, tgt.Topic, 8, 500); n != 500 {
		t.Fatalf("stored %d of 500", n)
	}
	// Every message acked on its own, then a second group acking per batch
	// and draining until nothing more is found.
	for _, cc := range []struct {
		every, count int
	}{{1, 500}, {0, 0}} {
		cfg := c
		cfg.Name, cfg.Group, cfg.CommitEvery, cfg.Count, cfg.Duration = "consume", FreshTopic("g"), cc.every, cc.count, 20*time.Second
		r, err := ConsumeGRPC(ctx, cfg, s.ProxyAddr(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Msgs != 500 || r.Errors != 0 || r.Committed == nil || *r.Committed != 500 || r.Transport != TransportGRPC {
			t.Fatalf("ack every %d: %s", cc.every, r.Summary())
		}
	}
}

func TestGRPCE2EReceivesEverythingProduced(t *testing.T) {
	s := startServerProxy(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Rate, c.Duration, c.Window, c.Warmup = s.NamesrvAddr(), FreshTopic("ge"), "e2e", 1000, 500*time.Millisecond, 16, 100*time.Millisecond
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		t.Fatal(err)
	}
	r, err := E2EGRPC(ctx, c, s.ProxyAddr(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Produced == nil || *r.Produced < 500 || r.Msgs != *r.Produced || *r.Committed != r.Msgs || r.Errors != 0 {
		t.Fatalf("e2e: %s", r.Summary())
	}
	if r.P50Us <= 0 || r.SentP50Us == nil || r.LateSends == nil {
		t.Fatalf("e2e latency missing: %+v", r)
	}
}

func TestManyTopicsCreatesEveryTopicAndSpreadsTheMessages(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := Workload(ctx, "W6b", WorkloadOptions{Namesrv: s.NamesrvAddr(), Topics: 30, Count: 600, BrokerPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Workload != "W6b:create" || rs[1].Workload != "W6b" {
		t.Fatalf("W6b results %+v", rs)
	}
	if *rs[0].Topics != 30 || rs[0].MsgsPerSec <= 0 || rs[1].Msgs != 600 || rs[1].RSS == nil || rs[1].RSS.RssAnon <= 0 {
		t.Fatalf("W6b: %s / %s", rs[0].Summary(), rs[1].Summary())
	}
	// Round-robin: every topic got 600/30 = 20 messages, 5 in each queue.
	topic := strings.TrimSuffix(rs[1].Topic, "*")
	for _, name := range []string{topic + "00000", topic + "00029"} {
		for q := range int32(4) {
			if n := s.Broker().Store().MaxOffset(name, q); n != 5 {
				t.Fatalf("%s queue %d holds %d messages, want 5", name, q, n)
			}
		}
	}
}

func TestTimerMessagesArriveOnTime(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := Workload(ctx, "W8", WorkloadOptions{Namesrv: s.NamesrvAddr(), Count: 400, Spread: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Workload != "W8:enqueue" || rs[1].Workload != "W8" {
		t.Fatalf("W8 results %+v", rs)
	}
	enq, w8 := rs[0], rs[1]
	if enq.Msgs != 400 || w8.Msgs != 400 || *w8.Early != 0 || *w8.Missing != 0 || *w8.Duplicates != 0 {
		t.Fatalf("W8: %s / %s", enq.Summary(), w8.Summary())
	}
	// Delays spread over 2 s: the run lasts about that long, and a timer
	// is never early, so the latest arrival is at least the spread after
	// the first send minus the enqueue time.
	if w8.Seconds < 1.5 {
		t.Fatalf("timer messages over 2 s all arrived within %.2fs", w8.Seconds)
	}
}

func TestTimerOffsetsAreUniformAndRepeatable(t *testing.T) {
	const n, spread = 60_000, 60 * time.Second
	var buckets [60]int
	for i := range int64(n) {
		d := timerOffset(i, spread)
		if d < 0 || d >= spread || d%time.Millisecond != 0 {
			t.Fatalf("offset %d = %v outside [0, %v) or not whole ms", i, d, spread)
		}
		if d != timerOffset(i, spread) {
			t.Fatal("offsets differ between calls")
		}
		buckets[d/time.Second]++
	}
	for s, c := range buckets {
		if c < 800 || c > 1200 { // expect 1000 per second
			t.Fatalf("second %d holds %d of %d offsets", s, c, n)
		}
	}
}

func TestSeenCountsEachNumberOnce(t *testing.T) {
	s := newSeen(130)
	for _, i := range []int64{0, 63, 64, 129} {
		if !s.add(i) || s.add(i) {
			t.Fatalf("%d: first add not new or second add new", i)
		}
	}
	if s.add(130) || s.add(-1) {
		t.Fatal("out-of-range numbers accepted")
	}
}

// Benchmarks of the W-suite paths with broker and load generator in one
// process (profile with -cpuprofile; numbers go in notes, never in
// assertions). b.N is the message count.
func benchServer(b *testing.B) *server.Server {
	b.Helper()
	s, err := server.Start(server.Options{
		DataDir: b.TempDir(), NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0",
		Broker: func(o *broker.Options) { o.Store.SegmentSize = 256 << 20 },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchProduce(b *testing.B, producers, window int) {
	s := benchServer(b)
	ctx := context.Background()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Producers, c.Window = s.NamesrvAddr(), FreshTopic("b"), "bench", producers, window
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		b.Fatal(err)
	}
	c.Count, c.Duration = b.N, time.Hour
	b.SetBytes(int64(c.Size))
	b.ResetTimer()
	r, err := Produce(ctx, c, tgt)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.MsgsPerSec, "msg/s")
}

func BenchmarkProduceW1(b *testing.B)  { benchProduce(b, 1, 1) }
func BenchmarkProduceW2(b *testing.B)  { benchProduce(b, 8, 1) }
func BenchmarkProduceW2p(b *testing.B) { benchProduce(b, 1, 256) }

// BenchmarkConsumeW3 drains b.N messages, acknowledging each (W3).
func BenchmarkConsumeW3(b *testing.B) { benchConsume(b, 1) }

// BenchmarkConsumeW3b drains b.N messages, committing every 100 (W3b).
func BenchmarkConsumeW3b(b *testing.B) { benchConsume(b, 100) }

func benchConsume(b *testing.B, every int) {
	s := benchServer(b)
	ctx := context.Background()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Window, c.Count, c.Duration = s.NamesrvAddr(), FreshTopic("b"), "fill", 256, b.N, time.Hour
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Produce(ctx, c, tgt); err != nil {
		b.Fatal(err)
	}
	c.Name, c.Group, c.CommitEvery = "drain", FreshTopic("g"), every
	b.SetBytes(int64(c.Size))
	b.ResetTimer()
	r, err := Consume(ctx, c, tgt)
	if err != nil {
		b.Fatal(err)
	}
	if r.Msgs != int64(b.N) {
		b.Fatalf("consumed %d of %d", r.Msgs, b.N)
	}
	b.ReportMetric(r.MsgsPerSec, "msg/s")
}

func TestUniqKeysLookLikeRocketMQClientIDs(t *testing.T) {
	u := newUniqIDs()
	now := time.Now()
	seen := map[string]bool{}
	for range 1000 {
		p := string(u.appendProperty(nil, now))
		id, ok := strings.CutPrefix(p, "UNIQ_KEY\x01")
		id, ok2 := strings.CutSuffix(id, "\x02")
		if !ok || !ok2 || len(id) != 32 || strings.ToUpper(id) != id || seen[id] {
			t.Fatalf("property %q: not UNIQ_KEY=<32 upper-case hex digits, unique>", p)
		}
		seen[id] = true
	}
}

// TestPopConsumeCountsWhatItMisses: a pop drain receives and acknowledges
// every message once; a second drain of the same backlog by another
// consumer group, after 32 messages were popped by someone else of that
// group and never acknowledged, reports those 32 as missing and the
// consume offset held back by them, as errors.
func TestPopConsumeCountsWhatItMisses(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Namesrv, c.Topic, c.Name, c.Count, c.Window = s.NamesrvAddr(), FreshTopic("p"), "fill", 300, 16
	tgt, err := Prepare(ctx, c.Namesrv, c.Topic, 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Produce(ctx, c, tgt); err != nil {
		t.Fatal(err)
	}
	if n := stored(s, c.Topic, 8, 300); n != 300 {
		t.Fatalf("stored %d of 300", n)
	}
	pc := c
	pc.Name, pc.Group = "W3:pop", FreshTopic("g")
	r, err := PopConsume(ctx, pc, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Msgs != 300 || r.Errors != 0 || deref(r.Committed) != 300 || deref(r.Missing) != 0 || r.Duplicates == nil || *r.Duplicates != 0 {
		t.Fatalf("pop drain: %s", r.Summary())
	}

	pc.Group, pc.Duration = FreshTopic("g"), time.Second
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	conn, err := cl.Conn(ctx, tgt.Queues[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	req := popRequest(pc.Group, tgt.Topic)
	req.ExtFields["bornTime"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
	resp, err := expect(protocol.PopMessage, protocol.Success)(conn.Invoke(ctx, req))
	if err != nil {
		t.Fatal(err)
	}
	var taken int64
	for b := resp.Body; len(b) > 0; taken++ {
		_, n, err := message.Decode(b, false)
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	r, err = PopConsume(ctx, pc, tgt)
	if err == nil || deref(r.Missing) != taken || r.Msgs != 300-taken || r.Errors < taken+1 || deref(r.Committed) >= 300 {
		t.Fatalf("a drain missing %d messages: %s; err %v", taken, r.Summary(), err)
	}
}

func TestPopReceivedBits(t *testing.T) {
	p := &popper{seen: map[Queue][]uint64{}, rec: &recorder{}}
	q := Queue{Addr: "a", ID: 1}
	for _, off := range []int64{0, 1, 63, 64, 200, 1, 64} {
		p.mark(q, off)
	}
	if p.distinct.Load() != 5 || p.dups != 2 {
		t.Fatalf("distinct %d, duplicates %d; want 5, 2", p.distinct.Load(), p.dups)
	}
	for _, c := range []struct{ max, want int64 }{{0, 0}, {1, 1}, {2, 2}, {64, 3}, {65, 4}, {200, 4}, {201, 5}, {1000, 5}} {
		if got := received(p.seen[q], c.max); got != c.want {
			t.Errorf("received below %d: %d, want %d", c.max, got, c.want)
		}
	}
}
