package processor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/store"
)

// Property names of the retry path (MessageConst).
const (
	propRetryTopic          = "RETRY_TOPIC"
	propOriginMessageID     = "ORIGIN_MESSAGE_ID"
	propDLQOriginTopic      = "DLQ_ORIGIN_TOPIC"
	propDLQOriginMessageID  = "DLQ_ORIGIN_MESSAGE_ID"
	versionMaxReconsumeHdr  = 121 // V3_4_9: header maxReconsumeTimes honoured from here
	defaultRetryDelayOffset = 3   // the first retry uses level 3 (10 s)
)

// putMessages applies the store-side hooks (delay levels, timers, half
// messages) and stores msgs.
func (p *Processor) putMessages(ctx context.Context, msgs []*message.Message) ([]store.PutResult, error) {
	for _, m := range msgs {
		for _, h := range p.PutHooks {
			if err := h(m); err != nil {
				return nil, err
			}
		}
	}
	return p.Store.PutBatch(ctx, msgs)
}

// consumerSendMsgBack handles CONSUMER_SEND_MSG_BACK: a message the consumer
// failed goes to %RETRY%<group> with a delay level (3 + reconsume times by
// default), or to %DLQ%<group> once it was retried maxReconsumeTimes.
func (p *Processor) consumerSendMsgBack(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	group := f.required("group")
	off := f.int64("offset", -1)
	delayLevel := f.int32("delayLevel", 0)
	maxHdr := f.int32("maxReconsumeTimes", -1)
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	gc, err := p.Groups.Ensure(group)
	if err != nil {
		return resp(req, protocol.SubscriptionGroupNotExist, "subscription group not exist, "+group)
	}
	if p.cfg.Permission&permWrite == 0 {
		return resp(req, protocol.NoPermission, "the broker["+p.cfg.BrokerName+"] sending message is forbidden")
	}
	if gc.RetryQueueNums <= 0 {
		return success(req)
	}
	rt, created, err := p.Topics.CreateRetryTopic(group, gc.RetryQueueNums, false)
	if err != nil {
		return resp(req, protocol.SystemError, "create retry topic failed: "+err.Error())
	}
	if created {
		p.TopicsChanged()
	}
	orig, err := p.Store.LookMessage(off)
	if err != nil {
		return resp(req, protocol.SystemError, fmt.Sprintf("look message by offset failed, %d", off))
	}
	props := message.DecodeProperties(orig.Properties)
	if props[propRetryTopic] == "" {
		props[propRetryTopic] = orig.Topic
	}
	maxTimes := int32(gc.RetryMaxTimes)
	if req.Version >= versionMaxReconsumeHdr && maxHdr >= 0 {
		maxTimes = maxHdr
	}
	topic, queue := rt.TopicName, int32(rand.IntN(max(rt.WriteQueueNums, 1)))
	if orig.ReconsumeTimes >= maxTimes || delayLevel < 0 {
		dlq, created, err := p.Topics.CreateDLQTopic(group)
		if err != nil {
			return resp(req, protocol.SystemError, "create DLQ topic failed: "+err.Error())
		}
		if created {
			p.TopicsChanged()
		}
		topic, queue = dlq.TopicName, 0
		delete(props, message.PropertyDelayLevel)
		props[propDLQOriginTopic] = props[propRetryTopic]
		if u := props[message.PropertyUniqKey]; u != "" {
			props[propDLQOriginMessageID] = u
		}
	} else {
		if delayLevel == 0 {
			delayLevel = defaultRetryDelayOffset + orig.ReconsumeTimes
		}
		props[message.PropertyDelayLevel] = strconv.Itoa(int(delayLevel))
	}
	if props[propOriginMessageID] == "" {
		props[propOriginMessageID] = message.OffsetMsgID(orig.StoreHost, orig.PhysicalOffset)
	}
	props[propWait] = "false"
	m := &message.Message{
		Topic: topic, QueueID: queue, Flag: orig.Flag, SysFlag: orig.SysFlag,
		BornTimestamp: orig.BornTimestamp, BornHost: orig.BornHost,
		ReconsumeTimes: orig.ReconsumeTimes + 1,
		Body:           orig.Body, Properties: message.EncodeProperties(props),
	}
	if _, err := p.putMessages(ctx, []*message.Message{m}); err != nil {
		code, remark := storeErrorCode(err)
		if code == protocol.FlushDiskTimeout {
			return success(req)
		}
		return resp(req, code, remark)
	}
	return success(req)
}

const propWait = "WAIT"
