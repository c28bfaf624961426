package processor

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

func (p *Processor) queryConsumerOffset(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	group, topic, qid := f.required("consumerGroup"), f.required("topic"), f.int32("queueId", 0)
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	off, found := p.Offsets.Query(group, topic, qid)
	if !found {
		// RocketMQ: a group with no offset on a queue whose first message is
		// still there starts at 0 (unless the client asked not to).
		if req.Ext("setZeroIfNotFound") == "false" || p.Store.MinOffset(topic, qid) > 0 {
			return resp(req, protocol.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
		}
		off = 0
	}
	r := success(req)
	r.SetExt("offset", strconv.FormatInt(off, 10))
	return r
}

func (p *Processor) updateConsumerOffset(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	group, topic := f.required("consumerGroup"), f.required("topic")
	qid, off := f.int32("queueId", 0), f.int64("commitOffset", 0)
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	if _, ok := p.Groups.Get(group); !ok {
		if _, err := p.Groups.Ensure(group); err != nil {
			return resp(req, protocol.SubscriptionGroupNotExist, "subscription group not exist: "+group)
		}
	}
	if _, ok := p.Topics.Get(topic); !ok {
		return resp(req, protocol.TopicNotExist, "topic not exist: "+topic)
	}
	p.Offsets.Commit(group, topic, qid, off)
	return quickSuccess(req)
}

func (p *Processor) queueArgs(req *protocol.Command) (string, int32, error) {
	f := fields{c: req}
	topic, qid := f.required("topic"), f.int32("queueId", 0)
	return topic, qid, f.err
}

func offsetResponse(req *protocol.Command, off int64) *protocol.Command {
	r := success(req)
	r.SetExt("offset", strconv.FormatInt(off, 10))
	return r
}

func (p *Processor) getMaxOffset(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	topic, qid, err := p.queueArgs(req)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	return offsetResponse(req, p.Store.MaxOffset(topic, qid))
}

func (p *Processor) getMinOffset(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	topic, qid, err := p.queueArgs(req)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	return offsetResponse(req, p.Store.MinOffset(topic, qid))
}

func (p *Processor) searchOffsetByTimestamp(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	topic, qid, ts := f.required("topic"), f.int32("queueId", 0), f.int64("timestamp", 0)
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	return offsetResponse(req, p.Store.OffsetByTime(topic, qid, ts))
}

func (p *Processor) earliestMsgStoreTime(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	topic, qid, err := p.queueArgs(req)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	ts, _ := p.Store.EarliestMessageTime(topic, qid)
	r := success(req)
	r.SetExt("timestamp", strconv.FormatInt(ts, 10))
	return r
}

// allConsumerOffset answers GET_ALL_CONSUMER_OFFSET with the offset table.
func (p *Processor) allConsumerOffset(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	table := make(map[string]map[string]int64)
	for _, g := range p.Offsets.Groups() {
		for _, t := range p.Offsets.Topics(g) {
			qs := make(map[string]int64)
			for q, off := range p.Offsets.Table(g, t) {
				qs[strconv.Itoa(int(q))] = off
			}
			table[t+"@"+g] = qs
		}
	}
	b, err := json.Marshal(map[string]any{"offsetTable": table})
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	r.Body = b
	return r
}
