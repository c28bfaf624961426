package index

import (
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// TestSyncBesidePutOnOS runs Sync in a loop on its own goroutine while Put
// writes, files roll every few entries and DeleteBefore drops old files, on
// the OS file system, where Sync does not keep Put out even of the newest
// file: the store's checkpoint goroutine beside its dispatcher and
// retention. Under -race it checks that Sync touches nothing Put writes and
// that no file is unmapped under it; Put must never wait for a sync there.
func TestSyncBesidePutOnOS(t *testing.T) {
	d := filepath.Join(t.TempDir(), "index")
	ix, err := Open(vfs.Default, d, Options{SlotCount: 16, MaxEntries: 32})
	if err != nil {
		t.Fatal(err)
	}
	if !ix.syncBesidePut {
		t.Fatal("the OS file system should sync beside Put")
	}
	m := genPuts(3000, 10, 0, 1_700_000_000_000)
	var syncs, deleted atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := ix.Sync(); err != nil {
				t.Error(err)
				return
			}
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
			// Keep roughly the newest 1000 messages' files.
			n, err := ix.DeleteBefore(ix.EndPhyOffset() - 100_000)
			if err != nil {
				t.Error(err)
				return
			}
			deleted.Add(int64(n))
		}
	})
	putAll(t, ix, m...)
	close(done)
	wg.Wait()
	if syncs.Load() == 0 || deleted.Load() == 0 {
		t.Fatalf("%d syncs and %d files deleted beside Put; want both", syncs.Load(), deleted.Load())
	}
	if err := ix.Sync(); err != nil {
		t.Fatal(err)
	}
	verifyFiles(t, ix)
	last := m[len(m)-1]
	if got, err := ix.Query(last.key, 4, math.MinInt64, math.MaxInt64); err != nil || len(got) != 1 || got[0] != last.off {
		t.Fatalf("Query(%q) = %v, %v; want [%d]", last.key, got, err, last.off)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
}
