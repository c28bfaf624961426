package processor

import (
	"context"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// heldPull is a suspended PULL_MESSAGE.
type heldPull struct {
	conn     *remoting.Conn
	req      *protocol.Command
	topic    string
	queueID  int32
	offset   int64
	deadline time.Time
}

type queueRef struct {
	topic   string
	queueID int32
}

// LongPoll parks pulls that found nothing and answers them as soon as a
// message arrives in their queue (Notify, called by the store's
// dispatcher) or when their suspend time runs out.
//
// No arrival is lost between a pull finding nothing and its parking: a
// first pass checks the queue again once parked (pull.go), and a queue
// whose parked pulls are being re-run takes note of arrivals meanwhile
// (rechecking), so they are re-run once more.
type LongPoll struct {
	mu      sync.Mutex
	held    map[queueRef][]*heldPull
	arrived map[queueRef]bool
	// rechecking counts, per queue, the re-runs in progress (taken out of
	// held); Notify marks such a queue arrived too.
	rechecking map[queueRef]int
	spare      map[queueRef]bool // the other arrived map, reused
	wake       chan struct{}
	rerun      func(h *heldPull, expired bool) *protocol.Command
}

// NewLongPoll returns an idle long-polling service; the Processor attaches
// itself to it.
func NewLongPoll() *LongPoll {
	return &LongPoll{
		held: make(map[queueRef][]*heldPull), arrived: make(map[queueRef]bool),
		rechecking: make(map[queueRef]int), spare: make(map[queueRef]bool),
		wake: make(chan struct{}, 1),
	}
}

func (lp *LongPoll) hold(h *heldPull) {
	lp.mu.Lock()
	k := queueRef{h.topic, h.queueID}
	lp.held[k] = append(lp.held[k], h)
	lp.mu.Unlock()
}

// Notify says a message with queueOffset became readable in a queue. It
// never blocks.
func (lp *LongPoll) Notify(topic string, queueID int32, queueOffset int64) {
	k := queueRef{topic, queueID}
	lp.mu.Lock()
	if len(lp.held[k]) == 0 && lp.rechecking[k] == 0 {
		lp.mu.Unlock()
		return
	}
	lp.arrived[k] = true
	lp.mu.Unlock()
	select {
	case lp.wake <- struct{}{}:
	default:
	}
}

// Run answers parked pulls until ctx ends; then it answers every one still
// parked.
func (lp *LongPoll) Run(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			lp.flush(func(*heldPull) bool { return true })
			return
		case <-lp.wake:
			lp.mu.Lock()
			keys := lp.arrived
			lp.arrived, lp.spare = lp.spare, nil
			lp.mu.Unlock()
			for k := range keys {
				lp.recheck(k, time.Now())
			}
			clear(keys)
			lp.mu.Lock()
			lp.spare = keys
			lp.mu.Unlock()
		case now := <-t.C:
			lp.flush(func(h *heldPull) bool { return !now.Before(h.deadline) })
		}
	}
}

// recheck re-runs every pull parked on k. A message that arrives while
// they are out of held marks k arrived again (rechecking), so a pull that
// has just found nothing is re-run once more rather than left waiting for
// the next arrival.
func (lp *LongPoll) recheck(k queueRef, now time.Time) {
	lp.mu.Lock()
	hs := lp.held[k]
	if len(hs) == 0 {
		lp.mu.Unlock()
		return
	}
	delete(lp.held, k)
	lp.rechecking[k]++
	lp.mu.Unlock()
	var keep []*heldPull
	for _, h := range hs {
		if !lp.answer(h, !now.Before(h.deadline)) {
			keep = append(keep, h)
		}
	}
	lp.mu.Lock()
	if len(keep) > 0 {
		lp.held[k] = append(lp.held[k], keep...)
	}
	if lp.rechecking[k]--; lp.rechecking[k] == 0 {
		delete(lp.rechecking, k)
	}
	lp.mu.Unlock()
}

// flush answers the parked pulls for which due is true (expired ones).
func (lp *LongPoll) flush(due func(*heldPull) bool) {
	lp.mu.Lock()
	var run []*heldPull
	for k, hs := range lp.held {
		kept := hs[:0]
		for _, h := range hs {
			if due(h) {
				run = append(run, h)
			} else {
				kept = append(kept, h)
			}
		}
		if len(kept) == 0 {
			delete(lp.held, k)
		} else {
			lp.held[k] = kept
		}
	}
	lp.mu.Unlock()
	for _, h := range run {
		lp.answer(h, true)
	}
}

// answer re-runs h and replies unless it should keep waiting; it reports
// whether h is done.
func (lp *LongPoll) answer(h *heldPull, expired bool) bool {
	select {
	case <-h.conn.Done():
		return true // the client went away
	default:
	}
	if lp.rerun == nil {
		return true
	}
	r := lp.rerun(h, expired)
	if r == nil {
		return false
	}
	h.conn.Reply(h.req, r)
	return true
}

// Held is the number of parked pulls.
func (lp *LongPoll) Held() int {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	n := 0
	for _, hs := range lp.held {
		n += len(hs)
	}
	return n
}
