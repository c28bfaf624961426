package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/vfs"
)

const storeDir = "/data/store"

// maxLate bounds how late a timer may arrive in these tests, in ms: one
// 100 ms precision step on an idle machine. Under -short (the race run,
// ten times slower) only "never early" and "exactly once" are checked.
func maxLateMs() int64 {
	if testing.Short() {
		return 1 << 40
	}
	return 100
}

func storeOptions(fs vfs.FS) store.Options {
	o := store.DefaultOptions(storeDir)
	o.FS = fs
	o.SegmentSize = 1 << 20
	o.MaxMessageSize = 64 << 10
	o.ConsumeQueueUnits = 1024
	o.IndexSlots = 1024
	o.IndexEntries = 1 << 16
	o.FlushInterval = 10 * time.Millisecond
	o.FlushConsumeQueueInterval = 20 * time.Millisecond
	return o
}

func openStore(t testing.TB, o store.Options) *store.Store {
	t.Helper()
	if err := o.FS.MkdirAll(o.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/", "/data"} {
		if err := o.FS.SyncDir(d); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(o)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

func timerOptions(fs vfs.FS) Options {
	return Options{Dir: storeDir, FS: fs, PrecisionMs: 100, FlushInterval: 50 * time.Millisecond, SegmentUnits: 256, Logger: testLogger()}
}

type harness struct {
	t    testing.TB
	fs   *vfs.MemFS
	st   *store.Store
	svc  *Service
	stop func()
}

func newHarness(t testing.TB, fs *vfs.MemFS, so store.Options, to Options) *harness {
	t.Helper()
	h := &harness{t: t, fs: fs}
	h.st = openStore(t, so)
	svc, err := Open(h.st, to)
	if err != nil {
		h.st.Close()
		t.Fatalf("open timer: %v", err)
	}
	h.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(ctx) }()
	notifyStop := make(chan struct{})
	go func() { // the broker wires the store's dispatch hook; poll instead
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-notifyStop:
				return
			case <-tk.C:
				svc.Notify(Topic, 0, 0)
			}
		}
	}()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			close(notifyStop)
			cancel()
			wg.Wait()
		})
	}
	t.Cleanup(func() { h.close() })
	return h
}

// close stops the service and closes everything cleanly.
func (h *harness) close() {
	h.stop()
	if h.st != nil {
		h.st.Close()
		if err := h.svc.Persist(); err != nil {
			h.t.Errorf("persist: %v", err)
		}
		h.svc.Close()
		h.st = nil
	}
}

// send stores a timer message for topic due at deliverMs (through the put
// hook) and returns its uniq key and the put result.
func (h *harness) send(topic, uniq string, deliverMs int64) store.PutResult {
	h.t.Helper()
	m := &message.Message{
		Topic: topic, QueueID: 1, BornTimestamp: time.Now().UnixMilli(), Body: []byte("body-" + uniq),
		Properties: message.EncodeProperties(map[string]string{
			message.PropertyUniqKey:        uniq,
			message.PropertyTimerDeliverMs: strconv.FormatInt(deliverMs, 10),
		}),
	}
	moved, err := h.svc.Rules().Transform(m, time.Now().UnixMilli())
	if err != nil || !moved {
		h.t.Fatalf("transform %s: moved %v, err %v", uniq, moved, err)
	}
	res, err := h.st.Put(context.Background(), m)
	if err != nil {
		h.t.Fatalf("put %s: %v", uniq, err)
	}
	return res
}

// delivered reads topic queue 1 and returns the messages by uniq key.
func delivered(t testing.TB, st *store.Store, topic string) map[string][]message.Message {
	t.Helper()
	out := map[string][]message.Message{}
	for off := int64(0); ; {
		res, err := st.GetMessages(topic, 1, off, 256, 8<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != store.Found {
			return out
		}
		for _, rec := range res.Records {
			m, _, err := message.Decode(rec, true)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := message.Property(m.Properties, message.PropertyUniqKey)
			m.Body = append([]byte(nil), m.Body...)
			m.Properties = append([]byte(nil), m.Properties...)
			out[u] = append(out[u], m)
		}
		off = res.NextBeginOffset
	}
}

func waitFor(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deliverMs(t testing.TB, m message.Message) int64 {
	t.Helper()
	v, ok := message.Property(m.Properties, message.PropertyTimerDeliverMs)
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		t.Fatalf("delivered message without %s: %q", message.PropertyTimerDeliverMs, v)
	}
	return n
}

// TestDeliversEachOnTimeNeverEarly: timers spread over 1.5 s arrive in
// their topic and queue with body and properties, once each, never before
// their time and within one precision step after it.
func TestDeliversEachOnTimeNeverEarly(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness(t, fs, storeOptions(fs), timerOptions(fs))
	base := time.Now().UnixMilli() + 300
	const n = 300
	want := map[string]int64{}
	for i := range n {
		u := fmt.Sprintf("T%04d", i)
		want[u] = base + int64(i*5)
		h.send("orders", u, want[u])
	}
	waitFor(t, 10*time.Second, "every timer", func() bool { return len(delivered(t, h.st, "orders")) == n })
	got := delivered(t, h.st, "orders")
	for u, at := range want {
		ms := got[u]
		if len(ms) != 1 {
			t.Fatalf("%s delivered %d times", u, len(ms))
		}
		m := ms[0]
		if m.StoreTimestamp < at {
			t.Errorf("%s delivered %d ms early", u, at-m.StoreTimestamp)
		}
		if late := m.StoreTimestamp - at; late > maxLateMs() {
			t.Errorf("%s delivered %d ms late (precision 100 ms)", u, late)
		}
		if string(m.Body) != "body-"+u || m.QueueID != 1 || deliverMs(t, m) != at {
			t.Errorf("%s: body %q queue %d deliver %d", u, m.Body, m.QueueID, deliverMs(t, m))
		}
		if _, ok := message.Property(m.Properties, message.PropertyRealTopic); ok {
			t.Errorf("%s still carries REAL_TOPIC", u)
		}
		if _, ok := message.Property(m.Properties, message.PropertyTimerOutMs); !ok {
			t.Errorf("%s lost TIMER_OUT_MS (it keeps the message from being moved again)", u)
		}
	}
	// 300 units over segments of 256: once the checkpoint moves past every
	// slot, only the last segment is kept.
	waitFor(t, 5*time.Second, "the delivered timer-log segment to be removed", func() bool {
		names, err := fs.ReadDir(storeDir + "/timerlog")
		return err == nil && len(names) == 1
	})
}

// TestRollsBeyondTheWindow: with a wheel window of 4 slots, a timer 2 s
// out is parked and stored again several times, and still arrives once,
// on time.
func TestRollsBeyondTheWindow(t *testing.T) {
	fs := vfs.NewMem()
	to := timerOptions(fs)
	to.RollWindow = 400 * time.Millisecond
	h := newHarness(t, fs, storeOptions(fs), to)
	at := time.Now().UnixMilli() + 2000
	h.send("orders", "ROLL1", at)
	h.send("orders", "ROLL2", at+150)
	waitFor(t, 6*time.Second, "the rolled timers", func() bool { return len(delivered(t, h.st, "orders")) == 2 })
	time.Sleep(300 * time.Millisecond)
	got := delivered(t, h.st, "orders")
	for u, want := range map[string]int64{"ROLL1": at, "ROLL2": at + 150} {
		if len(got[u]) != 1 {
			t.Fatalf("%s delivered %d times", u, len(got[u]))
		}
		m := got[u][0]
		if m.StoreTimestamp < want || m.StoreTimestamp-want > maxLateMs() {
			t.Errorf("%s delivered at %+d ms", u, m.StoreTimestamp-want)
		}
		rolls, _ := message.Property(m.Properties, message.PropertyTimerRollTimes)
		if n, _ := strconv.Atoi(rolls); n < 3 {
			t.Errorf("%s rolled %q times, want at least 3 with a 400 ms window", u, rolls)
		}
	}
}

// TestRecallRescheduleStatus: recall stops delivery; reschedule moves a
// timer earlier and later; status follows each.
func TestRecallRescheduleStatus(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness(t, fs, storeOptions(fs), timerOptions(fs))
	ctx := context.Background()
	now := time.Now().UnixMilli()
	at := now + 1500
	h.send("orders", "KEEP", at)
	h.send("orders", "RECALL", at)
	h.send("orders", "EARLIER", at)
	h.send("orders", "LATER", at)

	st, err := h.svc.Status(ctx, "orders", "RECALL")
	if err != nil || st.State != Pending || st.DeliverTimeMs != at {
		t.Fatalf("status before recall: %+v, %v", st, err)
	}
	out := h.svc.rules.SlotOf(at) * h.svc.p
	if err := h.svc.Recall(ctx, "orders", "RECALL", out+1); err != nil {
		t.Fatalf("recall: %v", err)
	}
	if st, err := h.svc.Status(ctx, "orders", "RECALL"); err != nil || st.State != Recalled {
		t.Fatalf("status after recall: %+v, %v", st, err)
	}
	if _, err := h.svc.Reschedule(ctx, "orders", "EARLIER", now+600); err != nil {
		t.Fatalf("reschedule earlier: %v", err)
	}
	if _, err := h.svc.Reschedule(ctx, "orders", "LATER", at+700); err != nil {
		t.Fatalf("reschedule later: %v", err)
	}
	if st, err := h.svc.Status(ctx, "orders", "LATER"); err != nil || st.State != Pending || st.DeliverTimeMs != at+700 {
		t.Fatalf("status after reschedule: %+v, %v", st, err)
	}
	if _, err := h.svc.Status(ctx, "orders", "NOSUCH"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status of an unknown id: %v, want ErrNotFound", err)
	}
	waitFor(t, 6*time.Second, "the kept and moved timers", func() bool { return len(delivered(t, h.st, "orders")) == 3 })
	time.Sleep(300 * time.Millisecond)
	got := delivered(t, h.st, "orders")
	if len(got["RECALL"]) != 0 {
		t.Errorf("the recalled timer was delivered")
	}
	for u, want := range map[string]int64{"KEEP": at, "EARLIER": now + 600, "LATER": at + 700} {
		if len(got[u]) != 1 {
			t.Fatalf("%s delivered %d times", u, len(got[u]))
		}
		if d := got[u][0].StoreTimestamp - want; d < 0 || d > maxLateMs() {
			t.Errorf("%s delivered at %+d ms of its (new) time", u, d)
		}
	}
	if st, err := h.svc.Status(ctx, "orders", "LATER"); err != nil || st.State != Delivered || st.DeliveredTimeMs < at+700 {
		t.Fatalf("status after delivery: %+v, %v", st, err)
	}
	if err := h.svc.Recall(ctx, "orders", "KEEP", out+1); !errors.Is(err, ErrTooLate) {
		t.Fatalf("recall after delivery: %v, want ErrTooLate", err)
	}
	if _, err := h.svc.Reschedule(ctx, "orders", "KEEP", time.Now().UnixMilli()+1000); !errors.Is(err, ErrTooLate) {
		t.Fatalf("reschedule after delivery: %v, want ErrTooLate", err)
	}
}

// TestRecallDuringItsSlot: with exact delivery a timer can still be
// recalled while its slot is being delivered, until its own time.
func TestRecallDuringItsSlot(t *testing.T) {
	fs := vfs.NewMem()
	to := timerOptions(fs)
	to.PrecisionMs = 1000
	h := newHarness(t, fs, storeOptions(fs), to)
	// Due at the end of a slot, so the slot is gathered well before.
	slot := floorDiv(time.Now().UnixMilli(), 1000) + 2
	at := (slot+1)*1000 - 50
	h.send("orders", "LATE", at)
	waitFor(t, 4*time.Second, "the slot to be gathered", func() bool {
		var g int64
		h.svc.do(context.Background(), func() { g = h.svc.gathered })
		return g > slot
	})
	if err := h.svc.Recall(context.Background(), "orders", "LATE", slot*1000+1); err != nil {
		t.Fatalf("recall in its slot: %v", err)
	}
	time.Sleep(time.Until(time.UnixMilli(at + 200)))
	if got := delivered(t, h.st, "orders"); len(got) != 0 {
		t.Fatalf("recalled timer delivered: %v", got)
	}
}

// TestSurvivesRestart: pending timers survive a clean restart and arrive
// once.
func TestSurvivesRestart(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness(t, fs, storeOptions(fs), timerOptions(fs))
	at := time.Now().UnixMilli() + 1200
	for i := range 50 {
		h.send("orders", fmt.Sprintf("R%02d", i), at+int64(i))
	}
	time.Sleep(200 * time.Millisecond)
	h.close()
	h2 := newHarness(t, fs, storeOptions(fs), timerOptions(fs))
	waitFor(t, 5*time.Second, "timers after restart", func() bool { return len(delivered(t, h2.st, "orders")) == 50 })
	time.Sleep(300 * time.Millisecond)
	for u, ms := range delivered(t, h2.st, "orders") {
		if len(ms) != 1 || ms[0].StoreTimestamp < at {
			t.Errorf("%s: %d deliveries, first at %+d ms", u, len(ms), ms[0].StoreTimestamp-at)
		}
	}
}

// TestPowerLossDeliversEachOnce: timers acknowledged under SYNC_FLUSH
// survive a power loss taken while deliveries are under way (some already
// delivered, some pending), and afterwards every one has been delivered
// exactly once and none early. The torn variants keep a random half of the
// pages written since their file's last sync (torn timer-log units, wheel
// slots and checkpoint writes).
func TestPowerLossDeliversEachOnce(t *testing.T) {
	cases := []struct {
		delayCut int
		torn     int64 // rng seed; 0: clean cut
	}{{300, 0}, {700, 0}, {300, 1}, {500, 2}, {700, 3}}
	if v := os.Getenv("TIMER_TORN_SEEDS"); v != "" { // soak: many torn images
		n, _ := strconv.Atoi(v)
		cases = nil
		for i := range n {
			cases = append(cases, struct {
				delayCut int
				torn     int64
			}{200 + 50*(i%12), int64(i + 1)})
			if only := os.Getenv("TIMER_TORN_ONLY"); only != "" && only != strconv.Itoa(i+1) {
				cases = cases[:len(cases)-1]
			}
		}
	}
	for _, tc := range cases {
		delayCut := tc.delayCut
		t.Run(fmt.Sprintf("cut%d-torn%d", tc.delayCut, tc.torn), func(t *testing.T) {
			if tc.torn != 0 && testing.Short() {
				// A torn image copies pages the store is writing through
				// its mappings at that moment: a race by construction.
				t.Skip("torn images of a live store are not race-clean; run without -short")
			}
			fs := vfs.NewMem()
			so := storeOptions(fs)
			so.FlushDiskType = store.SyncFlush
			h := newHarness(t, fs, so, timerOptions(fs))
			base := time.Now().UnixMilli() + 1000
			want := map[string]int64{}
			for i := range 200 {
				u := fmt.Sprintf("P%03d", i)
				want[u] = base + int64(i*5)
				h.send("orders", u, want[u])
			}
			time.Sleep(time.Until(time.UnixMilli(base + int64(delayCut))))
			img := fs.CrashClone()
			if tc.torn != 0 {
				img = fs.CrashCloneKeep(rand.New(rand.NewPCG(uint64(tc.torn), 7)))
			}
			h.stop()
			so2 := so
			so2.FS = img
			h2 := newHarness(t, img, so2, timerOptions(img))
			deadline := time.Now().Add(15 * time.Second)
			for len(delivered(t, h2.st, "orders")) < len(want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			got := delivered(t, h2.st, "orders")
			for u, at := range want {
				if len(got[u]) != 1 {
					t.Errorf("%s (due %+d ms) delivered %d times", u, at-base, len(got[u]))
					for _, m := range got[u] {
						t.Logf("  offset %d stored %d props %q", m.PhysicalOffset, m.StoreTimestamp, m.Properties)
					}
					continue
				}
				if got[u][0].StoreTimestamp < at {
					t.Errorf("%s delivered early", u)
				}
			}
		})
	}
}

// TestLongDelayPendingStatus: a 39-day delay is accepted and pending with
// its due time; 41 days is refused with ErrIllegal.
func TestLongDelayPendingStatus(t *testing.T) {
	fs := vfs.NewMem()
	to := timerOptions(fs)
	to.PrecisionMs = 1000
	h := newHarness(t, fs, storeOptions(fs), to)
	at := time.Now().Add(39 * 24 * time.Hour).UnixMilli()
	h.send("orders", "FAR", at)
	st, err := h.svc.Status(context.Background(), "orders", "FAR")
	if err != nil || st.State != Pending || st.DeliverTimeMs != at {
		t.Fatalf("status: %+v, %v", st, err)
	}
	m := &message.Message{Topic: "orders", Properties: message.EncodeProperties(map[string]string{
		message.PropertyTimerDelaySec: strconv.Itoa(41 * 86400)})}
	if _, err := h.svc.Rules().Transform(m, time.Now().UnixMilli()); !errors.Is(err, ErrIllegal) {
		t.Fatalf("41 days: %v, want ErrIllegal", err)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("TIMER_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestLostTimerStateRebuilds: with the wheel, log and checkpoint removed
// (lost), a restart enqueues the timer records again from the store:
// pending ones are still delivered, delivered ones are not delivered again.
func TestLostTimerStateRebuilds(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness(t, fs, storeOptions(fs), timerOptions(fs))
	now := time.Now().UnixMilli()
	for i := range 20 {
		h.send("orders", fmt.Sprintf("E%02d", i), now+300+int64(i))
	}
	for i := range 5 {
		h.send("orders", fmt.Sprintf("L%02d", i), now+2500+int64(i))
	}
	waitFor(t, 5*time.Second, "the early timers", func() bool { return len(delivered(t, h.st, "orders")) == 20 })
	h.close()
	for _, p := range []string{"/timerlog", "/timerwheel", "/config/timercheck.json", "/config/timercheck.json.bak"} {
		if err := fs.RemoveAll(storeDir + p); err != nil {
			t.Fatal(err)
		}
	}
	h2 := newHarness(t, fs, storeOptions(fs), timerOptions(fs))
	waitFor(t, 6*time.Second, "the late timers after the state was lost", func() bool { return len(delivered(t, h2.st, "orders")) == 25 })
	time.Sleep(300 * time.Millisecond)
	for u, ms := range delivered(t, h2.st, "orders") {
		if len(ms) != 1 {
			t.Errorf("%s delivered %d times", u, len(ms))
		}
	}
}
