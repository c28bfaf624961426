package processor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// parkOne starts a server whose handler parks every request on lp (queue
// T/0) and sends one request from a client; the returned channel gets the
// response.
func parkOne(t *testing.T, lp *LongPoll) <-chan *protocol.Command {
	t.Helper()
	srv := remoting.NewServer(remoting.ServerOptions{})
	t.Cleanup(func() { srv.Close() })
	parked := make(chan struct{})
	srv.Handle(protocol.PullMessage, srv.NewPool("pull", 1, 16), func(_ context.Context, c *remoting.Conn, req *protocol.Command) *protocol.Command {
		lp.hold(&heldPull{conn: c, req: req, topic: "T", queueID: 0, deadline: time.Now().Add(time.Hour)})
		close(parked)
		return nil
	})
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := remoting.NewClient(remoting.ClientOptions{})
	t.Cleanup(func() { cl.Close() })
	got := make(chan *protocol.Command, 1)
	go func() {
		r, err := cl.Invoke(context.Background(), addr.String(), protocol.NewRequest(protocol.PullMessage, nil))
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	<-parked
	return got
}

// TestLongPollArrivalDuringRecheckIsNotLost: a message that arrives while a
// parked pull is being re-run, after the re-run found nothing, wakes it
// again; it is answered without waiting for another arrival or its
// suspend time (an hour here: the test would time out).
func TestLongPollArrivalDuringRecheckIsNotLost(t *testing.T) {
	lp := NewLongPoll()
	var runs atomic.Int32
	lp.rerun = func(h *heldPull, expired bool) *protocol.Command {
		if runs.Add(1) == 1 {
			// Found nothing; the message is dispatched right now, before
			// the pull is parked again.
			lp.Notify("T", 0, 0)
			return nil
		}
		return protocol.NewResponse(h.req, protocol.Success, "found")
	}
	got := parkOne(t, lp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lp.Run(ctx)
	lp.Notify("T", 0, 0)
	select {
	case r := <-got:
		if r == nil || r.Remark != "found" || runs.Load() != 2 {
			t.Fatalf("response %+v after %d re-runs", r, runs.Load())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the pull stayed parked after %d re-runs: an arrival during the re-run was lost", runs.Load())
	}
	if n := lp.Held(); n != 0 {
		t.Fatalf("%d pulls still parked", n)
	}
}

// TestLongPollNotifyWithoutParkedPullIsDropped: arrivals on a queue nobody
// waits on leave nothing behind.
func TestLongPollNotifyWithoutParkedPullIsDropped(t *testing.T) {
	lp := NewLongPoll()
	lp.Notify("T", 0, 0)
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if len(lp.arrived) != 0 || len(lp.rechecking) != 0 {
		t.Fatalf("arrived %v, rechecking %v", lp.arrived, lp.rechecking)
	}
}
