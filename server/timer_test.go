package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/timer"
)

// arrivals records, per body, when a push consumer received it and the
// message's deliver time.
type arrivals struct {
	mu   sync.Mutex
	recv map[string][]int64
	msgs map[string]*primitive.MessageExt
}

func newArrivals() *arrivals {
	return &arrivals{recv: map[string][]int64{}, msgs: map[string]*primitive.MessageExt{}}
}

func (a *arrivals) handle(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	now := time.Now().UnixMilli()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range msgs {
		a.recv[string(m.Body)] = append(a.recv[string(m.Body)], now)
		a.msgs[string(m.Body)] = m
	}
	return consumer.ConsumeSuccess, nil
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.recv)
}

// sendTimer sends one message with TIMER_DELIVER_MS through the 4.x client.
func sendTimer(t *testing.T, p interface {
	SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error)
}, topic, body string, at int64) *primitive.SendResult {
	t.Helper()
	m := primitive.NewMessage(topic, []byte(body))
	m.WithProperty("TIMER_DELIVER_MS", strconv.FormatInt(at, 10))
	r, err := p.SendSync(context.Background(), m)
	if err != nil || r.Status != primitive.SendOK {
		t.Fatalf("send %s: %v %v", body, r, err)
	}
	return r
}

// TestTimerMessageWithGoClient: a message sent by rocketmq-client-go/v2
// with TIMER_DELIVER_MS reaches a push consumer at its time: not before,
// and within one precision step (1 s) after.
func TestTimerMessageWithGoClient(t *testing.T) {
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGTimer")
	a := newArrivals()
	newPushConsumerFunc(t, s, "CGTimer", "TopicTimer", a.handle)
	at := time.Now().Add(3 * time.Second).UnixMilli()
	sendTimer(t, p, "TopicTimer", "timer-1", at)
	sendTimer(t, p, "TopicTimer", "timer-2", at+1500)
	waitFor(t, 15*time.Second, "both timers", func() bool { return a.count() == 2 })
	for body, due := range map[string]int64{"timer-1": at, "timer-2": at + 1500} {
		a.mu.Lock()
		got, m := a.recv[body], a.msgs[body]
		a.mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("%s received %d times", body, len(got))
		}
		if got[0] < due {
			t.Errorf("%s received %d ms early", body, due-got[0])
		}
		if m.StoreTimestamp < due || m.StoreTimestamp-due >= 1000 {
			t.Errorf("%s stored in its topic at %+d ms of its time (precision 1 s)", body, m.StoreTimestamp-due)
		}
		if m.GetProperty("TIMER_DELIVER_MS") != strconv.FormatInt(due, 10) || m.Topic != "TopicTimer" {
			t.Errorf("%s: topic %s, properties %v", body, m.Topic, m.GetProperties())
		}
	}
}

// TestTenThousandTimersOverTenSeconds: 10,000 timers spread over 10 s all
// arrive, each once, none before its time and each within a second.
func TestTenThousandTimersOverTenSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of timers")
	}
	s := startServer(t, Options{})
	p := newProducer(t, s, "PGTimer10k")
	a := newArrivals()
	newPushConsumerFunc(t, s, "CGTimer10k", "TopicTimer10k", a.handle)
	const n = 10_000
	base := time.Now().Add(4 * time.Second).UnixMilli()
	due := make(map[string]int64, n)
	for i := range n {
		due[fmt.Sprintf("t%05d", i)] = base + int64(i)*10_000/n
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				body := fmt.Sprintf("t%05d", i)
				m := primitive.NewMessage("TopicTimer10k", []byte(body))
				m.WithProperty("TIMER_DELIVER_MS", strconv.FormatInt(due[body], 10))
				if r, err := p.SendSync(context.Background(), m); err != nil || r.Status != primitive.SendOK {
					errs <- fmt.Errorf("send %s: %v %v", body, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if sent := time.Now().UnixMilli(); sent > base {
		t.Fatalf("sending took until %d ms past the first timer; the test needs a faster machine", sent-base)
	}
	waitFor(t, 30*time.Second, "all 10,000 timers", func() bool { return a.count() == n })
	time.Sleep(500 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	late := 0
	for body, at := range due {
		got, m := a.recv[body], a.msgs[body]
		if len(got) != 1 {
			t.Errorf("%s received %d times", body, len(got))
			continue
		}
		if got[0] < at || m.StoreTimestamp < at {
			t.Errorf("%s early: received %+d ms, stored %+d ms of its time", body, got[0]-at, m.StoreTimestamp-at)
		}
		if m.StoreTimestamp-at >= 1000 {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d of %d timers stored more than one precision step (1 s) after their time", late, n)
	}
}

// newPushConsumerFunc creates topic (8 queues) and waits for its route,
// then starts a push consumer calling f.
func newPushConsumerFunc(t *testing.T, s *Server, group, topic string, f func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error)) rocketmq.PushConsumer {
	t.Helper()
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	adminCall(t, cl, s.BrokerAddr(), protocol.NewRequest(protocol.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "readQueueNums": "8", "writeQueueNums": "8", "perm": "6",
	}), protocol.Success)
	waitFor(t, 40*time.Second, "the topic's route", func() bool {
		r, err := cl.Invoke(context.Background(), s.NamesrvAddr(), protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}))
		return err == nil && r.Code == protocol.Success
	})
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		consumer.WithGroupName(group),
		consumer.WithInstance(uniqueInstance(t, group)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, f); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	return pc
}

// adminCall sends a request to the broker and fails the test unless the
// response code is want.
func adminCall(t *testing.T, cl *remoting.Client, addr string, req *protocol.Command, want int32) *protocol.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := cl.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatalf("code %d: %v", req.Code, err)
	}
	if r.Code != want {
		t.Fatalf("code %d: response %d %q, want %d", req.Code, r.Code, r.Remark, want)
	}
	return r
}

func timerStatus(t *testing.T, cl *remoting.Client, addr, topic, id string) timer.Status {
	t.Helper()
	r := adminCall(t, cl, addr, protocol.NewRequest(protocol.QuiverTimerStatus, map[string]string{"topic": topic, "msgId": id}), protocol.Success)
	var st timer.Status
	if err := json.Unmarshal(r.Body, &st); err != nil {
		t.Fatalf("status body %q: %v", r.Body, err)
	}
	return st
}

// rawSend sends a timer message with SEND_MESSAGE and returns the response
// (msgId in transactionId, the recall handle in recallHandle).
func rawSend(t *testing.T, cl *remoting.Client, addr, topic, uniq string, at int64) *protocol.Command {
	t.Helper()
	props := "UNIQ_KEY\x01" + uniq + "\x02TIMER_DELIVER_MS\x01" + strconv.FormatInt(at, 10) + "\x02"
	req := protocol.NewRequest(protocol.SendMessage, map[string]string{
		"producerGroup": "PGRaw", "topic": topic, "queueId": "0", "sysFlag": "0",
		"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0", "properties": props,
		"defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
	})
	req.Body = []byte("body-" + uniq)
	return adminCall(t, cl, addr, req, protocol.Success)
}

// TestTimerRecallRescheduleStatusOverRemoting: the recall handle returned on
// send cancels the timer (RECALL_MESSAGE); the admin codes reschedule a
// timer and report its state; a 39-day delay is accepted and pending; 41
// days is refused with MESSAGE_ILLEGAL.
func TestTimerRecallRescheduleStatusOverRemoting(t *testing.T) {
	s := startServer(t, Options{})
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	addr := s.BrokerAddr()
	a := newArrivals()
	newPushConsumerFunc(t, s, "CGRecall", "TopicRecall", a.handle)

	at := time.Now().Add(4 * time.Second).UnixMilli()
	recallMe := rawSend(t, cl, addr, "TopicRecall", "RECALLME", at)
	handle := recallMe.Ext("recallHandle")
	if handle == "" {
		t.Fatalf("no recallHandle in the send response: %v", recallMe.ExtFields)
	}
	rawSend(t, cl, addr, "TopicRecall", "KEEPME", at)
	rawSend(t, cl, addr, "TopicRecall", "MOVEME", at)
	r := adminCall(t, cl, addr, protocol.NewRequest(protocol.RecallMessage, map[string]string{
		"producerGroup": "PGRaw", "topic": "TopicRecall", "recallHandle": handle}), protocol.Success)
	if r.Ext("msgId") != "RECALLME" {
		t.Fatalf("recall answered msgId %q", r.Ext("msgId"))
	}
	adminCall(t, cl, addr, protocol.NewRequest(protocol.RecallMessage, map[string]string{
		"producerGroup": "PGRaw", "topic": "TopicRecall", "recallHandle": "bm90IGEgaGFuZGxl"}), protocol.IllegalOperation)
	if st := timerStatus(t, cl, addr, "TopicRecall", "RECALLME"); st.State != timer.Recalled {
		t.Fatalf("recalled timer: %+v", st)
	}
	if st := timerStatus(t, cl, addr, "TopicRecall", "KEEPME"); st.State != timer.Pending || st.DeliverTimeMs != at {
		t.Fatalf("pending timer: %+v", st)
	}
	moved := at + 2000
	adminCall(t, cl, addr, protocol.NewRequest(protocol.QuiverTimerReschedule, map[string]string{
		"topic": "TopicRecall", "msgId": "MOVEME", "deliverTimeMs": strconv.FormatInt(moved, 10)}), protocol.Success)
	if st := timerStatus(t, cl, addr, "TopicRecall", "MOVEME"); st.State != timer.Pending || st.DeliverTimeMs != moved {
		t.Fatalf("rescheduled timer: %+v", st)
	}

	far := time.Now().Add(39 * 24 * time.Hour).UnixMilli()
	rawSend(t, cl, addr, "TopicRecall", "FAR", far)
	if st := timerStatus(t, cl, addr, "TopicRecall", "FAR"); st.State != timer.Pending || st.DeliverTimeMs != far {
		t.Fatalf("39-day timer: %+v", st)
	}
	tooFar := protocol.NewRequest(protocol.SendMessage, map[string]string{
		"producerGroup": "PGRaw", "topic": "TopicRecall", "queueId": "0", "sysFlag": "0", "bornTimestamp": "0", "flag": "0",
		"properties": "TIMER_DELAY_SEC\x01" + strconv.Itoa(41*86400) + "\x02",
	})
	tooFar.Body = []byte("x")
	adminCall(t, cl, addr, tooFar, protocol.MessageIllegal)
	adminCall(t, cl, addr, protocol.NewRequest(protocol.QuiverTimerStatus, map[string]string{"topic": "TopicRecall", "msgId": "NOSUCH"}), protocol.QueryNotFound)

	waitFor(t, 15*time.Second, "KEEPME and MOVEME", func() bool { return a.count() == 2 })
	time.Sleep(time.Second)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.recv["body-RECALLME"]) != 0 {
		t.Fatalf("the recalled timer was delivered")
	}
	if got := a.recv["body-MOVEME"]; len(got) != 1 || got[0] < moved {
		t.Fatalf("the rescheduled timer arrived %v (due %d)", got, moved)
	}
	if got := a.recv["body-KEEPME"]; len(got) != 1 || got[0] < at || got[0] >= moved {
		t.Fatalf("the kept timer arrived %v (due %d)", got, at)
	}
	if st := timerStatus(t, cl, addr, "TopicRecall", "KEEPME"); st.State != timer.Delivered || st.DeliveredTimeMs < at {
		t.Fatalf("delivered timer: %+v", st)
	}
	adminCall(t, cl, addr, protocol.NewRequest(protocol.QuiverTimerReschedule, map[string]string{
		"topic": "TopicRecall", "msgId": "KEEPME", "deliverTimeMs": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)}), protocol.IllegalOperation)
}
