package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// mqKey writes a MessageQueue the way fastjson writes it as a map key:
// a JSON object, unquoted (the Java admin tools and the Go client parse it).
func mqKey(topic, broker string, qid int) string {
	// fastjson orders keys alphabetically: brokerName, queueId, topic.
	return fmt.Sprintf(`{"brokerName":%s,"queueId":%d,"topic":%s}`, jsonString(broker), qid, jsonString(topic))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// objectMap writes {key:value,...} with raw keys, in sorted key order.
func objectMap(entries map[string]string) []byte {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(entries[k])
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// topicStats handles GET_TOPIC_STATS_INFO: min and max offset and the last
// store time of every queue of a topic.
func (p *Processor) topicStats(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	topic := req.Ext("topic")
	tc, ok := p.Topics.Get(topic)
	if !ok {
		return resp(req, protocol.TopicNotExist, "topic["+topic+"] not exist")
	}
	entries := make(map[string]string)
	for q := range tc.QueueNums() {
		qid := int32(q)
		min, max := p.Store.MinOffset(topic, qid), p.Store.MaxOffset(topic, qid)
		var last int64
		if max > 0 {
			last = p.Store.StoreTimeAt(topic, qid, max-1)
		}
		entries[mqKey(topic, p.cfg.BrokerName, q)] = fmt.Sprintf(`{"lastUpdateTimestamp":%d,"maxOffset":%d,"minOffset":%d}`, last, max, min)
	}
	r := success(req)
	r.Body = append(append([]byte(`{"offsetTable":`), objectMap(entries)...), '}')
	return r
}

// consumeStats handles GET_CONSUME_STATS: per queue, the broker's max
// offset and the group's committed offset — the lag an admin tool shows.
func (p *Processor) consumeStats(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	group, only := req.Ext("consumerGroup"), req.Ext("topic")
	topics := p.Offsets.Topics(group)
	if only != "" {
		topics = []string{only}
	}
	entries := make(map[string]string)
	var total int64
	for _, topic := range topics {
		tc, ok := p.Topics.Get(topic)
		if !ok {
			continue
		}
		for q := range tc.QueueNums() {
			qid := int32(q)
			max := p.Store.MaxOffset(topic, qid)
			consumed, ok := p.Offsets.Query(group, topic, qid)
			if !ok {
				consumed = 0
			}
			var last int64
			if consumed > 0 {
				last = p.Store.StoreTimeAt(topic, qid, consumed-1)
			}
			total += max - consumed
			entries[mqKey(topic, p.cfg.BrokerName, q)] = fmt.Sprintf(`{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d}`, max, consumed, last)
		}
	}
	if len(entries) == 0 && only != "" {
		return resp(req, protocol.ConsumerNotOnline, "no offsets of group "+group+" on topic "+only)
	}
	r := success(req)
	r.Body = append(append([]byte(`{"consumeTps":0.0,"offsetTable":`), objectMap(entries)...), '}')
	r.SetExt("diffTotal", strconv.FormatInt(total, 10))
	return r
}

// consumerConnections handles GET_CONSUMER_CONNECTION_LIST.
func (p *Processor) consumerConnections(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	group := req.Ext("consumerGroup")
	info, ok := p.Clients.ConsumerInfo(group)
	if !ok {
		return resp(req, protocol.ConsumerNotOnline, "the consumer group["+group+"] not online")
	}
	b, err := json.Marshal(info)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	r.Body = b
	return r
}

// resetOffset handles INVOKE_BROKER_TO_RESET_OFFSET: every queue of the
// topic is set to the first offset stored at or after timestamp (ms; -1
// means the max offset), the group's live clients are told with
// RESET_CONSUMER_CLIENT_OFFSET, and pulls pick the new offset up.
func (p *Processor) resetOffset(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	topic, group, ts := f.required("topic"), f.required("group"), f.int64("timestamp", 0)
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	tc, ok := p.Topics.Get(topic)
	if !ok {
		return resp(req, protocol.TopicNotExist, "topic["+topic+"] not exist")
	}
	entries := make(map[string]string)
	for q := range tc.QueueNums() {
		qid := int32(q)
		off := p.Store.MaxOffset(topic, qid)
		if ts >= 0 {
			off = p.Store.OffsetByTime(topic, qid, ts)
		}
		p.Offsets.Reset(group, topic, qid, off)
		entries[mqKey(topic, p.cfg.BrokerName, q)] = strconv.FormatInt(off, 10)
	}
	body := append(append([]byte(`{"offsetTable":`), objectMap(entries)...), '}')
	for _, c := range p.Clients.ConsumerConns(group) {
		n := protocol.NewRequest(protocol.ResetConsumerClientOffset, map[string]string{
			"topic": topic, "group": group, "timestamp": strconv.FormatInt(ts, 10), "isForce": "true",
		})
		n.Body = body
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c.InvokeOneway(ctx, n)
		cancel()
	}
	r := success(req)
	r.Body = body
	return r
}
