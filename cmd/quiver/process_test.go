package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
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
	args := append([]string{"serve", "--data", dir, "--namesrv-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0"}, extra...)
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

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProc runs the quiver binary with args and waits for a stdout line
// matching ready.
func startProc(t *testing.T, ready *regexp.Regexp, args ...string) []string {
	t.Helper()
	cmd := exec.Command(quiverBinary(t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
		close(found)
	}()
	select {
	case m, ok := <-found:
		if !ok {
			t.Fatalf("quiver %v exited before it was ready", args)
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("quiver %v not ready after 30 s", args)
	}
	return nil
}

// TestSeparateProcesses runs `quiver namesrv` and two `quiver broker -c
// broker.conf` processes, and checks with the real client that every send
// mode works, both brokers serve the topic, and a consumer drains both.
func TestSeparateProcesses(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs real processes; the client races internally")
	}
	rlog.SetLogLevel("error")
	nsPort := freePort(t)
	startProc(t, regexp.MustCompile(`name server on (\S+)`), "namesrv", "-p", fmt.Sprint(nsPort))
	ns := fmt.Sprintf("127.0.0.1:%d", nsPort)
	var brokerAddrs []string
	for _, name := range []string{"broker-a", "broker-b"} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "broker.conf")
		port := freePort(t)
		brokerAddrs = append(brokerAddrs, fmt.Sprintf("127.0.0.1:%d", port))
		os.WriteFile(conf, []byte(fmt.Sprintf(`# test broker
brokerClusterName = ProcCluster
brokerName = %s
brokerId = 0
namesrvAddr = %s
listenPort = %d
brokerIP1 = 127.0.0.1
storePathRootDir = %s
mappedFileSizeCommitLog = 67108864
autoCreateTopicEnable = true
flushDiskType = ASYNC_FLUSH
someUnknownKey = 1
`, name, ns, port, filepath.Join(dir, "store"))), 0o644)
		startProc(t, regexp.MustCompile(`broker (\S+) on`), "broker", "-c", conf)
	}
	// Both brokers must be routable before the first send, or the topic is
	// created on whichever registered first only.
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := cl.Invoke(ctx, ns, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil))
		cancel()
		if err == nil && strings.Contains(string(r.Body), `"broker-a"`) && strings.Contains(string(r.Body), `"broker-b"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the two brokers did not register")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Create the topic on both brokers, as an admin would: auto-creation
	// through TBW102 creates it only where the first sends land.
	for _, addr := range brokerAddrs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := cl.Invoke(ctx, addr, protocol.NewRequest(protocol.UpdateAndCreateTopic, map[string]string{
			"topic": "ProcTopic", "readQueueNums": "4", "writeQueueNums": "4", "perm": "6",
		}))
		cancel()
		if err != nil || r.Code != protocol.Success {
			t.Fatalf("create topic on %s: %v %+v", addr, err, r)
		}
	}
	waitFor := func(cond func() bool) {
		for end := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the topic's route does not list both brokers")
			}
		}
	}
	waitFor(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r, err := cl.Invoke(ctx, ns, protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": "ProcTopic"}))
		return err == nil && r.Code == protocol.Success && strings.Count(string(r.Body), `"brokerName"`) >= 4
	})
	prod, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		producer.WithGroupName("ProcPG"),
		producer.WithInstanceName(fmt.Sprint("proc-p-", time.Now().UnixNano())),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	ctx := context.Background()
	want := map[string]bool{}
	brokers := map[string]bool{}
	for i := range 40 {
		body := fmt.Sprintf("sync-%d", i)
		r, err := prod.SendSync(ctx, primitive.NewMessage("ProcTopic", []byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		brokers[r.MessageQueue.BrokerName] = true
		want[body] = true
	}
	var wg sync.WaitGroup
	for i := range 20 {
		body := fmt.Sprintf("async-%d", i)
		want[body] = true
		wg.Add(1)
		if err := prod.SendAsync(ctx, func(_ context.Context, _ *primitive.SendResult, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		}, primitive.NewMessage("ProcTopic", []byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range 10 {
		body := fmt.Sprintf("oneway-%d", i)
		want[body] = true
		if err := prod.SendOneWay(ctx, primitive.NewMessage("ProcTopic", []byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	var batch []*primitive.Message
	for i := range 10 {
		body := fmt.Sprintf("batch-%d", i)
		want[body] = true
		batch = append(batch, primitive.NewMessage("ProcTopic", []byte(body)))
	}
	if _, err := prod.SendSync(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 2 {
		t.Fatalf("sends reached %v, want both brokers", brokers)
	}
	var mu sync.Mutex
	got := map[string]bool{}
	from := map[string]bool{}
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		consumer.WithGroupName("ProcCG"),
		consumer.WithInstance(fmt.Sprint("proc-c-", time.Now().UnixNano())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	pc.Subscribe("ProcTopic", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		for _, m := range msgs {
			got[string(m.Body)] = true
			from[m.Queue.BrokerName] = true
		}
		mu.Unlock()
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	deadline = time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n, nb := len(got), len(from)
		mu.Unlock()
		if n >= len(want) && nb == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d from %d brokers", n, len(want), nb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for b := range want {
		if !got[b] {
			t.Fatalf("%s never consumed", b)
		}
	}
}
