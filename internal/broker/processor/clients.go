package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// HeartbeatData is the HEART_BEAT body (consume-semantics.md §2).
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names a producer group.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData describes a consumer group member.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// SubscriptionData is one topic subscription.
type SubscriptionData struct {
	ClassFilterMode bool        `json:"classFilterMode"`
	Topic           string      `json:"topic"`
	SubString       string      `json:"subString"`
	TagsSet         []string    `json:"tagsSet"`
	CodeSet         []flexInt32 `json:"codeSet"`
	SubVersion      int64       `json:"subVersion"`
	ExpressionType  string      `json:"expressionType"`
}

// flexInt32 decodes a JSON number or a string holding one (the Go client
// sends codeSet as strings, Java as numbers).
type flexInt32 int32

func (f *flexInt32) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("processor: code %s: %w", b, err)
	}
	*f = flexInt32(v)
	return nil
}

func (f flexInt32) MarshalJSON() ([]byte, error) { return json.Marshal(int32(f)) }

// clientChannel is one connection of a client in a group.
type clientChannel struct {
	clientID   string
	conn       *remoting.Conn
	lastUpdate time.Time
}

type consumerGroup struct {
	name          string
	consumeType   string
	messageModel  string
	fromWhere     string
	channels      map[*remoting.Conn]*clientChannel
	subscriptions map[string]SubscriptionData
}

// Clients keeps the producer and consumer connections of every group: who
// to notify when a group changes, whom to ask for a transaction state.
type Clients struct {
	mu        sync.Mutex
	consumers map[string]*consumerGroup
	producers map[string]map[*remoting.Conn]*clientChannel
	notify    bool
	now       func() time.Time
}

// NewClients returns an empty registry. notifyIDsChanged enables
// NOTIFY_CONSUMER_IDS_CHANGED (notifyConsumerIdsChangedEnable).
func NewClients(notifyIDsChanged bool, now func() time.Time) *Clients {
	if now == nil {
		now = time.Now
	}
	return &Clients{
		consumers: make(map[string]*consumerGroup),
		producers: make(map[string]map[*remoting.Conn]*clientChannel),
		notify:    notifyIDsChanged, now: now,
	}
}

// RegisterConsumer records a heartbeat of one consumer group member and
// reports whether membership or subscriptions changed.
func (cl *Clients) RegisterConsumer(conn *remoting.Conn, clientID string, cd ConsumerData) (changed bool) {
	cl.mu.Lock()
	g := cl.consumers[cd.GroupName]
	if g == nil {
		g = &consumerGroup{name: cd.GroupName, channels: make(map[*remoting.Conn]*clientChannel), subscriptions: make(map[string]SubscriptionData)}
		cl.consumers[cd.GroupName] = g
	}
	g.consumeType, g.messageModel, g.fromWhere = cd.ConsumeType, cd.MessageModel, cd.ConsumeFromWhere
	ch := g.channels[conn]
	if ch == nil {
		ch = &clientChannel{clientID: clientID, conn: conn}
		g.channels[conn] = ch
		changed = true
	}
	ch.lastUpdate = cl.now()
	// Subscriptions: newer subVersion replaces; topics absent from this
	// heartbeat are dropped.
	seen := make(map[string]bool, len(cd.SubscriptionDataSet))
	for _, sd := range cd.SubscriptionDataSet {
		seen[sd.Topic] = true
		old, ok := g.subscriptions[sd.Topic]
		if !ok || sd.SubVersion > old.SubVersion {
			if !ok || old.SubString != sd.SubString {
				changed = true
			}
			g.subscriptions[sd.Topic] = sd
		}
	}
	for t := range g.subscriptions {
		if !seen[t] {
			delete(g.subscriptions, t)
			changed = true
		}
	}
	notify := changed && cl.notify && g.messageModel != "BROADCASTING"
	conns := g.conns()
	cl.mu.Unlock()
	if notify {
		cl.notifyChanged(cd.GroupName, conns)
	}
	return changed
}

func (g *consumerGroup) conns() []*remoting.Conn {
	out := make([]*remoting.Conn, 0, len(g.channels))
	for c := range g.channels {
		out = append(out, c)
	}
	return out
}

// RegisterProducer records a producer group member.
func (cl *Clients) RegisterProducer(conn *remoting.Conn, clientID, group string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	m := cl.producers[group]
	if m == nil {
		m = make(map[*remoting.Conn]*clientChannel)
		cl.producers[group] = m
	}
	ch := m[conn]
	if ch == nil {
		ch = &clientChannel{clientID: clientID, conn: conn}
		m[conn] = ch
	}
	ch.lastUpdate = cl.now()
}

// UnregisterClient removes a client's channel from a producer and/or
// consumer group (UNREGISTER_CLIENT).
func (cl *Clients) UnregisterClient(conn *remoting.Conn, producerGroup, consumerGroup string) {
	cl.mu.Lock()
	if m := cl.producers[producerGroup]; m != nil {
		delete(m, conn)
		if len(m) == 0 {
			delete(cl.producers, producerGroup)
		}
	}
	var notify []*remoting.Conn
	if g := cl.consumers[consumerGroup]; g != nil {
		if _, ok := g.channels[conn]; ok {
			delete(g.channels, conn)
			notify = g.conns()
		}
		if len(g.channels) == 0 {
			delete(cl.consumers, consumerGroup)
		}
	}
	cl.mu.Unlock()
	if len(notify) > 0 && cl.notify {
		cl.notifyChanged(consumerGroup, notify)
	}
}

// ConnClosed removes a closed connection from every group.
func (cl *Clients) ConnClosed(conn *remoting.Conn) {
	cl.removeWhere(func(c *remoting.Conn, _ *clientChannel) bool { return c == conn })
}

// Expire removes channels silent for longer than timeout (120 s in RocketMQ).
func (cl *Clients) Expire(timeout time.Duration) {
	now := cl.now()
	cl.removeWhere(func(c *remoting.Conn, ch *clientChannel) bool {
		if now.Sub(ch.lastUpdate) > timeout {
			c.Close()
			return true
		}
		return false
	})
}

func (cl *Clients) removeWhere(drop func(*remoting.Conn, *clientChannel) bool) {
	cl.mu.Lock()
	for name, m := range cl.producers {
		for c, ch := range m {
			if drop(c, ch) {
				delete(m, c)
			}
		}
		if len(m) == 0 {
			delete(cl.producers, name)
		}
	}
	type note struct {
		group string
		conns []*remoting.Conn
	}
	var notes []note
	for name, g := range cl.consumers {
		removed := false
		for c, ch := range g.channels {
			if drop(c, ch) {
				delete(g.channels, c)
				removed = true
			}
		}
		if len(g.channels) == 0 {
			delete(cl.consumers, name)
			continue
		}
		if removed && g.messageModel != "BROADCASTING" {
			notes = append(notes, note{name, g.conns()})
		}
	}
	cl.mu.Unlock()
	if cl.notify {
		for _, n := range notes {
			cl.notifyChanged(n.group, n.conns)
		}
	}
}

// notifyChanged sends NOTIFY_CONSUMER_IDS_CHANGED (one-way) to conns.
func (cl *Clients) notifyChanged(group string, conns []*remoting.Conn) {
	for _, c := range conns {
		req := protocol.NewRequest(protocol.NotifyConsumerIDsChanged, map[string]string{"consumerGroup": group})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c.InvokeOneway(ctx, req)
		cancel()
	}
}

// ConsumerIDs lists the client ids of a consumer group, sorted.
func (cl *Clients) ConsumerIDs(group string) []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	g := cl.consumers[group]
	if g == nil {
		return nil
	}
	ids := make([]string, 0, len(g.channels))
	for _, ch := range g.channels {
		if !slices.Contains(ids, ch.clientID) {
			ids = append(ids, ch.clientID)
		}
	}
	slices.Sort(ids)
	return ids
}

// Subscription returns the registered subscription of group to topic.
func (cl *Clients) Subscription(group, topic string) (SubscriptionData, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	g := cl.consumers[group]
	if g == nil {
		return SubscriptionData{}, false
	}
	sd, ok := g.subscriptions[topic]
	return sd, ok
}

// ConsumerGroup reports whether group has live members and its model.
func (cl *Clients) ConsumerGroup(group string) (messageModel string, ok bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	g := cl.consumers[group]
	if g == nil {
		return "", false
	}
	return g.messageModel, true
}

// ProducerConns returns the connections of a producer group.
func (cl *Clients) ProducerConns(group string) []*remoting.Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make([]*remoting.Conn, 0, len(cl.producers[group]))
	for c := range cl.producers[group] {
		out = append(out, c)
	}
	return out
}

// ConnByClientID finds a connection of a client (any group).
func (cl *Clients) ConnByClientID(clientID string) *remoting.Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, g := range cl.consumers {
		for c, ch := range g.channels {
			if ch.clientID == clientID {
				return c
			}
		}
	}
	for _, m := range cl.producers {
		for c, ch := range m {
			if ch.clientID == clientID {
				return c
			}
		}
	}
	return nil
}

// tagFilter is a TAG subscription: every message, or those whose tag hash
// is in codes.
type tagFilter struct {
	all   bool
	codes map[int32]bool
}

// newTagFilter builds a filter from a subscription expression ("*", "",
// or "a || b").
func newTagFilter(expr string) tagFilter {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return tagFilter{all: true}
	}
	f := tagFilter{codes: make(map[int32]bool)}
	for _, t := range strings.Split(expr, "||") {
		if t = strings.TrimSpace(t); t != "" {
			f.codes[message.JavaStringHash(t)] = true
		}
	}
	return f
}

// filterFromSubscription builds the filter of a registered subscription,
// trusting tagsSet over codeSet (the Go client hashes bytes, not UTF-16).
func filterFromSubscription(sd SubscriptionData) tagFilter {
	if sd.SubString == "" || sd.SubString == "*" {
		return tagFilter{all: true}
	}
	f := tagFilter{codes: make(map[int32]bool)}
	for _, t := range sd.TagsSet {
		f.codes[message.JavaStringHash(t)] = true
	}
	for _, c := range sd.CodeSet {
		f.codes[int32(c)] = true
	}
	if len(f.codes) == 0 {
		return newTagFilter(sd.SubString)
	}
	return f
}

func (f tagFilter) MatchTagsCode(code int64) bool { return f.all || f.codes[int32(code)] }
func (f tagFilter) MatchRecord([]byte) bool       { return true }

// ConsumerConn finds the connection of a client in a consumer group.
func (cl *Clients) ConsumerConn(group, clientID string) *remoting.Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if g := cl.consumers[group]; g != nil {
		for c, ch := range g.channels {
			if ch.clientID == clientID {
				return c
			}
		}
	}
	return nil
}

// ConsumerConnection is GET_CONSUMER_CONNECTION_LIST's body.
type ConsumerConnection struct {
	ConnectionSet     []Connection                `json:"connectionSet"`
	SubscriptionTable map[string]SubscriptionData `json:"subscriptionTable"`
	ConsumeType       string                      `json:"consumeType"`
	MessageModel      string                      `json:"messageModel"`
	ConsumeFromWhere  string                      `json:"consumeFromWhere"`
}

// Connection is one client connection.
type Connection struct {
	ClientID   string `json:"clientId"`
	ClientAddr string `json:"clientAddr"`
	Language   string `json:"language"`
	Version    int    `json:"version"`
}

// ConsumerInfo describes a live consumer group.
func (cl *Clients) ConsumerInfo(group string) (ConsumerConnection, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	g := cl.consumers[group]
	if g == nil {
		return ConsumerConnection{}, false
	}
	cc := ConsumerConnection{
		SubscriptionTable: make(map[string]SubscriptionData, len(g.subscriptions)),
		ConsumeType:       g.consumeType, MessageModel: g.messageModel, ConsumeFromWhere: g.fromWhere,
	}
	for c, ch := range g.channels {
		cc.ConnectionSet = append(cc.ConnectionSet, Connection{ClientID: ch.clientID, ClientAddr: c.RemoteAddr().String(), Language: "GO", Version: 317})
	}
	slices.SortFunc(cc.ConnectionSet, func(a, b Connection) int { return strings.Compare(a.ClientID, b.ClientID) })
	for t, sd := range g.subscriptions {
		cc.SubscriptionTable[t] = sd
	}
	return cc, true
}

// ConsumerConns returns the connections of a consumer group.
func (cl *Clients) ConsumerConns(group string) []*remoting.Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if g := cl.consumers[group]; g != nil {
		return g.conns()
	}
	return nil
}
