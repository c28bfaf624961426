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
