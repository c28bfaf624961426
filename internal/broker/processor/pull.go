package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/store"
)

// Pull sysFlag bits (PullSysFlag).
const (
	pullCommitOffset = 1 << 0
	pullSuspend      = 1 << 1
	pullSubscription = 1 << 2
)

type pullHeader struct {
	group         string
	topic         string
	queueID       int32
	queueOffset   int64
	maxMsgNums    int32
	sysFlag       int32
	commitOffset  int64
	suspendMillis int64
	subscription  string
	subVersion    int64
	exprType      string
}

func decodePullHeader(req *protocol.Command) (pullHeader, error) {
	f := fields{c: req}
	h := pullHeader{
		group:         f.required("consumerGroup"),
		topic:         f.required("topic"),
		queueID:       f.int32("queueId", 0),
		queueOffset:   f.int64("queueOffset", 0),
		maxMsgNums:    f.int32("maxMsgNums", 32),
		sysFlag:       f.int32("sysFlag", 0),
		commitOffset:  f.int64("commitOffset", 0),
		suspendMillis: f.int64("suspendTimeoutMillis", 20000),
		subscription:  f.str("subscription"),
		subVersion:    f.int64("subVersion", 0),
		exprType:      f.str("expressionType"),
	}
	return h, f.err
}

// pull handles PULL_MESSAGE: first pass, which may suspend the request.
func (p *Processor) pull(_ context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	return p.doPull(conn, req, true)
}

// pullAgain re-runs a suspended pull; it returns nil to keep holding.
func (p *Processor) pullAgain(h *heldPull, expired bool) *protocol.Command {
	r := p.doPull(h.conn, h.req, false)
	if r.Code == protocol.PullNotFound && !expired {
		return nil
	}
	return r
}

func (p *Processor) doPull(conn *remoting.Conn, req *protocol.Command, firstPass bool) *protocol.Command {
	h, err := decodePullHeader(req)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	if p.cfg.Permission&permRead == 0 {
		return resp(req, protocol.NoPermission, fmt.Sprintf("the broker[%s] pulling message is forbidden", p.cfg.BrokerName))
	}
	gc, err := p.Groups.Ensure(h.group)
	if err != nil {
		return resp(req, protocol.SubscriptionGroupNotExist, fmt.Sprintf("subscription group [%s] does not exist", h.group))
	}
	if !gc.ConsumeEnable {
		return resp(req, protocol.NoPermission, "subscription group no permission, "+h.group)
	}
	tc, ok := p.Topics.Get(h.topic)
	if !ok {
		return resp(req, protocol.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", h.topic))
	}
	if tc.Perm&permRead == 0 {
		return resp(req, protocol.NoPermission, fmt.Sprintf("the topic[%s] pulling message is forbidden", h.topic))
	}
	if h.queueID < 0 || int(h.queueID) >= tc.ReadQueueNums {
		return resp(req, protocol.InvalidParameter, fmt.Sprintf("queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d]", h.queueID, h.topic, tc.ReadQueueNums))
	}
	var filter store.Filter
	if h.sysFlag&pullSubscription != 0 {
		switch h.exprType {
		case "", "TAG":
			filter = newTagFilter(h.subscription)
		case "SQL92":
			f, code, remark := p.compileSQL(h.subscription)
			if code != protocol.Success {
				return resp(req, code, remark)
			}
			filter = f
		default:
			return resp(req, protocol.SystemError, "The broker does not support consumer to filter message by "+h.exprType)
		}
	} else {
		model, live := p.Clients.ConsumerGroup(h.group)
		if !live {
			return resp(req, protocol.SubscriptionNotExist, fmt.Sprintf("the consumer's group info not exist, group: %s", h.group))
		}
		if model == "BROADCASTING" && !gc.ConsumeBroadcastEnable {
			return resp(req, protocol.NoPermission, "the consumer group["+h.group+"] can not consume by broadcast way")
		}
		sd, ok := p.Clients.Subscription(h.group, h.topic)
		if !ok {
			return resp(req, protocol.SubscriptionNotExist, fmt.Sprintf("the consumer's subscription not exist, group: %s topic: %s", h.group, h.topic))
		}
		if sd.SubVersion < h.subVersion {
			return resp(req, protocol.SubscriptionNotLatest, "the consumer's subscription not latest")
		}
		switch sd.ExpressionType {
		case "", "TAG":
			filter = filterFromSubscription(sd)
		case "SQL92":
			f, code, remark := p.compileSQL(sd.SubString)
			if code != protocol.Success {
				return resp(req, code, remark)
			}
			filter = f
		default:
			return resp(req, protocol.SystemError, "The broker does not support consumer to filter message by "+sd.ExpressionType)
		}
	}

	if firstPass {
		// An admin reset is pending: send the consumer to the new offset.
		if off, ok := p.Offsets.TakeReset(h.group, h.topic, h.queueID); ok {
			r := resp(req, protocol.PullOffsetMoved, "the consumer offset was reset")
			r.SetExt("nextBeginOffset", strconv.FormatInt(off, 10))
			r.SetExt("minOffset", strconv.FormatInt(p.Store.MinOffset(h.topic, h.queueID), 10))
			r.SetExt("maxOffset", strconv.FormatInt(p.Store.MaxOffset(h.topic, h.queueID), 10))
			r.SetExt("suggestWhichBrokerId", "0")
			return r
		}
	}
	maxMsgs := int(h.maxMsgNums)
	if maxMsgs <= 0 || maxMsgs > 1024 {
		maxMsgs = 32
	}
	res, err := p.Store.GetMessages(h.topic, h.queueID, h.queueOffset, maxMsgs, 256<<10, filter)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	r := success(req)
	next := res.NextBeginOffset
	switch res.Status {
	case store.Found:
		r.Body = res.Buf // the records, back to back: no copy
	case store.NoMatchedMessage, store.OffsetFoundNull:
		r.Code = protocol.PullRetryImmediately
	case store.OffsetOverflowOne:
		r.Code = protocol.PullNotFound
	case store.OffsetOverflowBadly:
		r.Code, next = protocol.PullOffsetMoved, res.MaxOffset
	case store.OffsetTooSmall:
		r.Code, next = protocol.PullOffsetMoved, res.MinOffset
	case store.NoMessageInQueue:
		r.Code = protocol.PullNotFound
		if h.queueOffset != 0 {
			r.Code = protocol.PullOffsetMoved
		}
		next = res.MinOffset
	}
	r.SetExt("nextBeginOffset", strconv.FormatInt(next, 10))
	r.SetExt("minOffset", strconv.FormatInt(res.MinOffset, 10))
	r.SetExt("maxOffset", strconv.FormatInt(res.MaxOffset, 10))
	r.SetExt("suggestWhichBrokerId", "0")

	if firstPass && h.sysFlag&pullCommitOffset != 0 && p.cfg.BrokerID == 0 {
		p.Offsets.Commit(h.group, h.topic, h.queueID, h.commitOffset)
	}
	if firstPass && r.Code == protocol.PullNotFound && h.sysFlag&pullSuspend != 0 && p.LongPoll != nil {
		hold := time.Duration(h.suspendMillis) * time.Millisecond
		if !p.cfg.LongPolling || hold <= 0 {
			hold = p.cfg.ShortPollingTime
		}
		p.LongPoll.hold(&heldPull{
			conn: conn, req: req, topic: h.topic, queueID: h.queueID,
			offset: h.queueOffset, deadline: time.Now().Add(hold),
		})
		// A message dispatched after GetMessages found nothing and before
		// the pull was parked notified nobody: look again now that it is
		// (the dispatcher writes the unit before it notifies).
		if p.Store.MaxOffset(h.topic, h.queueID) > h.queueOffset {
			p.LongPoll.Notify(h.topic, h.queueID, h.queueOffset)
		}
		return nil
	}
	return r
}

func joinRecords(recs [][]byte) []byte {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	b := make([]byte, 0, n)
	for _, r := range recs {
		b = append(b, r...)
	}
	return b
}
