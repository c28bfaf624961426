package pop

import (
	"errors"
	"reflect"
	"testing"
)

func ck(topic string, q int32, so, pt, it int64, diffs ...int32) *CheckPoint {
	return &CheckPoint{StartOffset: so, PopTime: pt, InvisibleTime: it, Num: len(diffs), QueueID: q, Topic: topic,
		Group: "G", Diffs: diffs, BrokerName: "b"}
}

var qT0 = QueueKey{"T", "G", 0}

// TestBookOffsetAdvancesPastFullyAckedRanges: the consume offset moves
// past a pop's range only when all of it is acked, and in pop order.
func TestBookOffsetAdvancesPastFullyAckedRanges(t *testing.T) {
	b := NewBook()
	c1 := ck("T", 0, 0, 1000, 5000, 0, 1, 2)
	c2 := ck("T", 0, 3, 1001, 5000, 0, 2) // offset 4 was filtered out
	b.AddPop(c1, 0, 0, 3)
	b.AddPop(c2, 1, 0, 6)
	if cur, _ := b.Cursor(qT0); cur != 6 {
		t.Fatalf("cursor %d", cur)
	}
	must := func(k Key, off int64) []Commit {
		t.Helper()
		first, c, err := b.Ack(k, off, 2000)
		if err != nil || !first {
			t.Fatalf("ack %d: %v %v", off, first, err)
		}
		return c
	}
	if c := must(c2.Key(), 3); c != nil {
		t.Fatal(c)
	}
	if c := must(c2.Key(), 5); c != nil {
		t.Fatalf("range 2 done before range 1: %v", c)
	}
	must(c1.Key(), 0)
	must(c1.Key(), 2)
	if c := must(c1.Key(), 1); !reflect.DeepEqual(c, []Commit{{qT0, 6}}) {
		t.Fatalf("commits %v, want offset 6", c)
	}
	if first, _, err := b.Ack(c1.Key(), 1, 2000); first || err != nil {
		t.Fatalf("second ack: %v %v", first, err)
	}
	if _, _, err := b.Ack(c1.Key(), 9, 2000); !errors.Is(err, ErrHandleUnknown) {
		t.Fatalf("offset not in the checkpoint: %v", err)
	}
	if _, _, err := b.Ack(c1.Key(), 1, 6000); !errors.Is(err, ErrHandleExpired) {
		t.Fatalf("after the revive time: %v", err)
	}
	// Both records are released: the revive progress is past them.
	for rq := range int32(2) {
		if p, ok := b.Progress(rq); !ok || p != 1 {
			t.Fatalf("progress of %d: %d %v", rq, p, ok)
		}
	}
	if d := b.Due(10000, 10); len(d) != 0 {
		t.Fatalf("fully acked checkpoints revived: %v", d)
	}
	if b.Pending() != 0 {
		t.Fatal(b.Pending())
	}
}

// TestBookRevive: a checkpoint is due at its revive time with its unacked
// offsets; Revived finishes it; Retry puts it back.
func TestBookRevive(t *testing.T) {
	b := NewBook()
	c := ck("T", 0, 10, 1000, 500, 0, 1)
	b.AddMock(qT0, 0, 10)
	b.AddPop(c, 3, 7, 12)
	b.Ack(c.Key(), 10, 1200)
	if at, ok := b.NextDue(); !ok || at != 1500 {
		t.Fatal(at, ok)
	}
	if d := b.Due(1499, 10); len(d) != 0 {
		t.Fatal("due before its time")
	}
	d := b.Due(1500, 10)
	if len(d) != 1 || !reflect.DeepEqual(d[0].Offsets, []int64{11}) || d[0].ReviveQid != 3 {
		t.Fatalf("%+v", d)
	}
	if _, _, err := b.Ack(c.Key(), 11, 1400); !errors.Is(err, ErrHandleExpired) {
		t.Fatalf("ack while reviving: %v", err)
	}
	b.Retry(c.Key(), 2000)
	if d := b.Due(1999, 10); len(d) != 0 {
		t.Fatal("retried too early")
	}
	d = b.Due(2000, 10)
	if len(d) != 1 {
		t.Fatal(d)
	}
	if c := b.Revived(c.Key()); !reflect.DeepEqual(c, []Commit{{qT0, 12}}) {
		t.Fatalf("commits %v", c)
	}
	if p, _ := b.Progress(3); p != 8 {
		t.Fatalf("progress %d", p)
	}
}

// TestBookChangeInvisible: the moved message's old handle is dead, its
// range waits for the new checkpoint.
func TestBookChangeInvisible(t *testing.T) {
	b := NewBook()
	c := ck("T", 0, 0, 1000, 500, 0)
	b.AddPop(c, 0, 0, 1)
	if err := b.Check(c.Key(), 0, 1100); err != nil {
		t.Fatal(err)
	}
	n := ck("T", 0, 0, 1100, 5000, 0)
	b.AddChange(n, 0, 1)
	if commits := b.Move(c.Key(), 0); commits != nil {
		t.Fatalf("range committed while the message is in flight: %v", commits)
	}
	if _, _, err := b.Ack(c.Key(), 0, 1200); !errors.Is(err, ErrHandleUnknown) {
		t.Fatalf("old handle: %v", err)
	}
	if err := b.Check(c.Key(), 0, 1200); !errors.Is(err, ErrHandleUnknown) {
		t.Fatalf("check old handle: %v", err)
	}
	if d := b.Due(1600, 10); len(d) != 0 {
		t.Fatalf("old checkpoint revived: %v", d)
	}
	_, commits, err := b.Ack(n.Key(), 0, 2000)
	if err != nil || !reflect.DeepEqual(commits, []Commit{{qT0, 1}}) {
		t.Fatalf("%v %v", commits, err)
	}
	if p, _ := b.Progress(0); p != 2 {
		t.Fatalf("progress %d", p)
	}
}

// TestBookRebuild: what a restart reads back (checkpoints and acks) gives
// the same pending work, ranges and cursor.
func TestBookRebuild(t *testing.T) {
	b := NewBook()
	c1 := ck("T", 0, 0, 1000, 500, 0, 1)
	c2 := ck("T", 0, 2, 1000, 500, 0)
	moved := ck("T", 0, 1, 1200, 900, 0)
	b.Load(c1, 0, 0)
	b.Load(c2, 1, 0)
	b.Load(moved, 0, 1)
	b.LoadAck(c1.Key(), []int64{0, 1}) // 0 acked, 1 moved
	b.LoadAck(Key{Topic: "T", Group: "G"}, []int64{5})
	commits := b.Rebuild(func(QueueKey) int64 { return 0 })
	if len(commits) != 0 {
		t.Fatalf("commits %v before the moved message is done", commits)
	}
	if cur, _ := b.Cursor(qT0); cur != 3 {
		t.Fatalf("cursor %d", cur)
	}
	d := b.Due(1500, 10)
	if len(d) != 1 || d[0].CK.StartOffset != 2 {
		t.Fatalf("due %+v", d)
	}
	if c := b.Revived(d[0].CK.Key()); len(c) != 0 {
		t.Fatalf("committed past the moved message: %v", c)
	}
	d = b.Due(2100, 10)
	if len(d) != 1 || d[0].CK.StartOffset != 1 {
		t.Fatalf("due %+v", d)
	}
	if c := b.Revived(d[0].CK.Key()); !reflect.DeepEqual(c, []Commit{{qT0, 3}}) {
		t.Fatalf("commits %v", c)
	}
}

// TestBookReset: an admin reset drops the ranges and moves the cursor.
func TestBookReset(t *testing.T) {
	b := NewBook()
	c := ck("T", 0, 0, 1000, 500, 0)
	b.AddPop(c, 0, 0, 1)
	b.Reset(qT0, 40)
	if cur, _ := b.Cursor(qT0); cur != 40 {
		t.Fatal(cur)
	}
	if _, commits, err := b.Ack(c.Key(), 0, 1100); err != nil || commits != nil {
		t.Fatalf("%v %v", commits, err)
	}
	if p, _ := b.Progress(0); p != 1 {
		t.Fatalf("progress %d", p)
	}
}
