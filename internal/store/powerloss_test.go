package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// TestPowerLossKeepsAcknowledgedMessages cuts power at a random moment while
// producers append under SYNC_FLUSH: every page not synced keeps its old or
// new content at random (torn writes). Every acknowledged message must come
// back, and nothing damaged may be served.
func TestPowerLossKeepsAcknowledgedMessages(t *testing.T) {
	if raceEnabled {
		t.Skip("takes crash images while the store writes; races by design")
	}
	seeds := 30
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			fs := vfs.NewMem()
			o := testOptions(t, fs)
			o.FlushDiskType = SyncFlush
			s := openStore(t, o)
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			var mu sync.Mutex
			acked := map[int64][]byte{}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						m := newMsg("PL", int32(w), w*100000+i, nil)
						r, err := s.Put(context.Background(), m)
						if err != nil {
							return
						}
						mu.Lock()
						acked[r.PhysicalOffset] = bytes.Clone(m.Body)
						mu.Unlock()
					}
				})
			}
			time.Sleep(time.Duration(5+rng.IntN(40)) * time.Millisecond)
			// The image is taken while appends and syncs are in flight;
			// every ack recorded before it was covered by a sync.
			mu.Lock()
			img := fs.CrashCloneKeep(rng)
			before := len(acked)
			snapshot := make(map[int64][]byte, before)
			for k, v := range acked {
				snapshot[k] = v
			}
			mu.Unlock()
			close(stop)
			wg.Wait()
			s.Close()

			o.FS = img
			s2, err := Open(o)
			if err != nil {
				t.Fatalf("recovery after power loss: %v", err)
			}
			defer s2.Close()
			for off, body := range snapshot {
				m, err := s2.LookMessage(off)
				if err != nil || !bytes.Equal(m.Body, body) {
					t.Fatalf("acknowledged message at %d lost or changed: %v", off, err)
				}
			}
			served := 0
			for q := range int32(4) {
				for _, m := range readAll(t, s2, "PL", q) {
					if _, _, err := message.Decode(mustRecord(t, s2, m.PhysicalOffset), true); err != nil {
						t.Fatalf("served a damaged record: %v", err)
					}
					served++
				}
			}
			if served < before {
				t.Fatalf("%d served, %d acknowledged", served, before)
			}
		})
	}
}

func mustRecord(t *testing.T, s *Store, off int64) []byte {
	t.Helper()
	rec, err := s.ReadRecord(off)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestDamagedCheckpointMeansFullRescan: a checkpoint whose checksum fails is
// ignored, and recovery rebuilds consume queues and index from the whole
// commit log.
func TestDamagedCheckpointMeansFullRescan(t *testing.T) {
	fs, o, _ := fillStore(t, 30, false)
	patch(t, fs, filepath.Join(o.Dir, "checkpoint"), 40, func(b []byte) { b[3] ^= 0x55 })
	for _, d := range []string{"consumequeue", "index"} {
		fs.RemoveAll(filepath.Join(o.Dir, d))
	}
	s := openStore(t, o)
	defer s.Close()
	if got := readAll(t, s, "TopicF", 0); len(got) != 30 {
		t.Fatalf("after a damaged checkpoint: %d messages, want 30", len(got))
	}
	if got, _ := s.QueryByKey("TopicF", "k17", 4, 0, time.Now().UnixMilli()+1000); len(got) != 1 {
		t.Fatalf("index not rebuilt: %d results", len(got))
	}
}

func TestCheckpointFormat(t *testing.T) {
	cases := []checkpoint{
		{},
		{PhysicMsgTimestamp: 1, LogicsMsgTimestamp: 2, IndexMsgTimestamp: 3, MasterFlushedOffset: 4, ConfirmPhyOffset: 5, SafeOffset: 6},
		{PhysicMsgTimestamp: 1_700_000_000_000, SafeOffset: 1 << 40},
	}
	for _, c := range cases {
		b := c.encode()
		if len(b) != checkpointSize {
			t.Fatalf("encoded %d bytes", len(b))
		}
		got, ok := decodeCheckpoint(b)
		if !ok || got != c {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", c, got, ok)
		}
		b[41] ^= 1
		if _, ok := decodeCheckpoint(b); ok {
			t.Fatal("damaged checkpoint accepted")
		}
	}
	if _, ok := decodeCheckpoint(make([]byte, 10)); ok {
		t.Fatal("short checkpoint accepted")
	}
	// RocketMQ's fields sit where the Java broker puts them.
	b := checkpoint{PhysicMsgTimestamp: 0x0102030405060708}.encode()
	if b[0] != 1 || b[7] != 8 {
		t.Fatalf("physicMsgTimestamp not big-endian at offset 0: % x", b[:8])
	}
}

// TestCleanerDeletesAtDeleteWhen runs the retention loop with a clock in the
// deleteWhen hour, far past fileReservedTime.
func TestCleanerDeletesAtDeleteWhen(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	o.CleanInterval = 5 * time.Millisecond
	var mu sync.Mutex
	// Segment files get the real time as mtime; the store's clock says 03:00
	// five days later: expired, but not the deleteWhen hour.
	now := time.Now().Add(5 * 24 * time.Hour)
	now = time.Date(now.Year(), now.Month(), now.Day(), 3, 0, 0, 0, time.Local)
	o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openStore(t, o)
	defer s.Close()
	for i := range 1500 {
		if _, err := s.Put(context.Background(), newMsg("TopicC", 0, i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s)
	n := len(s.clog.Segments())
	time.Sleep(50 * time.Millisecond) // several cleaner passes at 03:00
	if got := len(s.clog.Segments()); got != n {
		t.Fatalf("segments deleted outside deleteWhen: %d → %d", n, got)
	}
	mu.Lock()
	now = now.Add(time.Hour) // 04:00
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.clog.Segments()) >= n {
		if time.Now().After(deadline) {
			t.Fatalf("no segment deleted at deleteWhen (still %d)", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
