package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// adminRun runs `quiver admin …` in process and returns its output.
func adminRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"admin"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestTimersSurviveKill9: timers sent with the 4.x client to `quiver serve`
// survive a SIGKILL taken while some are already delivered and the rest
// pending; after a restart each arrives exactly once, none early. `quiver
// admin timer status` reports a pending timer's due time before and its
// delivery after.
func TestTimersSurviveKill9(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds and kills a real process; the client races internally")
	}
	rlog.SetLogLevel("error")
	dir := t.TempDir()
	p1 := startServe(t, dir)
	prod, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{p1.namesrvAddr})),
		producer.WithGroupName("TimerKillPG"), producer.WithRetry(2),
		producer.WithInstanceName(fmt.Sprint("timer-kill-p-", time.Now().UnixNano())),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	const n = 300
	base := time.Now().Add(3 * time.Second).UnixMilli()
	due := map[string]int64{}
	ids := map[string]string{}
	for i := range n {
		body := fmt.Sprintf("tk%03d", i)
		due[body] = base + int64(i)*3000/n
		m := primitive.NewMessage("TimerKillTopic", []byte(body))
		m.WithProperty("TIMER_DELIVER_MS", strconv.FormatInt(due[body], 10))
		r, err := prod.SendSync(context.Background(), m)
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send %s: %v %v", body, r, err)
		}
		ids[body] = r.MsgID
	}
	prod.Shutdown()
	last := "tk299"
	out, err := adminRun(t, "timer", "status", "-n", p1.namesrvAddr, "TimerKillTopic", ids[last])
	wantDue := time.UnixMilli(due[last]).UTC().Format(time.RFC3339Nano)
	if err != nil || !strings.Contains(out, "PENDING") || !strings.Contains(out, wantDue) {
		t.Fatalf("admin timer status before delivery: %v\n%s(want PENDING, due %s)", err, out, wantDue)
	}
	// Kill in the middle of the deliveries.
	time.Sleep(time.Until(time.UnixMilli(base + 1500)))
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.cmd.Wait()

	p2 := startServe(t, dir)
	var mu sync.Mutex
	got := map[string][]*primitive.MessageExt{}
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{p2.namesrvAddr})),
		consumer.WithGroupName("TimerKillCG"),
		consumer.WithInstance(fmt.Sprint("timer-kill-c-", time.Now().UnixNano())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	pc.Subscribe("TimerKillTopic", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got[string(m.Body)] = append(got[string(m.Body)], m)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		have := len(got)
		mu.Unlock()
		if have == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d timers arrived after SIGKILL and restart", have, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second copy would show up now
	mu.Lock()
	for body, ms := range got {
		if len(ms) != 1 {
			// Different queue offsets mean two stored copies, not a
			// consumer-side redelivery of one.
			offs := map[string]bool{}
			for _, m := range ms {
				offs[fmt.Sprint(m.Queue.QueueId, "/", m.QueueOffset)] = true
			}
			if len(offs) > 1 {
				t.Errorf("%s stored %d times", body, len(offs))
			}
		}
		if ms[0].StoreTimestamp < due[body] {
			t.Errorf("%s delivered %d ms early", body, due[body]-ms[0].StoreTimestamp)
		}
	}
	mu.Unlock()
	out, err = adminRun(t, "timer", "status", "-n", p2.namesrvAddr, "TimerKillTopic", ids[last])
	if err != nil || !strings.Contains(out, "DELIVERED") {
		t.Fatalf("admin timer status after delivery: %v\n%s", err, out)
	}
}

func TestAdminTimerDeliverTime(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		at   string
		in   time.Duration
		want int64
		ok   bool
	}{
		{"", 90 * time.Second, 1_700_000_090_000, true},
		{"1700000123456", 0, 1_700_000_123_456, true},
		{"2023-11-14T22:13:20Z", 0, 1_700_000_000_000, true},
		{"tomorrow", 0, 0, false},
		{"", 0, 0, false},
		{"1", time.Second, 0, false},
	} {
		got, err := deliverTime(tc.at, tc.in, now)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("deliverTime(%q, %v) = %d, %v", tc.at, tc.in, got, err)
		}
	}
}
