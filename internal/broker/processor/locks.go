package processor

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// DefaultLockMaxLive is how long a queue lock lasts without renewal
// (rocketmq.broker.rebalance.lockMaxLiveTime).
const DefaultLockMaxLive = 60 * time.Second

// MessageQueue names a queue in lock bodies.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

type lockEntry struct {
	clientID string
	renewed  time.Time
}

// Locks grants orderly consumers exclusive queues (LOCK_BATCH_MQ): a queue
// is granted if unlocked, held by the same client (renewal), or its lock
// has not been renewed for maxLive. Locks outlive connections; they expire.
type Locks struct {
	mu      sync.Mutex
	groups  map[string]map[MessageQueue]*lockEntry
	maxLive time.Duration
	now     func() time.Time
}

// NewLocks returns an empty lock table.
func NewLocks(maxLive time.Duration, now func() time.Time) *Locks {
	if maxLive <= 0 {
		maxLive = DefaultLockMaxLive
	}
	if now == nil {
		now = time.Now
	}
	return &Locks{groups: make(map[string]map[MessageQueue]*lockEntry), maxLive: maxLive, now: now}
}

// TryLock grants what it can of mqs to clientID and returns the granted ones.
func (l *Locks) TryLock(group, clientID string, mqs []MessageQueue) []MessageQueue {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	g := l.groups[group]
	if g == nil {
		g = make(map[MessageQueue]*lockEntry)
		l.groups[group] = g
	}
	granted := make([]MessageQueue, 0, len(mqs))
	for _, mq := range mqs {
		e := g[mq]
		switch {
		case e == nil || now.Sub(e.renewed) > l.maxLive:
			g[mq] = &lockEntry{clientID: clientID, renewed: now}
		case e.clientID == clientID:
			e.renewed = now
		default:
			continue
		}
		granted = append(granted, mq)
	}
	return granted
}

// Unlock releases the queues of mqs that clientID holds.
func (l *Locks) Unlock(group, clientID string, mqs []MessageQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[group]
	for _, mq := range mqs {
		if e := g[mq]; e != nil && e.clientID == clientID {
			delete(g, mq)
		}
	}
}

// Holder returns the client holding a live lock on mq.
func (l *Locks) Holder(group string, mq MessageQueue) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.groups[group][mq]
	if e == nil || l.now().Sub(e.renewed) > l.maxLive {
		return "", false
	}
	return e.clientID, true
}

type lockBody struct {
	ConsumerGroup string         `json:"consumerGroup"`
	ClientID      string         `json:"clientId"`
	MQSet         []MessageQueue `json:"mqSet"`
}

func (p *Processor) lockBatch(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	var b lockBody
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return resp(req, protocol.SystemError, "bad lock body: "+err.Error())
	}
	granted := p.Locks.TryLock(b.ConsumerGroup, b.ClientID, b.MQSet)
	body, _ := json.Marshal(map[string][]MessageQueue{"lockOKMQSet": granted})
	r := success(req)
	r.Body = body
	return r
}

func (p *Processor) unlockBatch(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	var b lockBody
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return resp(req, protocol.SystemError, "bad unlock body: "+err.Error())
	}
	p.Locks.Unlock(b.ConsumerGroup, b.ClientID, b.MQSet)
	return success(req)
}
