package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// TestGroupCommitSharesSyncs: concurrent SYNC_FLUSH puts on a real disk are
// answered by far fewer fdatasyncs than puts (one leader syncs for every put
// that arrived meanwhile), and each is acknowledged only once durable.
func TestGroupCommitSharesSyncs(t *testing.T) {
	o := DefaultOptions(t.TempDir())
	o.SegmentSize = 16 << 20
	o.IndexSlots, o.IndexEntries = 1000, 4000
	o.FlushDiskType = SyncFlush
	s := openStore(t, o)
	defer s.Close()
	const producers, each = 16, 40
	syncs0 := s.Syncs()
	var wg sync.WaitGroup
	for w := range producers {
		wg.Go(func() {
			for i := range each {
				r, err := s.Put(context.Background(), newMsg("GC", int32(w%4), w*1000+i, nil))
				if err != nil {
					t.Errorf("put: %v", err)
					return
				}
				if end := r.PhysicalOffset + int64(r.Size); s.flushed.Load() < end {
					t.Errorf("acknowledged at %d before the log was durable there (%d)", end, s.flushed.Load())
				}
			}
		})
	}
	wg.Wait()
	puts, syncs := int64(producers*each), s.Syncs()-syncs0
	t.Logf("%d puts, %d syncs", puts, syncs)
	if syncs > puts/2 {
		t.Fatalf("%d syncs for %d concurrent puts: no group commit", syncs, puts)
	}
}

// TestGroupCommitFailureAnswersEveryWaiter: when the fdatasync a group waits
// for fails, every put of the group gets ErrNotWritable; none hangs and
// none is told its message is durable.
func TestGroupCommitFailureAnswersEveryWaiter(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.Inject(mem, vfs.FailPath(func(p string) bool { return filepath.Base(filepath.Dir(p)) == "commitlog" }, syscall.EIO, vfs.OpSync))
	efs.Disable()
	o := testOptions(t, efs)
	o.FlushDiskType = SyncFlush
	s := openStore(t, o)
	defer s.Close()
	if _, err := s.Put(context.Background(), newMsg("F", 0, 1000, nil)); err != nil {
		t.Fatal(err) // the segment exists before syncs fail
	}
	efs.Enable()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Go(func() {
			_, err := s.Put(context.Background(), newMsg("F", int32(w%4), w, nil))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrNotWritable) {
			t.Fatalf("put in a failed group: %v, want ErrNotWritable", err)
		}
	}
}

// TestConcurrentPutsGetDistinctOffsets: puts from many goroutines (served
// by whichever of them is combining) each get their own commit-log offset,
// and every queue's offsets run 0, 1, 2, … with no gap and no repeat.
func TestConcurrentPutsGetDistinctOffsets(t *testing.T) {
	s := openStore(t, testOptions(t, vfs.NewMem()))
	defer s.Close()
	const producers, each = 16, 300
	type got struct {
		q   int32
		off int64
		phy int64
	}
	results := make(chan got, producers*each)
	var wg sync.WaitGroup
	for w := range producers {
		wg.Go(func() {
			for i := range each {
				q := int32((w + i) % 4)
				r, err := s.Put(context.Background(), newMsg("CP", q, w*1000+i, nil))
				if err != nil {
					t.Errorf("put: %v", err)
					return
				}
				results <- got{q, r.QueueOffset, r.PhysicalOffset}
			}
		})
	}
	wg.Wait()
	close(results)
	phys := map[int64]bool{}
	offs := map[int32]map[int64]bool{}
	for r := range results {
		if phys[r.phy] {
			t.Fatalf("commit-log offset %d given twice", r.phy)
		}
		phys[r.phy] = true
		if offs[r.q] == nil {
			offs[r.q] = map[int64]bool{}
		}
		if offs[r.q][r.off] {
			t.Fatalf("queue %d offset %d given twice", r.q, r.off)
		}
		offs[r.q][r.off] = true
	}
	for q, m := range offs {
		for i := range int64(len(m)) {
			if !m[i] {
				t.Fatalf("queue %d: offset %d missing of %d", q, i, len(m))
			}
		}
	}
	if len(phys) != producers*each {
		t.Fatalf("%d puts answered, want %d", len(phys), producers*each)
	}
}
