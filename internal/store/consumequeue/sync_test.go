package consumequeue

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestSyncBesidePutAndDeleteBefore runs Sync in a loop on its own goroutine
// while the writer puts units (rolling a segment every 16) and another
// goroutine deletes old segments and readers read: the store's checkpoint
// goroutine beside its dispatcher and retention. Under -race it checks that
// no sync reads bytes the writer is writing and that no segment is closed
// under a sync; at the end a sync covers everything put.
func TestSyncBesidePutAndDeleteBefore(t *testing.T) {
	fs := newMem(t)
	q := open(t, fs, 16)
	var syncs, deletes atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			must(t, q.Sync())
			syncs.Add(1)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			// Records of durable units are "gone" (retention deletes only
			// long-synced segments: a deleted segment may come back after
			// a crash until a directory sync makes its removal durable).
			if d := q.segs.DurableOffset() / UnitSize; d > 0 {
				d, err := q.DeleteBefore(unit(0, d).CommitLogOffset)
				must(t, err)
				deletes.Add(int64(d))
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			q.Read(q.MinOffset(), func(off int64, u Unit) bool {
				if u != unit(0, off) {
					t.Errorf("read unit %d = %+v", off, u)
				}
				return true
			})
		}
	})
	// Write until both ran a while beside the writer (bounded).
	var n int64
	for ; n < 2000 || (syncs.Load() < 20 || deletes.Load() < 20) && n < 1_000_000; n++ {
		put(t, q, n, unit(0, n))
	}
	close(done)
	wg.Wait()
	must(t, q.Sync())
	if syncs.Load() == 0 || deletes.Load() == 0 {
		t.Fatalf("%d syncs and %d segments deleted beside the writer; want both", syncs.Load(), deletes.Load())
	}
	if got := q.segs.DurableOffset() / UnitSize; got != n {
		t.Fatalf("durable up to unit %d after the last sync, want %d", got, n)
	}
	r, err := Open(fs.CrashClone(), dir, "TopicTest", 0, 16)
	must(t, err)
	defer r.Close()
	// (Deleted segments may come back: removals are made durable by the
	// directory sync of the next roll; retention runs again after recovery.)
	if r.MaxOffset() != n {
		t.Fatalf("after a crash: %d units, want %d", r.MaxOffset(), n)
	}
	checkPrefix(t, r, func(k int64) (Unit, bool) { return unit(0, k), true })
}
