package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/txn"
)

// txnListener decides by body prefix: "commit-" and "rollback-" end at
// once; "unknown-" is left open and committed when checked back; "stuck-"
// stays unknown however often it is checked.
type txnListener struct {
	mu     sync.Mutex
	checks map[string]int // body → CheckLocalTransaction calls
}

func (l *txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch b := string(m.Body); {
	case strings.HasPrefix(b, "commit-"):
		return primitive.CommitMessageState
	case strings.HasPrefix(b, "rollback-"):
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *txnListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checks[string(m.Body)]++
	l.mu.Unlock()
	if strings.HasPrefix(string(m.Body), "unknown-") {
		return primitive.CommitMessageState
	}
	return primitive.UnknowState
}

func (l *txnListener) checked(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checks[body]
}

// TestTransactionalProducer drives RocketMQ transactions with the Go
// client's transaction producer (consume-semantics.md §12): a committed
// message is consumed, a rolled-back one never is, an unknown one is checked
// back and committed, and a transaction that stays unknown is given up
// after transactionCheckMax checks.
func TestTransactionalProducer(t *testing.T) {
	const checkMax = 3
	s := startServer(t, Options{Broker: func(o *broker.Options) {
		o.TransactionCheckInterval = 200 * time.Millisecond
		// Longer than the client's first heartbeat (1 s after start), so
		// the producer is registered before its first check-back.
		o.TransactionTimeout = 2 * time.Second
		o.TransactionCheckMax = checkMax
	}})
	l := &txnListener{checks: make(map[string]int)}
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.NamesrvAddr()})),
		producer.WithGroupName("PGTxn"),
		producer.WithInstanceName(uniqueInstance(t, "txn")),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })

	const topic = "TopicTxn"
	ctx := context.Background()
	bodies := []string{"commit-0", "rollback-0", "commit-1", "unknown-0", "rollback-1", "stuck-0", "commit-2"}
	for _, b := range bodies {
		r, err := p.SendMessageInTransaction(ctx, primitive.NewMessage(topic, []byte(b)))
		if err != nil {
			t.Fatalf("send %s: %v", b, err)
		}
		if r.Status != primitive.SendOK || r.MsgID == "" || r.OffsetMsgID == "" {
			t.Fatalf("send %s: %+v", b, r.SendResult)
		}
	}

	c := newCollector()
	newPushConsumer(t, s, "CGTxn", uniqueInstance(t, "c"), consumer.Clustering, topic, consumer.MessageSelector{}, c)
	// The committed ones at once, the unknown one after its check-back.
	c.waitDistinct(t, 4, 20*time.Second)
	for _, b := range []string{"commit-0", "commit-1", "commit-2", "unknown-0"} {
		if c.count(b) == 0 {
			t.Errorf("%s not consumed", b)
		}
	}
	if n := l.checked("unknown-0"); n != 1 {
		t.Errorf("unknown-0 checked %d times, want 1", n)
	}
	for _, m := range c.all {
		if m.GetProperty("TRAN_MSG") != "" || m.GetProperty("REAL_TOPIC") != "" || m.GetProperty("PGROUP") != "PGTxn" {
			t.Errorf("consumed %s with properties %v", m.Body, m.GetProperties())
		}
	}

	// The stuck one: asked checkMax times, then moved aside.
	st := s.Broker().Store()
	waitFor(t, 20*time.Second, "the stuck transaction to be given up", func() bool {
		return st.MaxOffset(txn.CheckMaxTimeTopic, 0) > 0
	})
	time.Sleep(time.Second) // several more rounds: no further checks
	if n := l.checked("stuck-0"); n != checkMax {
		t.Errorf("stuck-0 checked %d times, want %d", n, checkMax)
	}
	r, err := st.GetMessages(txn.CheckMaxTimeTopic, 0, 0, 10, 0, nil)
	if err != nil || len(r.Records) != 1 {
		t.Fatalf("%s: %d records, %v", txn.CheckMaxTimeTopic, len(r.Records), err)
	}
	if m, _, err := message.Decode(r.Records[0], true); err != nil || string(m.Body) != "stuck-0" {
		t.Errorf("given up %q, %v", m.Body, err)
	}

	for _, b := range []string{"rollback-0", "rollback-1", "stuck-0"} {
		if n := c.count(b); n != 0 {
			t.Errorf("%s consumed %d times", b, n)
		}
	}
	if n := c.distinct(); n != 4 {
		t.Errorf("%d distinct messages consumed, want 4", n)
	}
}
