package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
)

// autoCreateTopic is the template topic (TBW102) a broker with
// autoCreateTopicEnable registers; sends to an unknown topic go to its
// brokers, which create the topic (as the 4.x client does).
const autoCreateTopic = "TBW102"

// Permission bits of a QueueData (PermName).
const (
	permWrite = 1 << 1
	permRead  = 1 << 2
)

// errTopicNotFound: the name server knows no route for the topic.
var errTopicNotFound = errors.New("grpcserver: topic not found")

// route is a topic's route as the proxy uses it.
type route struct {
	topic   string
	queues  []routes.QueueData // sorted by broker name
	brokers map[string]string  // broker name → master address
	auto    bool               // the TBW102 route stands in for an unknown topic
	fetched time.Time
}

// writeQueue is one writable queue of a route.
type writeQueue struct {
	broker string
	addr   string
	id     int32
}

func (r *route) writeQueues() []writeQueue {
	var qs []writeQueue
	for _, q := range r.queues {
		addr := r.brokers[q.BrokerName]
		if q.Perm&permWrite == 0 || addr == "" {
			continue
		}
		for i := int32(0); i < q.WriteQueueNums; i++ {
			qs = append(qs, writeQueue{q.BrokerName, addr, i})
		}
	}
	return qs
}

// routeCache fetches and caches topic routes from the name servers.
type routeCache struct {
	s   *Service
	ttl time.Duration

	mu      sync.Mutex
	byTopic map[string]*route
	brokers map[string]string // every broker name seen → master address
}

func newRouteCache(s *Service, ttl time.Duration) *routeCache {
	return &routeCache{s: s, ttl: ttl, byTopic: make(map[string]*route), brokers: make(map[string]string)}
}

// get returns the route of topic. With auto set, an unknown topic gets the
// route of TBW102 when the name server has one.
func (c *routeCache) get(ctx context.Context, topic string, auto bool) (*route, error) {
	c.mu.Lock()
	r := c.byTopic[topic]
	c.mu.Unlock()
	if r != nil && time.Since(r.fetched) < c.ttl {
		return r, nil
	}
	r, err := c.fetch(ctx, topic)
	if errors.Is(err, errTopicNotFound) && auto {
		tr, terr := c.get(ctx, autoCreateTopic, false)
		if terr != nil {
			return nil, err
		}
		cp := *tr
		cp.topic, cp.auto = topic, true
		cp.queues = slices.Clone(tr.queues)
		for i := range cp.queues { // the broker creates defaultTopicQueueNums (4)
			cp.queues[i].ReadQueueNums = min(cp.queues[i].ReadQueueNums, 4)
			cp.queues[i].WriteQueueNums = min(cp.queues[i].WriteQueueNums, 4)
		}
		return &cp, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.byTopic[topic] = r
	for n, a := range r.brokers {
		c.brokers[n] = a
	}
	c.mu.Unlock()
	return r, nil
}

// brokerAddr returns the master address of a broker name, looking at the
// topic's route first.
func (c *routeCache) brokerAddr(ctx context.Context, topic, name string) (string, error) {
	if r, err := c.get(ctx, topic, true); err == nil {
		if a := r.brokers[name]; a != "" {
			return a, nil
		}
	}
	c.mu.Lock()
	a := c.brokers[name]
	c.mu.Unlock()
	if a == "" {
		return "", fmt.Errorf("grpcserver: unknown broker %q", name)
	}
	return a, nil
}

// allBrokers returns every broker address seen so far.
func (c *routeCache) allBrokers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.brokers {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func (c *routeCache) fetch(ctx context.Context, topic string) (*route, error) {
	var last error = errors.New("grpcserver: no name server configured")
	for _, ns := range c.s.opts.NamesrvAddrs {
		req := protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic})
		cctx, cancel := context.WithTimeout(ctx, c.s.opts.RequestTimeout)
		resp, err := c.s.rc.Invoke(cctx, ns, req)
		cancel()
		if err != nil {
			last = fmt.Errorf("grpcserver: route of %s from %s: %w", topic, ns, err)
			continue
		}
		if resp.Code == protocol.TopicNotExist {
			return nil, fmt.Errorf("%w: %s", errTopicNotFound, topic)
		}
		if resp.Code != protocol.Success {
			last = fmt.Errorf("grpcserver: route of %s from %s: code %d %s", topic, ns, resp.Code, resp.Remark)
			continue
		}
		td, err := routes.DecodeTopicRouteData(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("grpcserver: route of %s: %w", topic, err)
		}
		r := &route{topic: topic, brokers: make(map[string]string), fetched: time.Now()}
		for _, bd := range td.BrokerDatas {
			if a := bd.Addrs[0]; a != "" {
				r.brokers[bd.BrokerName] = a
			}
		}
		r.queues = slices.Clone(td.QueueDatas)
		slices.SortFunc(r.queues, func(a, b routes.QueueData) int {
			if a.BrokerName < b.BrokerName {
				return -1
			}
			if a.BrokerName > b.BrokerName {
				return 1
			}
			return 0
		})
		return r, nil
	}
	return nil, last
}
