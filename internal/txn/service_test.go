package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/offset"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// clock is a settable clock shared by the store and the service.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// recorder is a Checker that records requests.
type recorder struct {
	mu   sync.Mutex
	reqs []CheckRequest
	err  error
}

func (r *recorder) CheckTransactionState(_ context.Context, req CheckRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return r.err
}

func (r *recorder) take() []CheckRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

type env struct {
	t       *testing.T
	fs      *vfs.MemFS
	clk     *clock
	st      *store.Store
	offs    *offset.Store
	checker *recorder
	svc     *Service
	opts    Options
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, fs: vfs.NewMem(), clk: &clock{}, checker: &recorder{}}
	e.clk.ms.Store(1_800_000_000_000)
	e.opts = Options{BrokerName: "broker-a", Now: e.clk.now}
	e.open()
	t.Cleanup(func() { e.st.Close() })
	return e
}

func (e *env) open() {
	e.t.Helper()
	if err := e.fs.MkdirAll("/data/store", 0o755); err != nil {
		e.t.Fatal(err)
	}
	o := store.DefaultOptions("/data/store")
	o.FS, o.Now = e.fs, e.clk.now
	o.SegmentSize, o.MaxMessageSize = 1<<20, 64<<10
	o.ConsumeQueueUnits, o.IndexSlots, o.IndexEntries = 1024, 64, 256
	o.FlushInterval, o.FlushConsumeQueueInterval = 5*time.Millisecond, 10*time.Millisecond
	var err error
	if e.st, err = store.Open(o); err != nil {
		e.t.Fatal(err)
	}
	if e.offs, err = offset.Open(e.fs, "/data/store/config"); err != nil {
		e.t.Fatal(err)
	}
	if e.svc, err = New(e.opts, e.st, e.offs, e.checker); err != nil {
		e.t.Fatal(err)
	}
}

// restart closes and reopens the store, offsets and service.
func (e *env) restart() {
	e.t.Helper()
	if err := e.offs.Persist(); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

// dispatched waits until every stored record is readable.
func (e *env) dispatched() {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.st.DispatchedOffset() < e.st.CommitLogMaxOffset() {
		if time.Now().After(deadline) {
			e.t.Fatal("dispatch did not catch up")
		}
		time.Sleep(time.Millisecond)
	}
}

// half stores a half as the send path does and returns the END request
// that would end it.
func (e *env) half(group, body string, kv ...string) EndRequest {
	e.t.Helper()
	uniq := fmt.Sprintf("UNIQ-%s", body)
	p := props(append([]string{"TRAN_MSG", "true", "PGROUP", group, "UNIQ_KEY", uniq}, kv...)...)
	m := &message.Message{Topic: "Orders", QueueID: 2, SysFlag: message.TransactionPrepared,
		BornTimestamp: e.clk.ms.Load(), BornHost: born, Body: []byte(body), Properties: p}
	if !ToHalf(m) {
		e.t.Fatal("not a half")
	}
	res, err := e.st.Put(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	e.dispatched()
	return EndRequest{ProducerGroup: group, TranStateTableOffset: res.QueueOffset,
		CommitLogOffset: res.PhysicalOffset, MsgID: uniq, TransactionID: uniq}
}

func (e *env) end(r EndRequest, state int32, fromCheck bool) error {
	r.CommitOrRollback, r.FromTransactionCheck = state, fromCheck
	err := e.svc.End(context.Background(), r)
	e.dispatched()
	return err
}

func (e *env) check() {
	e.t.Helper()
	if err := e.svc.Check(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.dispatched()
}

// bodies returns the bodies stored in a queue.
func (e *env) bodies(topic string, q int32) []string {
	e.t.Helper()
	r, err := e.st.GetMessages(topic, q, 0, 1000, 0, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, rec := range r.Records {
		m, _, err := message.Decode(rec, true)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(m.Body))
	}
	return out
}

func (e *env) message(topic string, q int32, qo int64) message.Message {
	e.t.Helper()
	r, err := e.st.GetMessages(topic, q, qo, 1, 0, nil)
	if err != nil || len(r.Records) == 0 {
		e.t.Fatalf("no message at %s/%d/%d: %v %v", topic, q, qo, err, r.Status)
	}
	m, _, err := message.Decode(r.Records[0], true)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// A committed half becomes a consumable message of its real topic and an op
// record marks it done (consume-semantics.md §12 step 3a).
func TestEndTransactionCommitStoresTheMessageAndMarksTheHalf(t *testing.T) {
	e := newEnv(t)
	r := e.half("PG", "hello", "TAGS", "tagA")
	if err := e.end(r, StateCommit, false); err != nil {
		t.Fatal(err)
	}
	m := e.message("Orders", 2, 0)
	if string(m.Body) != "hello" || message.TransactionType(m.SysFlag) != message.TransactionCommit ||
		m.PreparedTransactionOffset != r.CommitLogOffset {
		t.Errorf("committed = %+v", m)
	}
	if hasProp(m.Properties, "TRAN_MSG") || hasProp(m.Properties, "REAL_TOPIC") || prop(t, m.Properties, "TAGS") != "tagA" {
		t.Errorf("properties %q", m.Properties)
	}
	op := e.message(OpTopic, 0, 0)
	if string(op.Body) != fmt.Sprintf("%d,", r.TranStateTableOffset) || prop(t, op.Properties, "TAGS") != "d" {
		t.Errorf("op record %q %q", op.Body, op.Properties)
	}
	// The check-back leaves it alone.
	e.clk.advance(time.Minute)
	e.check()
	if reqs := e.checker.take(); len(reqs) != 0 {
		t.Errorf("a committed half was checked: %+v", reqs)
	}
	if got, _ := e.offs.Query(SystemGroup, HalfTopic, 0); got != 1 {
		t.Errorf("half progress = %d, want 1", got)
	}
	if got, _ := e.offs.Query(SystemGroup, OpTopic, 0); got != 1 {
		t.Errorf("op progress = %d, want 1", got)
	}
}

// A rolled-back half is never delivered (§12 step 3b).
func TestEndTransactionRollbackWritesOnlyTheOpRecord(t *testing.T) {
	e := newEnv(t)
	r := e.half("PG", "nope")
	if err := e.end(r, StateRollback, false); err != nil {
		t.Fatal(err)
	}
	if got := e.bodies("Orders", 2); len(got) != 0 {
		t.Errorf("rolled back message stored: %v", got)
	}
	if got := e.bodies(OpTopic, 0); len(got) != 1 {
		t.Errorf("op records = %v", got)
	}
	e.clk.advance(time.Minute)
	e.check()
	if reqs := e.checker.take(); len(reqs) != 0 {
		t.Errorf("a rolled back half was checked: %+v", reqs)
	}
}

// END_TRANSACTION is validated against the half (EndTransactionProcessor).
func TestEndTransactionValidatesTheRequest(t *testing.T) {
	e := newEnv(t)
	r := e.half("PG", "v")
	imm := e.half("PG", "immune", "CHECK_IMMUNITY_TIME_IN_SECONDS", "10")
	tests := []struct {
		name   string
		mutate func(*EndRequest)
		state  int32
		want   error
	}{
		{"other producer group", func(r *EndRequest) { r.ProducerGroup = "other" }, StateCommit, ErrMismatch},
		{"wrong queue offset", func(r *EndRequest) { r.TranStateTableOffset++ }, StateCommit, ErrMismatch},
		{"offset of another record", func(r *EndRequest) { r.CommitLogOffset = imm.CommitLogOffset }, StateRollback, ErrMismatch},
		{"no record there", func(r *EndRequest) { r.CommitLogOffset = 1 << 40 }, StateCommit, ErrNotFound},
		{"unknown state", func(*EndRequest) {}, StateUnknown, ErrBadState},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := r
			tc.mutate(&req)
			if err := e.end(req, tc.state, false); !errors.Is(err, tc.want) {
				t.Errorf("End = %v, want %v", err, tc.want)
			}
		})
	}
	if err := e.end(r, StateCommit, false); err != nil {
		t.Fatal(err)
	}
	// A committed message is not a half.
	c := e.message("Orders", 2, 0)
	notHalf := EndRequest{ProducerGroup: "PG", CommitLogOffset: c.PhysicalOffset, TranStateTableOffset: 0}
	if err := e.end(notHalf, StateCommit, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("END of a committed message = %v, want ErrNotFound", err)
	}
	// CHECK_IMMUNITY_TIME_IN_SECONDS: a producer's own END after it is
	// refused (604), an answer to a check is not.
	e.clk.advance(11 * time.Second)
	if err := e.end(imm, StateCommit, false); !errors.Is(err, ErrImmunityExpired) {
		t.Errorf("late END = %v, want ErrImmunityExpired", err)
	}
	if err := e.end(imm, StateCommit, true); err != nil {
		t.Errorf("END from a check = %v", err)
	}
	if got := e.bodies("Orders", 2); len(got) != 2 {
		t.Errorf("committed = %v", got)
	}
}

// A half left open past transactionTimeOut is checked back: a copy with one
// more check is appended and the producer asked about the copy (§12 step 4c).
func TestTransactionCheckAsksTheProducerAboutAnOpenHalf(t *testing.T) {
	e := newEnv(t)
	r := e.half("PG", "open", "KEYS", "k1")
	e.clk.advance(5 * time.Second)
	e.check()
	if reqs := e.checker.take(); len(reqs) != 0 {
		t.Fatalf("checked before transactionTimeOut: %+v", reqs)
	}
	e.clk.advance(2 * time.Second)
	e.check()
	reqs := e.checker.take()
	if len(reqs) != 1 {
		t.Fatalf("%d checks, want 1", len(reqs))
	}
	c := reqs[0]
	cp := e.message(HalfTopic, 0, 1)
	if c.Group != "PG" || c.Topic != HalfTopic || c.TranStateTableOffset != 1 || c.CommitLogOffset != cp.PhysicalOffset ||
		c.MsgID != r.MsgID || c.TransactionID != r.MsgID || c.OffsetMsgID != message.OffsetMsgID(cp.StoreHost, cp.PhysicalOffset) ||
		c.BrokerName != "broker-a" {
		t.Errorf("check = %+v", c)
	}
	if prop(t, cp.Properties, PropertyCheckTimes) != "1" || string(cp.Body) != "open" {
		t.Errorf("copy %q %q", cp.Body, cp.Properties)
	}
	body, _, err := message.Decode(c.Body, true)
	if err != nil || body.Topic != "Orders" || body.QueueID != 2 || body.QueueOffset != 1 ||
		body.PhysicalOffset != cp.PhysicalOffset || prop(t, body.Properties, "PGROUP") != "PG" {
		t.Errorf("check body %+v, %v", body, err)
	}
	if got, _ := e.offs.Query(SystemGroup, HalfTopic, 0); got != 1 {
		t.Errorf("half progress = %d, want 1 (the copy is next)", got)
	}

	// The producer answers for the copy: committed once, checked no more.
	answer := EndRequest{ProducerGroup: "PG", TranStateTableOffset: c.TranStateTableOffset,
		CommitLogOffset: c.CommitLogOffset, MsgID: c.MsgID, TransactionID: c.TransactionID}
	if err := e.end(answer, StateCommit, true); err != nil {
		t.Fatal(err)
	}
	e.clk.advance(time.Minute)
	e.check()
	if reqs := e.checker.take(); len(reqs) != 0 {
		t.Errorf("checked after the answer: %+v", reqs)
	}
	if got := e.bodies("Orders", 2); len(got) != 1 || got[0] != "open" {
		t.Errorf("delivered %v", got)
	}
}

// A producer that keeps answering "unknown" is asked transactionCheckMax
// times, then the half moves to TRANS_CHECK_MAX_TIME_TOPIC (§12 step 4a).
func TestTransactionCheckGivesUpAfterCheckMax(t *testing.T) {
	e := newEnv(t)
	e.opts.CheckMax = 3
	e.restart()
	e.half("PG", "stuck")
	e.half("PG", "ended")
	e.checker.err = ErrNoProducer // nobody answers: still counted
	total := 0
	for range 10 {
		e.clk.advance(30 * time.Second)
		e.check()
		for _, c := range e.checker.take() {
			total++
			m, _, _ := message.Decode(c.Body, false)
			if string(m.Body) == "ended" && total <= 2 {
				// End the second transaction through its first check.
				a := EndRequest{ProducerGroup: "PG", TranStateTableOffset: c.TranStateTableOffset,
					CommitLogOffset: c.CommitLogOffset, MsgID: c.MsgID}
				if err := e.end(a, StateRollback, true); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if total != 3+1 {
		t.Errorf("%d checks, want 3 for the stuck half and 1 for the ended one", total)
	}
	if got := e.bodies(CheckMaxTimeTopic, 0); len(got) != 1 || got[0] != "stuck" {
		t.Errorf("%s holds %v", CheckMaxTimeTopic, got)
	}
	d := e.message(CheckMaxTimeTopic, 0, 0)
	if prop(t, d.Properties, PropertyCheckTimes) != "3" || prop(t, d.Properties, "REAL_TOPIC") != "Orders" {
		t.Errorf("discarded %q", d.Properties)
	}
	if got := e.bodies("Orders", 2); len(got) != 0 {
		t.Errorf("delivered %v", got)
	}
	// Everything is behind the progress offsets now.
	if h, _ := e.offs.Query(SystemGroup, HalfTopic, 0); h != e.st.MaxOffset(HalfTopic, 0) {
		t.Errorf("half progress %d, max %d", h, e.st.MaxOffset(HalfTopic, 0))
	}
	if o, _ := e.offs.Query(SystemGroup, OpTopic, 0); o != e.st.MaxOffset(OpTopic, 0) {
		t.Errorf("op progress %d, max %d", o, e.st.MaxOffset(OpTopic, 0))
	}
}

// A half stored after the round began waits for the next round, and the
// round stops at the first half too young to check.
func TestTransactionCheckStopsAtYoungHalves(t *testing.T) {
	e := newEnv(t)
	e.half("PG", "old")
	e.clk.advance(4 * time.Second)
	e.half("PG", "young")
	e.clk.advance(3 * time.Second) // old: 7 s, young: 3 s
	e.check()
	reqs := e.checker.take()
	if len(reqs) != 1 {
		t.Fatalf("%d checks, want 1", len(reqs))
	}
	if got, _ := e.offs.Query(SystemGroup, HalfTopic, 0); got != 1 {
		t.Errorf("half progress = %d, want 1 (stopped at the young half)", got)
	}
	e.clk.advance(4 * time.Second)
	e.check()
	if reqs := e.checker.take(); len(reqs) != 2 { // young, and the copy of old
		t.Errorf("%d checks, want 2", len(reqs))
	}
}

// Progress lives in the offset table and halves in the store, so a broker
// restart neither loses an open transaction nor re-checks a finished round.
func TestTransactionCheckSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	r := e.half("PG", "a")
	e.half("PG", "b")
	if err := e.end(r, StateCommit, false); err != nil {
		t.Fatal(err)
	}
	e.clk.advance(7 * time.Second)
	e.check()
	if n := len(e.checker.take()); n != 1 {
		t.Fatalf("%d checks, want 1", n)
	}
	e.restart()
	if h, _ := e.offs.Query(SystemGroup, HalfTopic, 0); h != 2 {
		t.Errorf("half progress after restart = %d, want 2", h)
	}
	e.clk.advance(time.Second)
	e.check() // the copy was stored in the last round: checked now
	reqs := e.checker.take()
	if len(reqs) != 1 {
		t.Fatalf("%d checks after restart, want 1", len(reqs))
	}
	if m, _, _ := message.Decode(reqs[0].Body, false); string(m.Body) != "b" || prop(t, m.Properties, PropertyCheckTimes) != "2" {
		t.Errorf("checked %q %q", m.Body, m.Properties)
	}
}

// With CHECK_IMMUNITY_TIME_IN_SECONDS a half is not checked before that
// time: it is re-appended each round, and dropped once its original offset
// is ended.
func TestTransactionImmuneHalfIsCarriedUntilEnded(t *testing.T) {
	e := newEnv(t)
	r := e.half("PG", "imm", "CHECK_IMMUNITY_TIME_IN_SECONDS", "60")
	e.clk.advance(7 * time.Second)
	e.check()
	if n := len(e.checker.take()); n != 0 {
		t.Fatalf("immune half checked %d times", n)
	}
	cp := e.message(HalfTopic, 0, 1)
	if prop(t, cp.Properties, PropertyPreparedQueueOffset) != "0" {
		t.Errorf("immune copy %q", cp.Properties)
	}
	if err := e.end(r, StateCommit, false); err != nil { // within the immunity
		t.Fatal(err)
	}
	e.clk.advance(10 * time.Second)
	e.check()
	e.clk.advance(2 * time.Minute)
	e.check()
	if n := len(e.checker.take()); n != 0 {
		t.Errorf("an ended immune half was checked %d times", n)
	}
	if got := e.st.MaxOffset(HalfTopic, 0); got != 2 {
		t.Errorf("half queue holds %d records, want 2 (no further copies)", got)
	}
}

func TestTransactionCheckRunStopsWithContext(t *testing.T) {
	e := newEnv(t)
	e.opts.CheckInterval = time.Millisecond
	e.restart()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

// The broker's put hook (delay levels) applies to the committed message,
// so a transactional message's DELAY takes effect once it is committed.
func TestEndTransactionCommitGoesThroughThePutHook(t *testing.T) {
	e := newEnv(t)
	e.opts.PutHook = func(m *message.Message) {
		if m.Topic == "Orders" {
			m.Topic, m.QueueID = "Delayed", 0
		}
	}
	e.restart()
	r := e.half("PG", "later", "DELAY", "2")
	if err := e.end(r, StateCommit, false); err != nil {
		t.Fatal(err)
	}
	if got := e.bodies("Delayed", 0); len(got) != 1 || got[0] != "later" {
		t.Errorf("hooked topic holds %v", got)
	}
	if got := e.bodies("Orders", 2); len(got) != 0 {
		t.Errorf("real topic holds %v", got)
	}
}
