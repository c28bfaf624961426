package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/pop"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/store"
)

// popHeader is PopMessageRequestHeader.
type popHeader struct {
	group, topic  string
	queueID       int32
	maxMsgNums    int32
	invisibleTime int64
	pollTime      int64
	bornTime      int64
	initMode      int32
	expType, exp  string
	order         bool
	attemptID     string
}

func decodePopHeader(req *protocol.Command) (popHeader, error) {
	f := fields{c: req}
	h := popHeader{
		group:         f.required("consumerGroup"),
		topic:         f.required("topic"),
		queueID:       f.int32("queueId", -1),
		maxMsgNums:    f.int32("maxMsgNums", 32),
		invisibleTime: f.int64("invisibleTime", 0),
		pollTime:      f.int64("pollTime", 0),
		bornTime:      f.int64("bornTime", 0),
		initMode:      f.int32("initMode", pop.InitMin),
		expType:       f.str("expType"),
		exp:           f.str("exp"),
		order:         f.bool("order"),
		attemptID:     f.str("attemptId"),
	}
	f.required("invisibleTime")
	return h, f.err
}

// popFilter builds the filter of a pop's expression (TAG or SQL92).
func (p *Processor) popFilter(expType, exp string) (store.Filter, int32, string) {
	if exp == "" || exp == "*" {
		return nil, protocol.Success, ""
	}
	switch expType {
	case "", "TAG":
		return newTagFilter(exp), protocol.Success, ""
	case "SQL92":
		f, code, remark := p.compileSQL(exp)
		if code != protocol.Success {
			return nil, code, remark
		}
		return f, protocol.Success, ""
	}
	return nil, protocol.SubscriptionParseFailed, "unknown expression type " + expType
}

// checkPopTarget runs the checks POP_MESSAGE and NOTIFICATION share.
func (p *Processor) checkPopTarget(req *protocol.Command, group, topic string, queueID int32) *protocol.Command {
	if p.Pop == nil {
		return resp(req, protocol.SystemError, "pop consumption is not enabled on this broker")
	}
	if p.cfg.Permission&permRead == 0 {
		return resp(req, protocol.NoPermission, fmt.Sprintf("the broker[%s] pop message is forbidden", p.cfg.BrokerName))
	}
	tc, ok := p.Topics.Get(topic)
	if !ok {
		return resp(req, protocol.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", topic))
	}
	if tc.Perm&permRead == 0 {
		return resp(req, protocol.NoPermission, "the topic["+topic+"] peeking message is forbidden")
	}
	if queueID >= int32(tc.ReadQueueNums) || queueID < -1 {
		return resp(req, protocol.InvalidParameter, fmt.Sprintf("queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d]", queueID, topic, tc.ReadQueueNums))
	}
	gc, err := p.Groups.Ensure(group)
	if err != nil {
		return resp(req, protocol.SubscriptionGroupNotExist, fmt.Sprintf("subscription group [%s] does not exist", group))
	}
	if !gc.ConsumeEnable {
		return resp(req, protocol.NoPermission, "subscription group no permission, "+group)
	}
	return nil
}

// popMessage handles POP_MESSAGE; a pop that finds nothing is parked until
// bornTime + pollTime.
func (p *Processor) popMessage(ctx context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	h, err := decodePopHeader(req)
	if err != nil {
		return resp(req, protocol.InvalidParameter, err.Error())
	}
	now := time.Now().UnixMilli()
	if h.bornTime <= 0 {
		h.bornTime = now
	}
	if now-h.bornTime-h.pollTime > 500 {
		return resp(req, protocol.PollingTimeout, fmt.Sprintf("the broker[%s] pop message is timeout too much", p.cfg.BrokerName))
	}
	if h.maxMsgNums > pop.MaxBatch {
		return resp(req, protocol.InvalidParameter, fmt.Sprintf("the broker[%s] pop message's num is greater than 32", p.cfg.BrokerName))
	}
	if h.maxMsgNums <= 0 || h.invisibleTime < 0 {
		return resp(req, protocol.InvalidParameter, "maxMsgNums must be positive and invisibleTime not negative")
	}
	if r := p.checkPopTarget(req, h.group, h.topic, h.queueID); r != nil {
		return r
	}
	filter, code, remark := p.popFilter(h.expType, h.exp)
	if code != protocol.Success {
		return resp(req, code, remark)
	}
	preq := pop.Request{
		Group: h.group, Topic: h.topic, QueueID: h.queueID, MaxMsgs: int(h.maxMsgNums),
		InvisibleTime: h.invisibleTime, InitMode: int(h.initMode), Order: h.order, AttemptID: h.attemptID, Filter: filter,
	}
	// An expired pop is answered POLLING_TIMEOUT without popping, as Java
	// does: its caller may have given up, and what it popped would stay
	// invisible for nothing.
	timeout := popResponse(req, pop.Result{PopTime: now, InvisibleTime: h.invisibleTime}, h.order)
	backlog := false // found nothing, yet messages wait (a queue was busy)
	run := func(ctx context.Context, expired bool) *protocol.Command {
		if expired {
			return timeout
		}
		res, err := p.Pop.Pop(ctx, preq)
		if err != nil {
			code, remark := popErrorCode(err)
			return resp(req, code, remark)
		}
		if len(res.Records) == 0 {
			backlog = res.RestNum > 0 || res.Busy
			return nil
		}
		return popResponse(req, res, h.order)
	}
	if r := run(ctx, false); r != nil {
		return r
	}
	// Messages wait in a queue another pop is reading: its lock is held
	// for one read, so try again shortly rather than park the pop until
	// the next periodic re-run (concurrent receivers of one topic would
	// otherwise wait 100 ms or more per batch).
	for i := 0; backlog && i < 20 && ctx.Err() == nil; i++ {
		time.Sleep(250 * time.Microsecond)
		if r := run(ctx, false); r != nil {
			return r
		}
	}
	deadline := time.UnixMilli(h.bornTime + h.pollTime)
	if h.pollTime <= 0 || !time.Now().Before(deadline) || p.PopPoll == nil {
		return timeout
	}
	held := &heldPop{
		conn: conn, req: req, deadline: deadline, periodic: h.order || backlog,
		keys:  []string{h.topic, pop.RetryTopicV1(h.topic, h.group)},
		rerun: func(expired bool) *protocol.Command { return run(context.Background(), expired) },
	}
	if !p.PopPoll.hold(held) {
		return resp(req, protocol.PollingFull, "too many pops are waiting")
	}
	return nil
}

// popResponse builds the answer to a pop: FOUND with the records, or
// POLLING_TIMEOUT.
func popResponse(req *protocol.Command, res pop.Result, order bool) *protocol.Command {
	r := success(req)
	r.Remark = "FOUND"
	if len(res.Records) == 0 {
		r.Code, r.Remark = protocol.PollingTimeout, "NO_MESSAGE_IN_QUEUE"
	} else {
		r.Body = joinRecords(res.Records)
	}
	r.SetExt("popTime", strconv.FormatInt(res.PopTime, 10))
	r.SetExt("invisibleTime", strconv.FormatInt(res.InvisibleTime, 10))
	r.SetExt("reviveQid", strconv.Itoa(int(res.ReviveQid)))
	r.SetExt("restNum", strconv.FormatInt(res.RestNum, 10))
	r.SetExt("startOffsetInfo", res.StartOffsetInfo)
	r.SetExt("msgOffsetInfo", res.MsgOffsetInfo)
	if order && res.OrderCountInfo != "" {
		r.SetExt("orderCountInfo", res.OrderCountInfo)
	}
	return r
}

// ackTarget decodes and checks the header ACK_MESSAGE and
// CHANGE_MESSAGE_INVISIBLETIME share.
type ackTarget struct {
	group, topic, extraInfo string
	queueID                 int32
	offset                  int64
}

func (p *Processor) decodeAckTarget(req *protocol.Command, changing bool) (ackTarget, *protocol.Command) {
	f := fields{c: req}
	t := ackTarget{
		group: f.required("consumerGroup"), topic: f.required("topic"), extraInfo: f.required("extraInfo"),
	}
	f.required("queueId")
	f.required("offset")
	t.queueID = f.int32("queueId", 0)
	t.offset = f.int64("offset", 0)
	if f.err != nil {
		return t, resp(req, protocol.InvalidParameter, f.err.Error())
	}
	if p.Pop == nil {
		return t, resp(req, protocol.SystemError, "pop consumption is not enabled on this broker")
	}
	tc, ok := p.Topics.Get(t.topic)
	if !ok {
		return t, resp(req, protocol.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", t.topic))
	}
	if t.queueID < 0 || t.queueID >= int32(tc.ReadQueueNums) {
		return t, resp(req, protocol.MessageIllegal, fmt.Sprintf("queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d]", t.queueID, t.topic, tc.ReadQueueNums))
	}
	minOff, maxOff := p.Store.MinOffset(t.topic, t.queueID), p.Store.MaxOffset(t.topic, t.queueID)
	if t.offset < minOff || t.offset > maxOff || (changing && t.offset == maxOff) {
		return t, resp(req, protocol.NoMessage, fmt.Sprintf("offset is illegal, key:%s@%d, commit:%d, store:%d~%d", t.topic, t.queueID, t.offset, minOff, maxOff))
	}
	return t, nil
}

// ackMessage handles ACK_MESSAGE.
func (p *Processor) ackMessage(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	t, bad := p.decodeAckTarget(req, false)
	if bad != nil {
		return bad
	}
	if err := p.Pop.Ack(ctx, t.group, t.topic, t.queueID, t.offset, t.extraInfo); err != nil {
		code, remark := popErrorCode(err)
		return resp(req, code, remark)
	}
	return success(req)
}

// batchAckMessage handles BATCH_ACK_MESSAGE (body BatchAckMessageRequestBody).
func (p *Processor) batchAckMessage(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	if p.Pop == nil {
		return resp(req, protocol.SystemError, "pop consumption is not enabled on this broker")
	}
	if len(req.Body) == 0 {
		return resp(req, protocol.NoMessage, "no acks in the body")
	}
	body, err := pop.DecodeBatchAckBody(req.Body)
	if err != nil {
		code, remark := popErrorCode(err)
		return resp(req, code, remark)
	}
	if len(body.Acks) == 0 {
		return resp(req, protocol.NoMessage, "no acks in the body")
	}
	if err := p.Pop.BatchAck(ctx, body); err != nil {
		code, remark := popErrorCode(err)
		return resp(req, code, remark)
	}
	return success(req)
}

// changeInvisibleTime handles CHANGE_MESSAGE_INVISIBLETIME; the response
// carries the new handle's popTime, invisibleTime and reviveQid.
func (p *Processor) changeInvisibleTime(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	t, bad := p.decodeAckTarget(req, true)
	if bad != nil {
		return bad
	}
	f := fields{c: req}
	f.required("invisibleTime")
	inv := f.int64("invisibleTime", 0)
	if f.err != nil || inv < 0 {
		return resp(req, protocol.InvalidParameter, "invisibleTime must be a number of ms, not negative")
	}
	c, err := p.Pop.ChangeInvisible(ctx, t.group, t.topic, t.queueID, t.offset, t.extraInfo, inv)
	if err != nil {
		code, remark := popErrorCode(err)
		return resp(req, code, remark)
	}
	r := success(req)
	r.SetExt("popTime", strconv.FormatInt(c.PopTime, 10))
	r.SetExt("invisibleTime", strconv.FormatInt(c.InvisibleTime, 10))
	r.SetExt("reviveQid", strconv.Itoa(int(c.ReviveQid)))
	return r
}

// notification handles NOTIFICATION: whether a pop would find a message,
// waiting up to pollTime for one.
func (p *Processor) notification(_ context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	f := fields{c: req}
	group, topic := f.required("consumerGroup"), f.required("topic")
	queueID := f.int32("queueId", -1)
	pollTime := f.int64("pollTime", 0)
	bornTime := f.int64("bornTime", 0)
	order := f.bool("order")
	if f.err != nil {
		return resp(req, protocol.InvalidParameter, f.err.Error())
	}
	if r := p.checkPopTarget(req, group, topic, queueID); r != nil {
		return r
	}
	answer := func(has bool) *protocol.Command {
		r := success(req)
		r.SetExt("hasMsg", strconv.FormatBool(has))
		r.SetExt("pollingFull", "false")
		return r
	}
	if p.Pop.HasMessage(group, topic, queueID, order) {
		return answer(true)
	}
	if bornTime <= 0 {
		bornTime = time.Now().UnixMilli()
	}
	deadline := time.UnixMilli(bornTime + pollTime)
	if pollTime <= 0 || !time.Now().Before(deadline) || p.PopPoll == nil {
		return answer(false)
	}
	held := &heldPop{
		conn: conn, req: req, deadline: deadline, periodic: order,
		keys: []string{topic, pop.RetryTopicV1(topic, group)},
		rerun: func(expired bool) *protocol.Command {
			if p.Pop.HasMessage(group, topic, queueID, order) {
				return answer(true)
			}
			if expired {
				return answer(false)
			}
			return nil
		},
	}
	if !p.PopPoll.hold(held) {
		r := answer(false)
		r.SetExt("pollingFull", "true")
		return r
	}
	return nil
}
