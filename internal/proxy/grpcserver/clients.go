package grpcserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// Server-side settings values (ProxyConfig, BrokerConfig defaults).
const (
	receiveBatchSize   = 32
	maxLongPolling     = 20 * time.Second
	defaultMaxAttempts = 17 // retryMaxTimes 16 + 1
)

// client is what the proxy knows of one client id.
type client struct {
	settings *pb.Settings // as the client sent them
	streams  map[*telemetryStream]struct{}
}

// clients is the table of connected 5.x clients.
type clients struct {
	mu   sync.Mutex
	byID map[string]*client
}

func newClients() *clients { return &clients{byID: make(map[string]*client)} }

func (c *clients) get(id string) *client {
	cl := c.byID[id]
	if cl == nil {
		cl = &client{streams: make(map[*telemetryStream]struct{})}
		c.byID[id] = cl
	}
	return cl
}

// setSettings stores a client's raw settings.
func (c *clients) setSettings(id string, s *pb.Settings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.get(id).settings = s
}

// settings returns a client's raw settings, nil when unknown.
func (c *clients) settings(id string) *pb.Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.byID[id]; cl != nil {
		return cl.settings
	}
	return nil
}

func (c *clients) addStream(id string, ts *telemetryStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.get(id).streams[ts] = struct{}{}
}

// removeStream drops a closed stream; a client left with none is
// forgotten (its next Heartbeat gets UNRECOGNIZED_CLIENT_TYPE, on which the
// clients send their settings again), so departed clients do not pile up.
func (c *clients) removeStream(id string, ts *telemetryStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.byID[id]; cl != nil {
		delete(cl.streams, ts)
		if len(cl.streams) == 0 {
			delete(c.byID, id)
		}
	}
}

// remove forgets a client (NotifyClientTermination); it reports whether
// the client had settings.
func (c *clients) remove(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.byID[id]
	if cl == nil || cl.settings == nil {
		return false
	}
	cl.settings = nil
	if len(cl.streams) == 0 {
		delete(c.byID, id)
	}
	return true
}

// producerTopics returns every topic some producer client publishes.
func (c *clients) producerTopics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool)
	var out []string
	for _, cl := range c.byID {
		for _, t := range cl.settings.GetPublishing().GetTopics() {
			if n := t.GetName(); n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// producerStreams returns the Telemetry streams of producers publishing
// topic (those of clients that listed it first).
func (c *clients) producerStreams(topic string) []*telemetryStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	var listed, others []*telemetryStream
	for _, cl := range c.byID {
		if cl.settings.GetClientType() != pb.ClientType_PRODUCER {
			continue
		}
		has := false
		for _, t := range cl.settings.GetPublishing().GetTopics() {
			has = has || t.GetName() == topic
		}
		for ts := range cl.streams {
			if has {
				listed = append(listed, ts)
			} else {
				others = append(others, ts)
			}
		}
	}
	return append(listed, others...)
}

// groupConfig is what the proxy reads from a subscription group.
type groupConfig struct {
	Orderly       bool
	RetryMaxTimes int
}

// groupCache reads subscription groups from brokers
// (GET_ALL_SUBSCRIPTIONGROUP_CONFIG), cached briefly.
type groupCache struct {
	s   *Service
	ttl time.Duration

	mu      sync.Mutex
	fetched time.Time
	table   map[string]groupConfig
}

func newGroupCache(s *Service, ttl time.Duration) *groupCache {
	return &groupCache{s: s, ttl: ttl}
}

// get returns a group's config; unknown groups get the defaults.
func (g *groupCache) get(ctx context.Context, group string) groupConfig {
	g.mu.Lock()
	fresh := g.table != nil && time.Since(g.fetched) < g.ttl
	c, found := g.table[group]
	g.mu.Unlock()
	if fresh && found {
		return c
	}
	table := make(map[string]groupConfig)
	for _, addr := range g.s.routes.allBrokers() {
		t, err := g.fetch(ctx, addr)
		if err != nil {
			g.s.log.Debug("subscription groups", "broker", addr, "err", err)
			continue
		}
		for k, v := range t {
			if old, ok := table[k]; ok {
				v.Orderly = v.Orderly || old.Orderly
			}
			table[k] = v
		}
	}
	g.mu.Lock()
	g.table, g.fetched = table, time.Now()
	g.mu.Unlock()
	if c, ok := table[group]; ok {
		return c
	}
	return groupConfig{RetryMaxTimes: defaultMaxAttempts - 1}
}

func (g *groupCache) fetch(ctx context.Context, addr string) (map[string]groupConfig, error) {
	resp, err := g.s.invoke(ctx, addr, protocol.NewRequest(protocol.GetAllSubscriptionGroupConfig, nil))
	if err != nil {
		return nil, err
	}
	if resp.Code != protocol.Success {
		return nil, fmt.Errorf("grpcserver: subscription groups from %s: code %d %s", addr, resp.Code, resp.Remark)
	}
	var w struct {
		Table map[string]struct {
			ConsumeMessageOrderly bool `json:"consumeMessageOrderly"`
			RetryMaxTimes         *int `json:"retryMaxTimes"`
		} `json:"subscriptionGroupTable"`
	}
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return nil, fmt.Errorf("grpcserver: subscription groups from %s: %w", addr, err)
	}
	out := make(map[string]groupConfig, len(w.Table))
	for k, v := range w.Table {
		c := groupConfig{Orderly: v.ConsumeMessageOrderly, RetryMaxTimes: defaultMaxAttempts - 1}
		if v.RetryMaxTimes != nil {
			c.RetryMaxTimes = *v.RetryMaxTimes
		}
		out[k] = c
	}
	return out, nil
}

// merged returns the full Settings the server answers with: the client's,
// with the server's publishing or subscription values filled in
// (GrpcClientSettingsManager).
func (s *Service) merged(ctx context.Context, raw *pb.Settings) *pb.Settings {
	m := proto.Clone(raw).(*pb.Settings)
	m.Metric = &pb.Metric{On: false}
	switch m.GetClientType() {
	case pb.ClientType_PRODUCER:
		attempts := m.GetBackoffPolicy().GetMaxAttempts()
		if attempts <= 0 {
			attempts = 3
		}
		m.BackoffPolicy = &pb.RetryPolicy{MaxAttempts: attempts, Strategy: &pb.RetryPolicy_ExponentialBackoff{
			ExponentialBackoff: &pb.ExponentialBackoff{
				Initial: durationpb.New(10 * time.Millisecond), Max: durationpb.New(time.Second), Multiplier: 2,
			},
		}}
		pub := m.GetPublishing()
		if pub == nil {
			pub = &pb.Publishing{}
		}
		pub.MaxBodySize = int32(s.opts.MaxMessageSize)
		pub.ValidateMessageType = false
		m.PubSub = &pb.Settings_Publishing{Publishing: pub}
	case pb.ClientType_PUSH_CONSUMER, pb.ClientType_SIMPLE_CONSUMER:
		sub := m.GetSubscription()
		if sub == nil {
			sub = &pb.Subscription{}
		}
		gc := s.groups.get(ctx, sub.GetGroup().GetName())
		batch := int32(receiveBatchSize)
		sub.ReceiveBatchSize = &batch
		sub.LongPollingTimeout = durationpb.New(maxLongPolling)
		fifo := gc.Orderly
		sub.Fifo = &fifo
		m.PubSub = &pb.Settings_Subscription{Subscription: sub}
		// Exponential, not Java's default CUSTOMIZED: the Node push
		// consumer only applies an exponential policy.
		m.BackoffPolicy = &pb.RetryPolicy{MaxAttempts: int32(gc.RetryMaxTimes + 1), Strategy: &pb.RetryPolicy_ExponentialBackoff{
			ExponentialBackoff: &pb.ExponentialBackoff{
				Initial: durationpb.New(time.Second), Max: durationpb.New(time.Minute), Multiplier: 2,
			},
		}}
	}
	return m
}
