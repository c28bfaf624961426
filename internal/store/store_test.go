package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// testOptions returns small-file options on fs (or the OS in a temp dir).
func testOptions(t testing.TB, fs vfs.FS) Options {
	t.Helper()
	dir := "/data/store"
	if fs == nil {
		dir = t.TempDir()
	} else {
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"/", "/data"} {
			if err := fs.SyncDir(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	o := DefaultOptions(dir)
	o.FS = fs
	o.SegmentSize = 128 << 10
	o.MaxMessageSize = 64 << 10
	o.ConsumeQueueUnits = 64
	o.IndexSlots = 64
	o.IndexEntries = 256
	o.WarmSegments = false
	o.FlushInterval = 10 * time.Millisecond
	o.FlushConsumeQueueInterval = 20 * time.Millisecond
	return o
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func newMsg(topic string, queue int32, i int, props map[string]string) *message.Message {
	if props == nil {
		props = map[string]string{}
	}
	if _, ok := props[message.PropertyUniqKey]; !ok {
		props[message.PropertyUniqKey] = fmt.Sprintf("UNIQ%06d", i)
	}
	return &message.Message{
		Topic:         topic,
		QueueID:       queue,
		BornTimestamp: 1_700_000_000_000 + int64(i),
		BornHost:      netip.MustParseAddrPort("10.1.2.3:50000"),
		Body:          []byte(fmt.Sprintf("body-%06d-%s", i, bytes.Repeat([]byte{'x'}, i%300))),
		Properties:    message.EncodeProperties(props),
	}
}

// waitDispatched waits until everything appended is readable.
func waitDispatched(t testing.TB, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.DispatchedOffset() < s.CommitLogMaxOffset() {
		if time.Now().After(deadline) {
			t.Fatalf("dispatch stuck at %d of %d", s.DispatchedOffset(), s.CommitLogMaxOffset())
		}
		time.Sleep(time.Millisecond)
	}
}

func readAll(t testing.TB, s *Store, topic string, queue int32) []message.Message {
	t.Helper()
	var out []message.Message
	off := s.MinOffset(topic, queue)
	for {
		r, err := s.GetMessages(topic, queue, off, 32, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != Found {
			return out
		}
		for _, rec := range r.Records {
			m, _, err := message.Decode(rec, true)
			if err != nil {
				t.Fatalf("decode served record: %v", err)
			}
			m.Body = bytes.Clone(m.Body)
			m.Properties = bytes.Clone(m.Properties)
			out = append(out, m)
		}
		off = r.NextBeginOffset
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	for _, flush := range []FlushDiskType{AsyncFlush, SyncFlush} {
		t.Run(flush.String(), func(t *testing.T) {
			o := testOptions(t, nil)
			o.FlushDiskType = flush
			s := openStore(t, o)
			ctx := context.Background()
			n := 1500 // spans several commit-log and consume-queue segments
			var want []PutResult
			for i := range n {
				r, err := s.Put(ctx, newMsg("TopicA", int32(i%3), i, map[string]string{"TAGS": "tag" + fmt.Sprint(i%2)}))
				if err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
				if r.QueueOffset != int64(i/3) {
					t.Fatalf("put %d: queue offset %d, want %d", i, r.QueueOffset, i/3)
				}
				want = append(want, r)
			}
			if len(s.clog.Segments()) < 3 {
				t.Fatalf("want several segments, got %d", len(s.clog.Segments()))
			}
			waitDispatched(t, s)
			for q := range int32(3) {
				got := readAll(t, s, "TopicA", q)
				if len(got) != n/3 {
					t.Fatalf("queue %d: %d messages, want %d", q, len(got), n/3)
				}
				for j, m := range got {
					i := j*3 + int(q)
					if wantBody := newMsg("TopicA", q, i, nil).Body; !bytes.Equal(m.Body, wantBody) {
						t.Fatalf("queue %d offset %d: body %q, want %q", q, j, m.Body, wantBody)
					}
					if m.QueueOffset != int64(j) || m.PhysicalOffset != want[i].PhysicalOffset {
						t.Fatalf("queue %d offset %d: stored offsets %d/%d, want %d/%d", q, j, m.QueueOffset, m.PhysicalOffset, j, want[i].PhysicalOffset)
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// A clean restart keeps everything and continues the offsets.
			s = openStore(t, o)
			defer s.Close()
			if got := readAll(t, s, "TopicA", 1); len(got) != n/3 {
				t.Fatalf("after restart: %d messages, want %d", len(got), n/3)
			}
			r, err := s.Put(ctx, newMsg("TopicA", 1, n, nil))
			if err != nil {
				t.Fatal(err)
			}
			if r.QueueOffset != int64(n/3) {
				t.Fatalf("after restart: queue offset %d, want %d", r.QueueOffset, n/3)
			}
		})
	}
}

func TestSyncFlushGroupCommitAcksOnlyDurable(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	o.FlushDiskType = SyncFlush
	o.FlushInterval = time.Hour // only on-demand syncs
	s := openStore(t, o)
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[int64][]byte{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 50 {
				m := newMsg("G", int32(w%4), w*1000+i, nil)
				r, err := s.Put(ctx, m)
				if err != nil {
					t.Errorf("put: %v", err)
					return
				}
				// Snapshot the durable state right after the ack.
				mu.Lock()
				acked[r.PhysicalOffset] = bytes.Clone(m.Body)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	crashed := fs.CrashClone()
	s.Close()
	o.FS = crashed
	s2 := openStore(t, o)
	defer s2.Close()
	for off, body := range acked {
		m, err := s2.LookMessage(off)
		if err != nil {
			t.Fatalf("acked message at %d lost after crash: %v", off, err)
		}
		if !bytes.Equal(m.Body, body) {
			t.Fatalf("acked message at %d changed", off)
		}
	}
	total := 0
	for q := range int32(4) {
		total += len(readAll(t, s2, "G", q))
	}
	if total != len(acked) {
		t.Fatalf("after crash: %d readable, %d acked", total, len(acked))
	}
}

func TestRejectsBadMessages(t *testing.T) {
	s := openStore(t, testOptions(t, vfs.NewMem()))
	defer s.Close()
	ctx := context.Background()
	big := newMsg("T", 0, 0, nil)
	big.Body = make([]byte, 64<<10+1)
	cases := []struct {
		name string
		m    *message.Message
		want error
	}{
		{"empty topic", &message.Message{Body: []byte("x")}, ErrMessageIllegal},
		{"body over maxMessageSize", big, ErrMessageTooLarge},
		{"long topic", &message.Message{Topic: string(bytes.Repeat([]byte{'t'}, 256))}, ErrMessageIllegal},
		{"negative queue", &message.Message{Topic: "T", QueueID: -1}, ErrMessageIllegal},
		{"properties too long", &message.Message{Topic: "T", Properties: make([]byte, 40000)}, ErrMessageIllegal},
	}
	for _, c := range cases {
		if _, err := s.Put(ctx, c.m); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if s.CommitLogMaxOffset() != 0 {
		t.Fatalf("rejected messages were written: write offset %d", s.CommitLogMaxOffset())
	}
}

// TestPutAllDropsOnlyTheRefused: one message over the size limit in a
// batch is handed to dropped; the others are stored in order.
func TestPutAllDropsOnlyTheRefused(t *testing.T) {
	s := openStore(t, testOptions(t, nil))
	defer s.Close()
	big := newMsg("T", 0, 1, nil)
	big.Body = make([]byte, 128<<10)
	msgs := []*message.Message{newMsg("T", 0, 0, nil), big, newMsg("T", 0, 2, nil)}
	var dropped []*message.Message
	done, end, err := s.PutAll(context.Background(), msgs, func(m *message.Message, err error) {
		if !errors.Is(err, ErrMessageTooLarge) && !errors.Is(err, ErrMessageIllegal) {
			t.Errorf("dropped for %v", err)
		}
		dropped = append(dropped, m)
	})
	if err != nil || done != 3 || len(dropped) != 1 || dropped[0] != big || end != s.CommitLogMaxOffset() {
		t.Fatalf("done %d end %d (log end %d) err %v dropped %d", done, end, s.CommitLogMaxOffset(), err, len(dropped))
	}
	for deadline := time.Now().Add(5 * time.Second); s.DispatchedOffset() < end && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := s.MaxOffset("T", 0); got != 2 {
		t.Fatalf("queue holds %d messages, want 2", got)
	}
}
