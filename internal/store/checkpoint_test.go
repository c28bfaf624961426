package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/commitlog"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// TestCheckpointNeverClaimsUndurableData cuts power at a random moment while
// the checkpoint goroutine syncs consume queues and index beside a busy
// dispatcher (every millisecond). Recovery trusts them below the
// checkpoint's safe offset, so if a checkpoint ever claimed units or index
// entries that were not yet durable, records of the recovered commit log
// would be missing from their queue or from the index.
func TestCheckpointNeverClaimsUndurableData(t *testing.T) {
	if raceEnabled {
		t.Skip("takes crash images while the store writes; races by design")
	}
	seeds := 24
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			fs := vfs.NewMem()
			o := testOptions(t, fs)
			o.FlushInterval = 2 * time.Millisecond
			o.FlushConsumeQueueInterval = time.Millisecond
			s := openStore(t, o)
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := s.Put(context.Background(), newMsg("CK", int32(i%4), w*1_000_000+i, nil)); err != nil {
							return
						}
					}
				})
			}
			time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
			var img *vfs.MemFS
			if seed%2 == 0 {
				img = fs.CrashClone() // nothing unsynced survives
			} else {
				img = fs.CrashCloneKeep(rng) // some of it does, torn
			}
			close(stop)
			wg.Wait()
			s.Close()

			o.FS = img
			s2, err := Open(o)
			if err != nil {
				t.Fatalf("recovery after power loss: %v", err)
			}
			defer s2.Close()
			checkDerivedMatchLog(t, s2, "CK", 4)
		})
	}
}

// checkDerivedMatchLog checks that every record of topic in the commit log
// is in its consume queue, in order, and found by its UNIQ_KEY.
func checkDerivedMatchLog(t *testing.T, s *Store, topic string, queues int32) {
	t.Helper()
	type rec struct {
		off  int64
		uniq string
	}
	want := map[int32][]rec{}
	segs := s.clog.Segments()
	if len(segs) == 0 {
		return
	}
	// Walk the log as recovery does: a damaged record followed by valid
	// ones is skipped (and never served), the first other one is the end.
	window := s.opts.MaxMessageSize + 64<<10 + 256
	for off := segs[0].Base(); off < s.CommitLogMaxOffset(); {
		next, err := s.clog.Scan(off, s.CommitLogMaxOffset(), true, func(off int64, b []byte) error {
			m, _, err := message.Decode(b, false)
			if err != nil {
				return err
			}
			if m.Topic == topic {
				// A torn page can zero the properties of a record whose
				// body CRC still holds (the CRC covers only the body): its
				// key is gone, so only its unit is checked.
				uniq, _ := message.Property(m.Properties, message.PropertyUniqKey)
				want[m.QueueID] = append(want[m.QueueID], rec{off, uniq})
			}
			return nil
		})
		var ce *commitlog.CorruptionError
		if err == nil || !errors.As(err, &ce) {
			if err != nil {
				t.Fatalf("scan recovered commit log: %v", err)
			}
			break
		}
		skip, ok := s.clog.FindNextRecord(ce.Offset, window)
		if !ok {
			break
		}
		off = skip
		_ = next
	}
	total := 0
	for q := range queues {
		got := readAll(t, s, topic, q)
		if len(got) != len(want[q]) {
			t.Fatalf("queue %d: %d messages readable, the commit log holds %d", q, len(got), len(want[q]))
		}
		for i, m := range got {
			if m.PhysicalOffset != want[q][i].off {
				t.Fatalf("queue %d unit %d: offset %d, want %d", q, i, m.PhysicalOffset, want[q][i].off)
			}
		}
		for _, r := range want[q] {
			if r.uniq == "" {
				continue
			}
			ms, err := s.QueryByKey(topic, r.uniq, 4, 0, time.Now().UnixMilli()+60_000)
			if err != nil || len(ms) != 1 || ms[0].PhysicalOffset != r.off {
				t.Fatalf("index: key %s at %d: %d results, err %v", r.uniq, r.off, len(ms), err)
			}
		}
		total += len(got)
	}
	if total == 0 {
		t.Log("nothing durable yet at the cut")
	}
}

// TestCheckpointBesideDispatchAndRetention runs the checkpoint goroutine
// every millisecond while producers append (consume-queue segments and index
// files roll every few dozen messages), readers read, and retention deletes
// commit-log segments, consume-queue segments and index files: on the
// in-memory FS (the race detector sees its syncs read the mappings) and on
// the OS (where the newest index file is synced while Put writes it). After
// a clean restart every remaining message is readable in order.
func TestCheckpointBesideDispatchAndRetention(t *testing.T) {
	for _, name := range []string{"mem", "os"} {
		t.Run(name, func(t *testing.T) {
			var fs vfs.FS
			if name == "mem" {
				fs = vfs.NewMem()
			}
			o := testOptions(t, fs)
			o.FlushConsumeQueueInterval = time.Millisecond
			if name == "os" {
				// The commit-log flusher syncs segments that retention may
				// close meanwhile (os.File.Fd racing Close); that is not
				// what this test is about, so it does not run here.
				o.FlushInterval = time.Hour
			}
			s := openStore(t, o)
			const perQueue = 600
			bodies := map[int32][][]byte{}
			var done atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				defer done.Store(true)
				for i := range perQueue * 4 {
					m := newMsg("CR", int32(i%4), i, nil)
					if _, err := s.Put(context.Background(), m); err != nil {
						t.Errorf("put %d: %v", i, err)
						return
					}
					bodies[int32(i%4)] = append(bodies[int32(i%4)], bytes.Clone(m.Body))
				}
			})
			deleted := 0
			wg.Go(func() {
				for !done.Load() {
					deleted += s.DeleteExpired(time.Now().Add(73*time.Hour), false)
					time.Sleep(time.Millisecond)
				}
			})
			wg.Go(func() {
				for q := int32(0); !done.Load(); q = (q + 1) % 4 {
					r, err := s.GetMessages("CR", q, s.MinOffset("CR", q), 32, 0, nil)
					if err != nil {
						t.Errorf("read: %v", err)
						return
					}
					for _, rec := range r.Records {
						if _, _, err := message.Decode(rec, true); err != nil {
							t.Errorf("served a damaged record: %v", err)
							return
						}
					}
				}
			})
			wg.Wait()
			waitDispatched(t, s)
			deleted += s.DeleteExpired(time.Now().Add(73*time.Hour), false)
			time.Sleep(5 * time.Millisecond) // a few more checkpoints
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if deleted == 0 {
				t.Fatal("retention deleted nothing; the test needs it to")
			}

			s = openStore(t, o)
			defer s.Close()
			for q := range int32(4) {
				got := readAll(t, s, "CR", q)
				min := s.MinOffset("CR", q)
				if min == 0 || int64(len(got)) != perQueue-min {
					t.Fatalf("queue %d: %d readable from %d, want %d", q, len(got), min, perQueue-min)
				}
				for i, m := range got {
					if m.QueueOffset != min+int64(i) || !bytes.Equal(m.Body, bodies[q][m.QueueOffset]) {
						t.Fatalf("queue %d: message %d is queue offset %d with a different body", q, i, m.QueueOffset)
					}
				}
			}
			checkDerivedMatchLog(t, s, "CR", 4)
		})
	}
}
