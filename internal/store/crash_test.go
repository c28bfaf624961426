package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

const crashChildEnv = "QUIVER_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashOptions(dir string) Options {
	o := DefaultOptions(dir)
	o.SegmentSize = 256 << 10 // many segment rolls
	o.MaxMessageSize = 64 << 10
	o.ConsumeQueueUnits = 128
	o.IndexSlots = 1024
	o.IndexEntries = 4096
	o.FlushDiskType = SyncFlush
	o.FlushConsumeQueueInterval = 50 * time.Millisecond
	return o
}

// crashBody is the deterministic body of message i of writer w in cycle c.
func crashBody(c, w, i int) []byte {
	head := fmt.Sprintf("c%d-w%d-i%d|", c, w, i)
	return append([]byte(head), bytes.Repeat([]byte{byte('a' + (c+w+i)%26)}, (i*37+w*11)%3000)...)
}

// crashChild appends under SYNC_FLUSH from several goroutines and prints
// "ACK cycle writer index physOffset" after each acknowledged put, until it
// is killed.
func crashChild(dir string) {
	cycle, _ := strconv.Atoi(os.Getenv("QUIVER_CRASH_CYCLE"))
	s, err := Open(crashOptions(dir))
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "READY")
	out.Flush()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				m := &message.Message{
					Topic:      "CrashTopic",
					QueueID:    int32(w % 4),
					Body:       crashBody(cycle, w, i),
					Properties: message.EncodeProperties(map[string]string{"KEYS": fmt.Sprintf("c%dw%di%d", cycle, w, i)}),
				}
				r, err := s.Put(context.Background(), m)
				if err != nil {
					continue // not acknowledged
				}
				mu.Lock()
				fmt.Fprintf(out, "ACK %d %d %d %d\n", cycle, w, i, r.PhysicalOffset)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

type ack struct{ cycle, w, i int }

// TestCrashKill9KeepsEveryAcknowledgedMessage kills a real process that
// appends under SYNC_FLUSH at random moments, recovers the store, and checks
// that every acknowledged message is there, byte for byte, and that nothing
// past the recovered end is served.
func TestCrashKill9KeepsEveryAcknowledgedMessage(t *testing.T) {
	cycles := 20
	if testing.Short() {
		cycles = 5
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[int64]ack{} // phys offset → message
	totalAcks := 0
	for c := range cycles {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "QUIVER_CRASH_CYCLE="+strconv.Itoa(c))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		if l := <-lines; l != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("cycle %d: child did not start: %q", c, l)
		}
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		n := 0
		for l := range lines {
			f := strings.Fields(l)
			if len(f) != 5 || f[0] != "ACK" {
				t.Fatalf("cycle %d: child said %q", c, l)
			}
			cy, _ := strconv.Atoi(f[1])
			w, _ := strconv.Atoi(f[2])
			i, _ := strconv.Atoi(f[3])
			off, _ := strconv.ParseInt(f[4], 10, 64)
			if prev, dup := acked[off]; dup {
				t.Fatalf("cycle %d: offset %d acknowledged twice (%v and %v)", c, off, prev, ack{cy, w, i})
			}
			acked[off] = ack{cy, w, i}
			n++
		}
		cmd.Wait()
		totalAcks += n
		verifyCrashStore(t, dir, acked, c)
	}
	t.Logf("%d cycles, %d acknowledged messages verified", cycles, totalAcks)
	if totalAcks == 0 {
		t.Fatal("the child never acknowledged a message")
	}
}

func verifyCrashStore(t *testing.T, dir string, acked map[int64]ack, cycle int) {
	t.Helper()
	s, err := Open(crashOptions(dir))
	if err != nil {
		t.Fatalf("cycle %d: recovery failed: %v", cycle, err)
	}
	defer s.Close()
	if cs := s.Corruptions(); len(cs) > 0 {
		t.Fatalf("cycle %d: recovery found damaged records after kill -9: %v", cycle, cs)
	}
	for off, a := range acked {
		m, err := s.LookMessage(off)
		if err != nil {
			t.Fatalf("cycle %d: acknowledged message %+v at %d lost: %v", cycle, a, off, err)
		}
		if want := crashBody(a.cycle, a.w, a.i); !bytes.Equal(m.Body, want) || m.Topic != "CrashTopic" {
			t.Fatalf("cycle %d: acknowledged message %+v at %d differs", cycle, a, off)
		}
	}
	// Every served message is whole, below the recovered end, and one that a
	// child really sent; queue offsets are dense.
	end := s.CommitLogMaxOffset()
	served := 0
	for q := range int32(4) {
		off := s.MinOffset("CrashTopic", q)
		for {
			r, err := s.GetMessages("CrashTopic", q, off, 64, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != Found {
				break
			}
			for k, rec := range r.Records {
				m, _, err := message.Decode(rec, true)
				if err != nil {
					t.Fatalf("cycle %d: served a damaged record: %v", cycle, err)
				}
				if m.PhysicalOffset+int64(len(rec)) > end {
					t.Fatalf("cycle %d: served a record past the recovered end %d", cycle, end)
				}
				if m.QueueOffset != r.QueueOffsets[k] || m.QueueOffset != off+int64(k) {
					t.Fatalf("cycle %d: queue %d: record with queue offset %d at %d", cycle, q, m.QueueOffset, off+int64(k))
				}
				var c, w, i int
				if _, err := fmt.Sscanf(string(m.Body), "c%d-w%d-i%d|", &c, &w, &i); err != nil || !bytes.Equal(m.Body, crashBody(c, w, i)) {
					t.Fatalf("cycle %d: served a message nobody sent: %.40q", cycle, m.Body)
				}
				served++
			}
			off = r.NextBeginOffset
		}
	}
	if served < len(acked) {
		t.Fatalf("cycle %d: %d messages served, %d acknowledged", cycle, served, len(acked))
	}
}
