package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// quiverBinary builds cmd/quiver once per test run.
func quiverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "quiver-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "quiver")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type process struct {
	cmd         *exec.Cmd
	namesrvAddr string
	brokerAddr  string
}

var readyLine = regexp.MustCompile(`name server on (\S+), broker on (\S+),`)

// startServe runs `quiver serve` on free ports with data in dir.
func startServe(t *testing.T, dir string, extra ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--data", dir, "--namesrv-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(quiverBinary(t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if testing.Verbose() == false {
		cmd.Stderr = nil
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	lines := bufio.NewScanner(out)
	ready := make(chan bool, 1)
	go func() {
		for lines.Scan() {
			if m := readyLine.FindStringSubmatch(lines.Text()); m != nil {
				p.namesrvAddr, p.brokerAddr = m[1], m[2]
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("quiver serve exited before it was ready")
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("quiver serve not ready after 30 s")
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// TestKill9UnderSyncFlushLosesNoAcknowledgedMessage runs quiver as its own
// process with SYNC_FLUSH, kills it with SIGKILL while producers send, starts
// it again on the same data, and checks that a consumer receives every
// message whose send was acknowledged.
func TestKill9UnderSyncFlushLosesNoAcknowledgedMessage(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds and kills a real process; the client races internally")
	}
	rlog.SetLogLevel("error")
	dir := t.TempDir()
	p1 := startServe(t, dir, "--sync-flush")
	prod, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{p1.namesrvAddr})),
		producer.WithGroupName("KillPG"), producer.WithRetry(0),
		producer.WithInstanceName(fmt.Sprint("kill-p-", time.Now().UnixNano())),
		producer.WithSendMsgTimeout(2*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
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
				body := fmt.Sprintf("w%d-%d", w, i)
				r, err := prod.SendSync(context.Background(), primitive.NewMessage("KillTopic", []byte(body)))
				if err == nil && r.Status == primitive.SendOK {
					mu.Lock()
					acked[body] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.cmd.Wait()
	time.Sleep(300 * time.Millisecond) // sends in flight fail now
	close(stop)
	wg.Wait()
	prod.Shutdown()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	if want == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}
	t.Logf("%d sends acknowledged before SIGKILL", want)

	p2 := startServe(t, dir)
	got := map[string]bool{}
	var gmu sync.Mutex
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{p2.namesrvAddr})),
		consumer.WithGroupName("KillCG"),
		consumer.WithInstance(fmt.Sprint("kill-c-", time.Now().UnixNano())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	pc.Subscribe("KillTopic", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		gmu.Lock()
		for _, m := range msgs {
			got[string(m.Body)] = true
		}
		gmu.Unlock()
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	deadline := time.Now().Add(60 * time.Second)
	for {
		gmu.Lock()
		missing := 0
		var example string
		for b := range acked {
			if !got[b] {
				missing++
				example = b
			}
		}
		gmu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages lost after SIGKILL (e.g. %s)", missing, want, example)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
