package schedule

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// The tests run in synctest bubbles: the store stamps records and the
// service compares deliver times with the same fake clock, so "not before"
// and "on time" are checked to the millisecond.

const (
	storeDir  = "/data/store"
	configDir = storeDir + "/config"
)

func storeOptions(fs vfs.FS) store.Options {
	o := store.DefaultOptions(storeDir)
	o.FS = fs
	o.SegmentSize = 128 << 10
	o.MaxMessageSize = 64 << 10
	o.ConsumeQueueUnits = 64
	o.IndexSlots = 64
	o.IndexEntries = 256
	o.FlushInterval = 10 * time.Millisecond
	o.FlushConsumeQueueInterval = 20 * time.Millisecond
	o.CleanForcibly = false
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

func serviceOptions(fs vfs.FS, levels []time.Duration) Options {
	o := DefaultOptions(configDir)
	o.FS = fs
	o.Levels = levels
	return o
}

func newService(t testing.TB, st *store.Store, o Options) *Service {
	t.Helper()
	s, err := New(st, o)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return s
}

// run starts s.Run; the returned function stops it and waits.
func run(t testing.TB, s *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// send stores a message for topic/queue with DELAY = level, redirected as
// the broker does, and returns the schedule record's put result.
func send(t testing.TB, st *store.Store, levels []time.Duration, topic string, queue int32, level int, id string, extra ...string) store.PutResult {
	t.Helper()
	p := map[string]string{message.PropertyUniqKey: id, message.PropertyDelayLevel: strconv.Itoa(level)}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	m := &message.Message{
		Topic: topic, QueueID: queue, Flag: 3, BornTimestamp: 1_000_000,
		BornHost: netip.MustParseAddrPort("10.1.2.3:50000"), Body: []byte("body-" + id),
		Properties: message.EncodeProperties(p),
	}
	if !Redirect(m, levels) {
		t.Fatalf("%s not redirected", id)
	}
	res, err := st.Put(context.Background(), m)
	if err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
	return res
}

// readAll returns every message of a queue in order.
func readAll(t testing.TB, st *store.Store, topic string, queue int32) []message.Message {
	t.Helper()
	var out []message.Message
	for off := int64(0); ; {
		res, err := st.GetMessages(topic, queue, off, 1000, 1<<30, nil)
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
			out = append(out, m)
		}
		off = res.NextBeginOffset
	}
}

func ids(ms []message.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i], _ = message.Property(m.Properties, message.PropertyUniqKey)
	}
	return out
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

func sameStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// readFile returns the offset table in File.
func readFile(t testing.TB, fs vfs.FS) map[int]int64 {
	t.Helper()
	var table map[int]int64
	if _, err := jsonfile.Read(fs, configDir+"/"+File, func(b []byte) error {
		var f fileFormat
		if err := jsonfile.Unmarshal(b, &f); err != nil {
			return err
		}
		table = f.OffsetTable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return table
}

// TestDeliveredAtDeliverTimeNotBefore: a level-2 message (5 s) appears in
// its topic exactly at store time + 5 s, not a millisecond earlier.
func TestDeliveredAtDeliverTimeNotBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := defaultLevels(t)
		svc := newService(t, st, serviceOptions(fs, levels))
		stop := run(t, svc)
		defer stop()

		time.Sleep(321 * time.Millisecond)
		sent := send(t, st, levels, "T", 3, 2, "m00")
		due := time.UnixMilli(sent.StoreTimestamp + 5000)

		time.Sleep(time.Until(due) - time.Millisecond)
		synctest.Wait()
		if got := readAll(t, st, "T", 3); len(got) != 0 {
			t.Fatalf("delivered 1 ms early: %v", ids(got))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := readAll(t, st, "T", 3)
		if len(got) != 1 {
			t.Fatalf("not delivered at its deliver time: %d messages", len(got))
		}
		if got[0].StoreTimestamp != due.UnixMilli() {
			t.Errorf("delivered at %d, due %d", got[0].StoreTimestamp, due.UnixMilli())
		}
		if off := svc.Offsets()[2]; off != 1 {
			t.Errorf("level 2 offset %d, want 1", off)
		}
	})
}

// TestOrderWithinLevel: each level delivers in store order, on time, and
// levels do not wait for each other.
func TestOrderWithinLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := []time.Duration{100 * time.Millisecond, 700 * time.Millisecond, 300 * time.Millisecond}
		o := serviceOptions(fs, levels)
		o.BatchSize = 4 // several steps per level
		svc := newService(t, st, o)
		stop := run(t, svc)
		defer stop()

		stored := map[string]int64{}
		var want [3][]string
		for i := range 60 {
			level := i%3 + 1
			id := fmt.Sprintf("L%d-%02d", level, i)
			stored[id] = send(t, st, levels, "T", int32(level-1), level, id).StoreTimestamp
			want[level-1] = append(want[level-1], id)
			time.Sleep(time.Duration(7*(i%5)) * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		for level := 1; level <= 3; level++ {
			got := readAll(t, st, "T", int32(level-1))
			if !sameStrings(ids(got), want[level-1]) {
				t.Errorf("level %d delivered %v, want %v", level, ids(got), want[level-1])
			}
			for _, m := range got {
				id, _ := message.Property(m.Properties, message.PropertyUniqKey)
				if due := stored[id] + levels[level-1].Milliseconds(); m.StoreTimestamp != due {
					t.Errorf("%s delivered at %d, due %d", id, m.StoreTimestamp, due)
				}
			}
		}
		if got, want := svc.Offsets(), map[int]int64{1: 20, 2: 20, 3: 20}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Offsets = %v, want %v", got, want)
		}
	})
}

// TestEighteenLevels: all 18 queues are served, and a level above the last
// is delivered by the last.
func TestEighteenLevels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := make([]time.Duration, 18)
		for i := range levels {
			levels[i] = time.Duration(i+1) * 150 * time.Millisecond
		}
		svc := newService(t, st, serviceOptions(fs, levels))
		stop := run(t, svc)
		defer stop()

		stored := map[string]int64{}
		for level := 1; level <= 18; level++ {
			id := fmt.Sprintf("L%02d", level)
			stored[id] = send(t, st, levels, "T", 0, level, id).StoreTimestamp
		}
		stored["L99"] = send(t, st, levels, "T", 0, 99, "L99").StoreTimestamp
		time.Sleep(3 * time.Second)
		synctest.Wait()

		got := readAll(t, st, "T", 0)
		want := append(seq("L", 1, 19), "L99")
		if !sameStrings(ids(got), want) {
			t.Fatalf("delivered %v, want %v", ids(got), want)
		}
		for i, m := range got {
			level := min(i+1, 18)
			if due := stored[want[i]] + levels[level-1].Milliseconds(); m.StoreTimestamp != due {
				t.Errorf("%s delivered at %d, due %d", want[i], m.StoreTimestamp, due)
			}
		}
		offs := svc.Offsets()
		for level := 1; level <= 18; level++ {
			want := int64(1)
			if level == 18 {
				want = 2
			}
			if offs[level] != want {
				t.Errorf("level %d offset %d, want %d", level, offs[level], want)
			}
		}
	})
}

// TestDeliveredMessage: the delivered record is the sent message minus
// DELAY, with REAL_TOPIC/REAL_QID kept and WAIT=false; born data, flag,
// sysFlag and reconsume times are copied, and it is indexed by its key.
func TestDeliveredMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := defaultLevels(t)
		svc := newService(t, st, serviceOptions(fs, levels))
		stop := run(t, svc)
		defer stop()

		m := &message.Message{
			Topic: "%RETRY%G", QueueID: 0, Flag: 9, SysFlag: message.TransactionCommit,
			BornTimestamp: 1_234, BornHost: netip.MustParseAddrPort("10.9.8.7:6543"), ReconsumeTimes: 4,
			Body: []byte("payload"),
			Properties: message.EncodeProperties(map[string]string{
				"DELAY": "1", "TAGS": "tagA", "KEYS": "k1 k2", "UNIQ_KEY": "U1", "RETRY_TOPIC": "T", "WAIT": "true", "x": "y",
			}),
		}
		Redirect(m, levels)
		if _, err := st.Put(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		got := readAll(t, st, "%RETRY%G", 0)
		if len(got) != 1 {
			t.Fatalf("%d messages delivered", len(got))
		}
		d := got[0]
		if d.Flag != 9 || message.TransactionType(d.SysFlag) != message.TransactionCommit || d.BornTimestamp != 1_234 ||
			d.BornHost != m.BornHost || d.ReconsumeTimes != 4 || string(d.Body) != "payload" {
			t.Errorf("delivered %+v", d)
		}
		wantProps := map[string]string{
			"TAGS": "tagA", "KEYS": "k1 k2", "UNIQ_KEY": "U1", "RETRY_TOPIC": "T", "WAIT": "false", "x": "y",
			"REAL_TOPIC": "%RETRY%G", "REAL_QID": "0",
		}
		if p := message.DecodeProperties(d.Properties); fmt.Sprint(p) != fmt.Sprint(wantProps) {
			t.Errorf("properties %v, want %v", p, wantProps)
		}
		if found, err := st.QueryByKey("%RETRY%G", "k2", 10, 0, 1<<62); err != nil || len(found) != 1 {
			t.Errorf("QueryByKey: %d found, %v", len(found), err)
		}
	})
}

// TestPreparedHalfNotDelayed: a transaction half with DELAY stays a half,
// whether the hook sees it as sent (PREPARED) or as stored (half topic,
// bits cleared); its COMMIT record is delayed.
func TestPreparedHalfNotDelayed(t *testing.T) {
	levels := defaultLevels(t)
	sent := &message.Message{Topic: "T", SysFlag: message.TransactionPrepared, Properties: props("DELAY", "2", "TRAN_MSG", "true")}
	if Redirect(sent, levels) || sent.Topic != "T" {
		t.Fatal("a prepared message was redirected")
	}
	half := &message.Message{Topic: transHalfTopic, Properties: props("DELAY", "2", "REAL_TOPIC", "T", "REAL_QID", "1")}
	if Redirect(half, levels) || half.Topic != transHalfTopic {
		t.Fatal("a half was redirected")
	}
	commit := &message.Message{Topic: "T", QueueID: 1, SysFlag: message.TransactionCommit, Properties: props("DELAY", "2")}
	if !Redirect(commit, levels) || commit.Topic != Topic || commit.QueueID != 1 {
		t.Fatalf("the commit was not redirected: %+v", commit)
	}
}

// TestProgressResumedAfterRestart: progress is written to delayOffset.json
// in RocketMQ's shape and picked up by a new service, on the same store and
// on a reopened one; nothing is lost or delivered twice.
func TestProgressResumedAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		levels := []time.Duration{time.Second, 2 * time.Second}
		o := serviceOptions(fs, levels)
		svc := newService(t, st, o)
		stop := run(t, svc)

		for i := range 5 {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		time.Sleep(1500 * time.Millisecond)
		for i := 5; i < 10; i++ {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i)) // due at 2.5 s
		}
		time.Sleep(500 * time.Millisecond)
		stop() // at 2 s: five delivered
		if got := readFile(t, fs); got[1] != 5 || got[2] != 0 {
			t.Fatalf("delayOffset.json offsetTable = %v, want 1:5 2:0", got)
		}
		raw := readRaw(t, fs)
		if !strings.Contains(raw, `"offsetTable"`) || !strings.Contains(raw, `"1": 5`) {
			t.Errorf("delayOffset.json:\n%s", raw)
		}

		// A new service on the same store.
		svc = newService(t, st, o)
		if off := svc.Offsets()[1]; off != 5 {
			t.Fatalf("resumed at %d, want 5", off)
		}
		stop = run(t, svc)
		time.Sleep(time.Second)
		stop()
		if got := ids(readAll(t, st, "T", 0)); !sameStrings(got, seq("a", 0, 10)) {
			t.Fatalf("delivered %v", got)
		}

		// A restart of the store too.
		for i := 10; i < 13; i++ {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		stop = run(t, svc)
		time.Sleep(1100 * time.Millisecond)
		stop()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := svc.Persist(); err != nil {
			t.Fatal(err)
		}
		st = openStore(t, storeOptions(fs))
		defer st.Close()
		svc = newService(t, st, o)
		if off := svc.Offsets()[1]; off != 13 {
			t.Fatalf("resumed at %d after a store restart, want 13", off)
		}
		stop = run(t, svc)
		defer stop()
		send(t, st, levels, "T", 0, 1, "a13")
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		if got := ids(readAll(t, st, "T", 0)); !sameStrings(got, seq("a", 0, 14)) {
			t.Fatalf("delivered %v", got)
		}
	})
}

func readRaw(t testing.TB, fs vfs.FS) string {
	t.Helper()
	f, err := fs.Open(configDir + "/" + File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCrashRedeliversOnlyAfterLastWrite: after a power loss the messages
// delivered since the last write of delayOffset.json are delivered again,
// the ones before it are not, and none is lost.
func TestCrashRedeliversOnlyAfterLastWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := []time.Duration{time.Second}
		o := serviceOptions(fs, levels)
		svc := newService(t, st, o)
		stop := run(t, svc)
		defer stop()

		for i := range 10 {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		// Delivered at 1 s, written PersistDelay later.
		time.Sleep(2*time.Second + 100*time.Millisecond)
		for i := 10; i < 20; i++ {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		time.Sleep(time.Second + 100*time.Millisecond) // delivered, not yet written
		synctest.Wait()
		if got := svc.Offsets()[1]; got != 20 {
			t.Fatalf("offset %d before the crash, want 20", got)
		}
		crashed := fs.CrashClone()

		st2 := openStore(t, storeOptions(crashed))
		defer st2.Close()
		svc2 := newService(t, st2, serviceOptions(crashed, levels))
		if off := svc2.Offsets()[1]; off != 10 {
			t.Fatalf("resumed at %d after the crash, want 10", off)
		}
		stop2 := run(t, svc2)
		defer stop2()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		count := map[string]int{}
		for _, id := range ids(readAll(t, st2, "T", 0)) {
			count[id]++
		}
		for i := range 20 {
			id := fmt.Sprintf("a%02d", i)
			if want := 1 + i/10; count[id] != want { // a10…a19 were durable before the crash
				t.Errorf("%s delivered %d times, want %d", id, count[id], want)
			}
		}
	})
}

// TestUnflushedDeliveryNeverPersisted: under SYNC_FLUSH a delivery is put
// with WAIT=false and so not flushed at once; its progress is not written
// until the commit log is flushed past it, so a crash before that loses
// nothing.
func TestUnflushedDeliveryNeverPersisted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		so := storeOptions(fs)
		so.FlushDiskType = store.SyncFlush
		so.FlushInterval = time.Hour // only sync puts flush
		st := openStore(t, so)
		defer st.Close()
		levels := []time.Duration{time.Second}
		svc := newService(t, st, serviceOptions(fs, levels))
		stop := run(t, svc)
		defer stop()

		for i := range 5 {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i)) // synced
		}
		time.Sleep(3 * time.Second) // delivered at 1 s; PersistDelay passed
		synctest.Wait()
		if got := svc.Offsets()[1]; got != 5 {
			t.Fatalf("offset %d, want 5", got)
		}
		if err := svc.Persist(); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, fs)[1]; got != 0 {
			t.Fatalf("written offset %d ahead of the flushed commit log", got)
		}

		crashed := fs.CrashClone()
		st2 := openStore(t, so2(crashed))
		defer st2.Close()
		svc2 := newService(t, st2, serviceOptions(crashed, levels))
		stop2 := run(t, svc2)
		defer stop2()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := ids(readAll(t, st2, "T", 0)); !sameStrings(got, seq("a", 0, 5)) {
			t.Errorf("after the crash %v delivered, want all five", got)
		}

		// On the original, a synced put flushes the deliveries too.
		send(t, st, levels, "U", 0, 1, "flush")
		if err := svc.Persist(); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, fs)[1]; got != 5 {
			t.Errorf("written offset %d after the flush, want 5", got)
		}
	})
}

func so2(fs vfs.FS) store.Options {
	o := storeOptions(fs)
	o.FlushDiskType = store.SyncFlush
	return o
}

// TestDiskFullRetriesWithoutSkipping: a delivery refused for lack of disk
// is retried RetryInterval later from the same message, in order.
func TestDiskFullRetriesWithoutSkipping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		so := storeOptions(fs)
		so.CleanInterval = time.Second
		st := openStore(t, so)
		defer st.Close()
		levels := []time.Duration{3 * time.Second}
		svc := newService(t, st, serviceOptions(fs, levels))
		stop := run(t, svc)
		defer stop()

		for i := range 5 {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		du, err := fs.DiskUsage(storeDir)
		if err != nil {
			t.Fatal(err)
		}
		used := du.Total - du.Free
		fs.SetCapacity(used + used/10) // 91 % used: the cleaner refuses appends at 1 s
		time.Sleep(3100 * time.Millisecond)
		synctest.Wait()
		if _, err := st.Put(context.Background(), &message.Message{Topic: "X", Body: []byte("x")}); err == nil {
			t.Fatal("the store still takes messages")
		}
		if got := readAll(t, st, "T", 0); len(got) != 0 {
			t.Fatalf("delivered on a full disk: %v", ids(got))
		}
		fs.SetCapacity(vfs.DefaultMemCapacity) // the cleaner accepts appends again at 4 s
		time.Sleep(9800 * time.Millisecond)    // 12.9 s: the retry is due at 13 s
		synctest.Wait()
		if got := readAll(t, st, "T", 0); len(got) != 0 {
			t.Fatalf("retried before RetryInterval: %v", ids(got))
		}
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if got := ids(readAll(t, st, "T", 0)); !sameStrings(got, seq("a", 0, 5)) {
			t.Fatalf("delivered %v after the retry", got)
		}
	})
}

// TestUndeliverableRecordSkipped: a schedule record without REAL_TOPIC
// (written by hand) is dropped; the level goes on.
func TestUndeliverableRecordSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := []time.Duration{time.Second}
		svc := newService(t, st, serviceOptions(fs, levels))
		stop := run(t, svc)
		defer stop()

		send(t, st, levels, "T", 0, 1, "a00")
		if _, err := st.Put(context.Background(), &message.Message{Topic: Topic, Body: []byte("bad"), Properties: props("DELAY", "1")}); err != nil {
			t.Fatal(err)
		}
		send(t, st, levels, "T", 0, 1, "a01")
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		if got := ids(readAll(t, st, "T", 0)); !sameStrings(got, seq("a", 0, 2)) {
			t.Fatalf("delivered %v", got)
		}
		if off := svc.Offsets()[1]; off != 3 {
			t.Errorf("offset %d, want 3", off)
		}
	})
}

// TestLoadJavaFile: a file written by Java (bare numeric keys, a
// dataVersion) loads; offsets are clamped into their queues; unknown levels
// are kept.
func TestLoadJavaFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
		for i := range 4 {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		send(t, st, levels, "T", 0, 3, "c00")
		synctest.Wait()
		if err := jsonfile.EnsureDir(fs, configDir); err != nil {
			t.Fatal(err)
		}
		java := "{\n\t\"dataVersion\":{\"counter\":3,\"stateVersion\":0,\"timestamp\":1700000000000},\n" +
			"\t\"offsetTable\":{1:2,2:7,3:-4,25:9}\n}"
		if err := jsonfile.Write(fs, configDir+"/"+File, []byte(java)); err != nil {
			t.Fatal(err)
		}
		svc := newService(t, st, serviceOptions(fs, levels))
		if got, want := svc.Offsets(), map[int]int64{1: 2, 2: 0, 3: 0}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Offsets = %v, want %v", got, want)
		}
		if err := svc.Persist(); err != nil {
			t.Fatal(err)
		}
		if got, want := readFile(t, fs), map[int]int64{1: 2, 2: 0, 3: 0, 25: 9}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("written %v, want %v", got, want)
		}
		stop := run(t, svc)
		defer stop()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := ids(readAll(t, st, "T", 0)); !sameStrings(got, []string{"a02", "a03", "c00"}) {
			t.Errorf("delivered %v", got)
		}
	})
}

// TestLoadFallsBackToBackup: an unreadable delayOffset.json is replaced by
// its backup at once.
func TestLoadFallsBackToBackup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		levels := []time.Duration{time.Second}
		for i := range 3 {
			send(t, st, levels, "T", 0, 1, fmt.Sprintf("a%02d", i))
		}
		synctest.Wait()
		if err := jsonfile.EnsureDir(fs, configDir); err != nil {
			t.Fatal(err)
		}
		path := configDir + "/" + File
		if err := jsonfile.Write(fs, path+jsonfile.BakSuffix, []byte(`{"offsetTable":{"1":2}}`)); err != nil {
			t.Fatal(err)
		}
		if err := jsonfile.Write(fs, path, []byte(`{"offsetTable":{"1":`)); err != nil {
			t.Fatal(err)
		}
		svc := newService(t, st, serviceOptions(fs, levels))
		if off := svc.Offsets()[1]; off != 2 {
			t.Fatalf("loaded %d, want 2 from the backup", off)
		}
		if got := readFile(t, fs)[1]; got != 2 {
			t.Errorf("main file not rewritten: %d", got)
		}
	})
}

// TestNotifyWakesDrainedLevel: with polling made rare, Notify makes a
// drained level pick up a new record.
func TestNotifyWakesDrainedLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		var svc *Service
		so := storeOptions(fs)
		notify := make(chan struct{}, 64)
		so.OnDispatch = func(topic string, q int32, off int64) {
			if topic == Topic {
				select {
				case notify <- struct{}{}:
				default:
				}
			}
		}
		st := openStore(t, so)
		defer st.Close()
		levels := []time.Duration{time.Second}
		o := serviceOptions(fs, levels)
		o.PollInterval = time.Hour
		svc = newService(t, st, o)
		stop := run(t, svc)
		defer stop()
		synctest.Wait() // drained

		res := send(t, st, levels, "T", 0, 1, "a00")
		<-notify
		svc.Notify(Topic, 0, 0)
		time.Sleep(time.Until(time.UnixMilli(res.StoreTimestamp + 1000)))
		synctest.Wait()
		got := readAll(t, st, "T", 0)
		if len(got) != 1 || got[0].StoreTimestamp != res.StoreTimestamp+1000 {
			t.Fatalf("delivered %v", ids(got))
		}
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := vfs.NewMem()
		st := openStore(t, storeOptions(fs))
		defer st.Close()
		svc := newService(t, st, serviceOptions(fs, nil))
		stop := run(t, svc)
		defer stop()
		synctest.Wait()
		if err := svc.Run(context.Background()); err == nil {
			t.Error("a second Run started")
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions("/x").Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	for name, o := range map[string]Options{
		"no dir":         {},
		"empty levels":   {Dir: "/x", Levels: []time.Duration{}},
		"level below ms": {Dir: "/x", Levels: []time.Duration{time.Microsecond}},
		"negative flush": {Dir: "/x", FlushInterval: -1},
		"negative poll":  {Dir: "/x", PollInterval: -1},
		"negative retry": {Dir: "/x", RetryInterval: -1},
		"negative batch": {Dir: "/x", BatchSize: -1},
	} {
		if err := o.Validate(); err == nil || !strings.HasPrefix(err.Error(), "schedule: ") {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	if _, err := New(nil, DefaultOptions("/x")); err == nil {
		t.Error("New accepted a nil store")
	}
}
