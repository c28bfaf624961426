package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// heartbeat handles HEART_BEAT: it registers producers and consumers,
// creates missing subscription groups and retry topics, and notifies a
// group's members when it changed.
func (p *Processor) heartbeat(_ context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	var hb HeartbeatData
	if err := json.Unmarshal(req.Body, &hb); err != nil {
		return resp(req, protocol.SystemError, "bad heartbeat body: "+err.Error())
	}
	for _, cd := range hb.ConsumerDataSet {
		gc, err := p.Groups.Ensure(cd.GroupName)
		if err != nil {
			p.log.Warn("heartbeat of an unknown consumer group skipped", "group", cd.GroupName, "err", err)
			continue
		}
		if cd.MessageModel != "BROADCASTING" {
			if _, created, err := p.Topics.CreateRetryTopic(cd.GroupName, max(gc.RetryQueueNums, 1), false); err == nil && created {
				p.TopicsChanged()
			}
		}
		p.Clients.RegisterConsumer(conn, hb.ClientID, cd)
	}
	for _, pd := range hb.ProducerDataSet {
		p.Clients.RegisterProducer(conn, hb.ClientID, pd.GroupName)
	}
	r := success(req)
	r.SetExt("IS_SUPPORT_HEART_BEAT_V2", "true")
	r.SetExt("IS_SUB_CHANGE", "true")
	return r
}

func (p *Processor) unregisterClient(_ context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	p.Clients.UnregisterClient(conn, req.Ext("producerGroup"), req.Ext("consumerGroup"))
	return success(req)
}

func (p *Processor) consumerList(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	group := req.Ext("consumerGroup")
	ids := p.Clients.ConsumerIDs(group)
	if len(ids) == 0 {
		return resp(req, protocol.SystemError, "no consumer for this group, "+group)
	}
	b, _ := json.Marshal(map[string][]string{"consumerIdList": ids})
	r := success(req)
	r.Body = b
	return r
}

func (p *Processor) checkClientConfig(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	return success(req)
}

// updateAndCreateTopic handles UPDATE_AND_CREATE_TOPIC.
func (p *Processor) updateAndCreateTopic(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	tc := metadata.TopicConfig{
		TopicName:       f.required("topic"),
		ReadQueueNums:   int(f.int32("readQueueNums", 8)),
		WriteQueueNums:  int(f.int32("writeQueueNums", 8)),
		Perm:            int(f.int32("perm", 6)),
		TopicFilterType: f.str("topicFilterType"),
		TopicSysFlag:    int(f.int32("topicSysFlag", 0)),
		Order:           f.bool("order"),
	}
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	if err := metadata.ValidateTopic(tc.TopicName); err != nil {
		return resp(req, protocol.InvalidParameter, err.Error())
	}
	if tc.ReadQueueNums <= 0 || tc.WriteQueueNums <= 0 || tc.ReadQueueNums > 1024 || tc.WriteQueueNums > 1024 {
		return resp(req, protocol.InvalidParameter, fmt.Sprintf("queue nums must be in [1, 1024]: read %d write %d", tc.ReadQueueNums, tc.WriteQueueNums))
	}
	if tc.TopicFilterType == "" {
		tc.TopicFilterType = "SINGLE_TAG"
	}
	if attrs := req.Ext("attributes"); attrs != "" {
		tc.Attributes = parseAttributes(attrs)
	}
	if err := p.Topics.Put(tc); err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	p.TopicsChanged()
	return success(req)
}

// parseAttributes reads "+key=value,+key2=value2" (mqadmin's form).
func parseAttributes(s string) map[string]string {
	m := make(map[string]string)
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimPrefix(strings.TrimSpace(kv), "+")
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (p *Processor) deleteTopic(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	topic := req.Ext("topic")
	if topic == "" {
		return resp(req, protocol.SystemError, "the header field topic is missing")
	}
	if err := p.Topics.Delete(topic); err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	p.Offsets.DeleteTopic(topic)
	p.TopicsChanged()
	return success(req)
}

func (p *Processor) allTopicConfig(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	b, err := json.Marshal(p.Topics.SerializeWrapper())
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	r.Body = b
	return r
}

func (p *Processor) updateAndCreateGroup(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	var gc metadata.SubscriptionGroupConfig
	if err := json.Unmarshal(req.Body, &gc); err != nil || gc.GroupName == "" {
		return resp(req, protocol.SystemError, fmt.Sprintf("bad subscription group body: %v", err))
	}
	if err := p.Groups.Put(gc); err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	return success(req)
}

func (p *Processor) deleteGroup(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	group := req.Ext("groupName")
	if group == "" {
		return resp(req, protocol.SystemError, "the header field groupName is missing")
	}
	if err := p.Groups.Delete(group); err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	if req.Ext("cleanOffset") == "true" {
		p.Offsets.DeleteGroup(group)
	}
	return success(req)
}

func (p *Processor) allGroups(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	table := make(map[string]metadata.SubscriptionGroupConfig)
	for _, g := range p.Groups.All() {
		table[g.GroupName] = g
	}
	b, err := json.Marshal(map[string]any{"subscriptionGroupTable": table, "dataVersion": p.Groups.DataVersion()})
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	r.Body = b
	return r
}

// queryMessage handles QUERY_MESSAGE: messages of a topic by key within a
// time range; the body is the stored records.
func (p *Processor) queryMessage(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	topic, key := f.required("topic"), f.required("key")
	maxNum := int(f.int32("maxNum", 32))
	begin, end := f.int64("beginTimestamp", 0), f.int64("endTimestamp", 0)
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	if end == 0 {
		end = 1<<63 - 1
	}
	msgs, err := p.Store.QueryByKey(topic, key, max(1, min(maxNum, 64)), begin, end)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	if len(msgs) == 0 {
		return resp(req, protocol.QueryNotFound, "can not find message, maybe time range not correct")
	}
	var body []byte
	var last int64
	for _, m := range msgs {
		rec, err := p.Store.ReadRecord(m.PhysicalOffset)
		if err != nil {
			continue
		}
		body = append(body, rec...)
		last = max(last, m.StoreTimestamp)
	}
	r := success(req)
	r.Body = body
	r.SetExt("indexLastUpdateTimestamp", strconv.FormatInt(last, 10))
	r.SetExt("indexLastUpdatePhyoffset", "0")
	return r
}

// viewMessageByID handles VIEW_MESSAGE_BY_ID: the record at a commit-log
// offset.
func (p *Processor) viewMessageByID(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	off := f.int64("offset", -1)
	if f.err != nil || off < 0 {
		return resp(req, protocol.SystemError, "the header field offset is missing or bad")
	}
	rec, err := p.Store.ReadRecord(off)
	if err != nil {
		return resp(req, protocol.SystemError, "can not find message by the offset, "+strconv.FormatInt(off, 10))
	}
	if _, _, err := message.Decode(rec, false); err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	r.Body = rec
	return r
}

// consumerRunningInfo handles GET_CONSUMER_RUNNING_INFO from an admin tool:
// the broker asks the named client over its own connection and returns the
// client's answer.
func (p *Processor) consumerRunningInfo(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	group, clientID := req.Ext("consumerGroup"), req.Ext("clientId")
	conn := p.Clients.ConsumerConn(group, clientID)
	if conn == nil {
		return resp(req, protocol.SystemError, fmt.Sprintf("The Consumer <%s> <%s> not online", group, clientID))
	}
	fwd := protocol.NewRequest(protocol.GetConsumerRunningInfo, map[string]string{
		"consumerGroup": group, "clientId": clientID, "jstackEnable": req.Ext("jstackEnable"),
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := conn.Invoke(ctx, fwd)
	if err != nil {
		return resp(req, protocol.SystemError, fmt.Sprintf("invoke the consumer <%s> <%s> failed: %v", group, clientID, err))
	}
	out := resp(req, r.Code, r.Remark)
	out.Body = r.Body
	return out
}
