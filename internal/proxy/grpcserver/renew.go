package grpcserver

import (
	"context"
	"sync"
	"time"
)

// Receipt-handle auto-renewal for receives with auto_renew (the Node
// PushConsumer), as the Java proxy's DefaultReceiptHandleManager does:
// every renewPeriod, a handle due within renewAhead is extended by
// renewInvisible through CHANGE_MESSAGE_INVISIBLETIME, until the client
// acks, nacks or dead-letters it (which then uses the latest handle, not
// the client's stale one), its client goes away, or renewMax has passed.
const (
	renewPeriod    = 5 * time.Second
	renewAhead     = 10 * time.Second
	renewInvisible = time.Minute
	renewMax       = 3 * time.Hour
)

type renewKey struct{ client, group, msgID string }

type renewEntry struct {
	topic string
	h     handle
	since time.Time
}

// renewals tracks handles under renewal.
type renewals struct {
	mu sync.Mutex
	m  map[renewKey]*renewEntry
}

func newRenewals() *renewals { return &renewals{m: make(map[renewKey]*renewEntry)} }

func (r *renewals) add(k renewKey, topic string, h handle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[k] = &renewEntry{topic: topic, h: h, since: time.Now()}
}

// take stops renewing k and returns the latest handle when it names the
// same message as h (broker, queue and offset).
func (r *renewals) take(k renewKey, h handle) (handle, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[k]
	if e == nil || e.h.BrokerName != h.BrokerName || e.h.QueueID != h.QueueID || e.h.QueueOffset != h.QueueOffset {
		return h, false
	}
	delete(r.m, k)
	return e.h, true
}

// dropClient stops renewing every handle of a client.
func (r *renewals) dropClient(client string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if k.client == client {
			delete(r.m, k)
		}
	}
}

// due returns the entries to renew now (and drops those past renewMax).
func (r *renewals) due(now time.Time) map[renewKey]renewEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[renewKey]renewEntry)
	for k, e := range r.m {
		if now.Sub(e.since) > renewMax {
			delete(r.m, k)
			continue
		}
		if e.h.nextVisible()-now.UnixMilli() <= renewAhead.Milliseconds() {
			out[k] = *e
		}
	}
	return out
}

// update replaces k's handle unless it was taken meanwhile.
func (r *renewals) update(k renewKey, old, nh handle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.m[k]; e != nil && e.h == old {
		e.h = nh
	}
}

func (r *renewals) remove(k renewKey, old handle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.m[k]; e != nil && e.h == old {
		delete(r.m, k)
	}
}

// renewLoop extends due handles until the service stops.
func (s *Service) renewLoop() {
	defer s.wg.Done()
	t := time.NewTicker(renewPeriod)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for k, e := range s.renew.due(time.Now()) {
			nh, status := s.changeInvisible(ctx, k.group, e.topic, e.h, renewInvisible)
			if status != nil {
				s.log.Debug("renew receipt handle failed", "group", k.group, "msgId", k.msgID, "status", status.GetMessage())
				s.renew.remove(k, e.h)
				continue
			}
			s.renew.update(k, e.h, nh)
		}
	}
}
