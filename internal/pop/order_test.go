package pop

import (
	"errors"
	"testing"
)

// scanAll visits offsets 0..len(groups)-1 and returns what is delivered.
func scanAll(q *OrderQueue, now int64, attempt string, groups []string, pt, inv int64) map[int64]int {
	s := q.NewScan(now, attempt)
	out := map[int64]int{}
	for off, g := range groups {
		if ok, count := s.Visit(int64(off), g); ok {
			s.Deliver(int64(off), g, pt, inv, count)
			out[int64(off)] = count
		}
	}
	q.Advance()
	return out
}

// TestOrderBlocksPerMessageGroup: a group with a message in flight is held;
// other groups of the queue are not.
func TestOrderBlocksPerMessageGroup(t *testing.T) {
	q := newOrderQueue(0)
	groups := []string{"a", "b", "a", "c", "b"}
	got := scanAll(q, 1000, "", groups, 1000, 100)
	if len(got) != 5 {
		t.Fatalf("first pop delivered %v", got)
	}
	if got := scanAll(q, 1050, "", groups, 1050, 100); len(got) != 0 {
		t.Fatalf("second pop while all in flight: %v", got)
	}
	if err := q.Ack(1, 1000, 1060); err != nil { // b-1
		t.Fatal(err)
	}
	if err := q.Ack(4, 1000, 1060); err != nil { // b-4
		t.Fatal(err)
	}
	if q.Committed != 0 {
		t.Fatalf("committed %d while offset 0 is in flight", q.Committed)
	}
	for _, off := range []int64{0, 2, 3} {
		if err := q.Ack(off, 1000, 1070); err != nil {
			t.Fatal(err)
		}
	}
	if q.Committed != 5 || len(q.Inflight) != 0 || len(q.Done) != 0 {
		t.Fatalf("%+v", q)
	}
}

// TestOrderRedelivery: an unacked message comes back after its invisible
// time with its count raised, before the rest of its group; ChangeInvisible
// moves that time; stale and expired handles are refused.
func TestOrderRedelivery(t *testing.T) {
	q := newOrderQueue(0)
	groups := []string{"a", "a", "b"}
	s := q.NewScan(1000, "")
	s.Visit(0, "a")
	s.Deliver(0, "a", 1000, 100, 0)
	s.Visit(2, "b")
	s.Deliver(2, "b", 1000, 100, 0)
	if nv, err := q.Change(2, 1000, 1050, 500); err != nil || nv != 1550 {
		t.Fatal(nv, err)
	}
	got := scanAll(q, 1200, "", groups, 1200, 100)
	if len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatalf("after the invisible time: %v, want 0 again (count 1) and 1", got)
	}
	if err := q.Ack(0, 1000, 1210); !errors.Is(err, ErrHandleUnknown) {
		t.Fatalf("stale handle: %v", err)
	}
	if err := q.Ack(0, 1200, 1300); !errors.Is(err, ErrHandleExpired) {
		t.Fatalf("expired handle: %v", err)
	}
	if err := q.Ack(2, 1000, 1500); err != nil {
		t.Fatalf("changed handle: %v", err)
	}
	if err := q.Ack(2, 1000, 1500); err != nil {
		t.Fatalf("second ack: %v", err)
	}
	if _, err := q.Change(2, 1000, 1500, 10); !errors.Is(err, ErrHandleUnknown) {
		t.Fatalf("change after ack: %v", err)
	}
	if nv, ok := q.NextVisible(1250); !ok || nv != 1300 {
		t.Fatal(nv, ok)
	}
}

// TestOrderAttemptID: a pop with the attempt id of the pop in flight gets
// the same messages again without raising their count.
func TestOrderAttemptID(t *testing.T) {
	q := newOrderQueue(0)
	groups := []string{"a"}
	scanAll(q, 1000, "x", groups, 1000, 100)
	if got := scanAll(q, 1010, "y", groups, 1010, 100); len(got) != 0 {
		t.Fatal(got)
	}
	if got := scanAll(q, 1020, "x", groups, 1020, 100); len(got) != 1 || got[0] != 0 {
		t.Fatal(got)
	}
}

// TestOrderSkipAndDead: filtered and dead-lettered offsets count as done.
func TestOrderSkipAndDead(t *testing.T) {
	q := newOrderQueue(3)
	s := q.NewScan(1000, "")
	s.Skip(0, 5)
	s.Dead(5)
	if q.Advance() != 6 {
		t.Fatal(q.Committed)
	}
}

func TestOrderBookCodec(t *testing.T) {
	b := NewOrderBook()
	b.Lock()
	q := b.Queue(QueueKey{"T", "G", 1}, 4)
	s := q.NewScan(1000, "att")
	s.Deliver(4, "g", 1000, 100, 2)
	s.Skip(5, 6)
	b.Queue(QueueKey{"T", "G", 2}, 0) // empty: not written
	b.Unlock()
	back, err := DecodeOrderBook(b.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got := back.Lookup(QueueKey{"T", "G", 1})
	if got == nil || got.Committed != 4 || got.Inflight[4].Count != 2 || got.Inflight[4].Attempt != "att" || !got.Done[5] {
		t.Fatalf("%+v", got)
	}
	if back.Lookup(QueueKey{"T", "G", 2}) != nil {
		t.Fatal("empty queue written")
	}
	// A consume offset ahead of the state drops what is below it.
	back.Lock()
	q = back.Queue(QueueKey{"T", "G", 1}, 6)
	back.Unlock()
	if q.Committed != 6 || len(q.Inflight) != 0 || len(q.Done) != 0 {
		t.Fatalf("%+v", q)
	}
	if _, err := DecodeOrderBook([]byte(`{"queues":[{"t":"T"}]}`)); !errors.Is(err, ErrBadRecord) {
		t.Fatal(err)
	}
}

// FuzzDecodeOrderBook: the FIFO state file never panics the decoder.
func FuzzDecodeOrderBook(f *testing.F) {
	f.Add([]byte(`{"queues":[{"t":"T","c":"G","q":1,"co":4,"in":{"4":{"pt":1000,"it":100,"nv":1100,"c":2}},"dn":{"5":true}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ob, err := DecodeOrderBook(b)
		if err != nil {
			return
		}
		if _, err := DecodeOrderBook(ob.Encode()); err != nil {
			t.Fatal(err)
		}
	})
}
