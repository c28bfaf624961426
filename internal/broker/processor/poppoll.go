package processor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// maxHeldPops bounds the parked pops and notifications (maxPopPollingSize).
const maxHeldPops = 100000

// heldPop is a parked POP_MESSAGE or NOTIFICATION.
type heldPop struct {
	conn     *remoting.Conn
	req      *protocol.Command
	keys     []string // topics whose arrivals wake it
	deadline time.Time
	// periodic re-runs it every 500 ms too: FIFO messages become visible
	// again without an arrival, and a pop that met a busy queue retries.
	periodic bool
	// rerun answers the request again; nil keeps it parked.
	rerun func(expired bool) *protocol.Command
	done  atomic.Bool
}

// PopPoll parks pops and notifications that found nothing until a message
// arrives in their topic or its pop retry topic (Notify, from the store's
// dispatcher and from FIFO acks), until FIFO messages become visible again
// or a busy queue is free (re-run every 500 ms), or until their poll time
// ends.
type PopPoll struct {
	mu      sync.Mutex
	byKey   map[string]map[*heldPop]struct{}
	all     map[*heldPop]struct{}
	arrived map[string]bool
	wake    chan struct{}
}

// NewPopPoll returns an idle PopPoll; Run serves it.
func NewPopPoll() *PopPoll {
	return &PopPoll{byKey: map[string]map[*heldPop]struct{}{}, all: map[*heldPop]struct{}{},
		arrived: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// hold parks h; false means too many are parked (POLLING_FULL).
func (pp *PopPoll) hold(h *heldPop) bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.all) >= maxHeldPops {
		return false
	}
	pp.all[h] = struct{}{}
	for _, k := range h.keys {
		m := pp.byKey[k]
		if m == nil {
			m = map[*heldPop]struct{}{}
			pp.byKey[k] = m
		}
		m[h] = struct{}{}
	}
	return true
}

func (pp *PopPoll) drop(h *heldPop) {
	delete(pp.all, h)
	for _, k := range h.keys {
		if m := pp.byKey[k]; m != nil {
			delete(m, h)
			if len(m) == 0 {
				delete(pp.byKey, k)
			}
		}
	}
}

// Notify says a message arrived in topic. It never blocks.
func (pp *PopPoll) Notify(topic string, _ int32, _ int64) {
	pp.mu.Lock()
	if len(pp.byKey[topic]) == 0 {
		pp.mu.Unlock()
		return
	}
	pp.arrived[topic] = true
	pp.mu.Unlock()
	select {
	case pp.wake <- struct{}{}:
	default:
	}
}

// Run answers parked requests until ctx ends, then answers all of them.
func (pp *PopPoll) Run(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			pp.rerun(func(*heldPop) bool { return true }, true)
			return
		case <-pp.wake:
			pp.mu.Lock()
			var hs []*heldPop
			for k := range pp.arrived {
				for h := range pp.byKey[k] {
					hs = append(hs, h)
				}
			}
			clear(pp.arrived)
			pp.mu.Unlock()
			for _, h := range hs {
				pp.answer(h, !time.Now().Before(h.deadline))
			}
		case now := <-tick.C:
			n++
			fifo := n%5 == 0
			pp.rerun(func(h *heldPop) bool { return !now.Before(h.deadline) || (fifo && h.periodic) }, false)
		}
	}
}

// rerun re-runs the parked requests pick selects.
func (pp *PopPoll) rerun(pick func(*heldPop) bool, final bool) {
	now := time.Now()
	pp.mu.Lock()
	var hs []*heldPop
	for h := range pp.all {
		if pick(h) {
			hs = append(hs, h)
		}
	}
	pp.mu.Unlock()
	for _, h := range hs {
		pp.answer(h, final || !now.Before(h.deadline))
	}
}

// answer re-runs h and replies unless it keeps waiting.
func (pp *PopPoll) answer(h *heldPop, expired bool) {
	if h.done.Load() {
		return
	}
	var r *protocol.Command
	select {
	case <-h.conn.Done():
	default:
		if r = h.rerun(expired); r == nil {
			return
		}
	}
	if !h.done.CompareAndSwap(false, true) {
		return
	}
	pp.mu.Lock()
	pp.drop(h)
	pp.mu.Unlock()
	if r != nil {
		h.conn.Reply(h.req, r)
	}
}

// Held is the number of parked requests.
func (pp *PopPoll) Held() int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return len(pp.all)
}
