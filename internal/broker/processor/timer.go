package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/timer"
)

// recallHandle is the handle RocketMQ 5.3.2 attaches to a send response
// for a timer message (SendMessageProcessor.attachRecallHandle): not for
// batches, sends back, or retry topics.
func (p *Processor) recallHandle(m *message.Message, uniq string) string {
	if m.Topic != timer.Topic {
		return ""
	}
	out, ok1 := message.Property(m.Properties, message.PropertyTimerOutMs)
	rt, ok2 := message.Property(m.Properties, message.PropertyRealTopic)
	ms, err := strconv.ParseInt(out, 10, 64)
	if !ok1 || !ok2 || err != nil || strings.HasPrefix(rt, retryPrefix) {
		return ""
	}
	return timer.EncodeHandle(rt, p.cfg.BrokerName, ms, uniq)
}

// recallMessage handles RECALL_MESSAGE {producerGroup, topic, recallHandle}
// (RecallMessageProcessor): the timer named by the handle is cancelled.
func (p *Processor) recallMessage(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	if p.cfg.RecallMessageDisabled {
		return resp(req, protocol.NoPermission, "recall failed, operation is forbidden")
	}
	if p.Timers == nil {
		return resp(req, protocol.SystemError, "recall failed, the timer wheel is not running")
	}
	if p.cfg.Permission&permWrite == 0 {
		return resp(req, protocol.ServiceNotAvailable, "recall failed, broker service not available")
	}
	f := fields{c: req}
	topic := f.required("topic")
	handle := f.required("recallHandle")
	if f.err != nil {
		return resp(req, protocol.InvalidParameter, f.err.Error())
	}
	if _, ok := p.Topics.Get(topic); !ok {
		return resp(req, protocol.TopicNotExist, "recall failed, the topic["+topic+"] not exist")
	}
	h, err := timer.DecodeHandle(handle)
	if err != nil {
		return resp(req, protocol.IllegalOperation, err.Error())
	}
	if h.Topic != topic {
		return resp(req, protocol.IllegalOperation, "recall failed, topic not match")
	}
	if h.BrokerName != p.cfg.BrokerName {
		return resp(req, protocol.IllegalOperation, "recall failed, broker service not available")
	}
	if h.TimeMs <= 0 {
		return resp(req, protocol.IllegalOperation, "recall failed, timestamp invalid")
	}
	if err := p.Timers.Recall(ctx, h.Topic, h.UniqKey, h.TimeMs); err != nil {
		code, remark := timerErrorCode(err)
		return resp(req, code, "recall failed, "+remark)
	}
	r := success(req)
	r.SetExt("msgId", h.UniqKey)
	return r
}

// timerStatus handles QUIVER_TIMER_STATUS {topic, msgId}.
func (p *Processor) timerStatus(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	topic, id := f.required("topic"), f.required("msgId")
	if f.err != nil {
		return resp(req, protocol.InvalidParameter, f.err.Error())
	}
	if p.Timers == nil {
		return resp(req, protocol.SystemError, "the timer wheel is not running")
	}
	st, err := p.Timers.Status(ctx, topic, id)
	return timerStatusResponse(req, st, err)
}

// timerReschedule handles QUIVER_TIMER_RESCHEDULE {topic, msgId,
// deliverTimeMs}.
func (p *Processor) timerReschedule(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	topic, id := f.required("topic"), f.required("msgId")
	f.required("deliverTimeMs")
	at := f.int64("deliverTimeMs", 0)
	if f.err != nil {
		return resp(req, protocol.InvalidParameter, f.err.Error())
	}
	if p.Timers == nil {
		return resp(req, protocol.SystemError, "the timer wheel is not running")
	}
	if p.cfg.Permission&permWrite == 0 {
		return resp(req, protocol.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden", p.cfg.BrokerName))
	}
	st, err := p.Timers.Reschedule(ctx, topic, id, at)
	return timerStatusResponse(req, st, err)
}

func timerStatusResponse(req *protocol.Command, st timer.Status, err error) *protocol.Command {
	if err != nil {
		code, remark := timerErrorCode(err)
		return resp(req, code, remark)
	}
	body, err := json.Marshal(st)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	r.Body = body
	return r
}
