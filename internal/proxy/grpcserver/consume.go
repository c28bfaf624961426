package grpcserver

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
)

// Pop request codes (J RequestCode).
const (
	codePopMessage          int32 = 200050
	codeAckMessage          int32 = 200051
	codeChangeInvisibleTime int32 = 200053
	maxBatch                      = 32
	minInvisible                  = 10 * time.Second
	maxInvisible                  = 12 * time.Hour
	autoRenewInvisible            = 60 * time.Second
	minPolling                    = time.Second
)

// Fields of the newer apis' ReceiveMessageRequest that v5.1.2's stubs lack
// (the Node client sends them): read from the unknown fields.
const (
	fieldLongPollingTimeout protowire.Number = 7
	fieldAttemptID          protowire.Number = 8
)

// newerReceiveFields extracts long_polling_timeout and attempt_id.
func newerReceiveFields(req *pb.ReceiveMessageRequest) (poll time.Duration, attempt string) {
	b := req.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return
		}
		b = b[n:]
		switch num {
		case fieldAttemptID:
			attempt = string(v)
		case fieldLongPollingTimeout:
			var d durationpb.Duration
			if err := protoUnmarshal(v, &d); err == nil {
				poll = d.AsDuration()
			}
		}
	}
	return
}

// deliveryInfo is what a popped message carries beyond its record.
type deliveryInfo struct {
	handle  string
	attempt int32
}

// toProto converts a stored message for delivery (GrpcConverter).
func (s *Service) toProto(m *message.Message, props map[string]string, topic string, di deliveryInfo) *pb.Message {
	if topic == "" {
		topic = m.Topic
	}
	user := make(map[string]string)
	for k, v := range props {
		if userProperty(k) {
			user[k] = v
		}
	}
	sum := md5.Sum(m.Body)
	sp := &pb.SystemProperties{
		MessageId:      props[message.PropertyUniqKey],
		BodyDigest:     &pb.Digest{Type: pb.DigestType_MD5, Checksum: strings.ToUpper(hex.EncodeToString(sum[:]))},
		BodyEncoding:   pb.Encoding_IDENTITY,
		BornTimestamp:  timestamppb.New(time.UnixMilli(m.BornTimestamp)),
		BornHost:       m.BornHost.String(),
		StoreTimestamp: timestamppb.New(time.UnixMilli(m.StoreTimestamp)),
		StoreHost:      m.StoreHost.String(),
		QueueId:        m.QueueID,
	}
	if sp.MessageId == "" {
		sp.MessageId = message.OffsetMsgID(m.StoreHost, m.PhysicalOffset)
	}
	if m.SysFlag&message.FlagCompressed != 0 {
		sp.BodyEncoding = pb.Encoding_GZIP
	}
	if bh := props["__BORNHOST"]; bh != "" {
		sp.BornHost = bh
	}
	if t, ok := props[message.PropertyTags]; ok {
		sp.Tag = &t
	}
	if k := props[message.PropertyKeys]; k != "" {
		sp.Keys = message.Keys(k)
	}
	switch {
	case props["TRAN_MSG"] == "true":
		sp.MessageType = pb.MessageType_TRANSACTION
	case props[message.PropertyDelayLevel] != "" || props[message.PropertyTimerDeliverMs] != "" || props[message.PropertyTimerDelaySec] != "" || props[message.PropertyTimerDelayMs] != "":
		sp.MessageType = pb.MessageType_DELAY
	case props["__SHARDINGKEY"] != "":
		sp.MessageType = pb.MessageType_FIFO
	default:
		sp.MessageType = pb.MessageType_NORMAL
	}
	if v, err := strconv.ParseInt(props[message.PropertyTimerDeliverMs], 10, 64); err == nil {
		sp.DeliveryTimestamp = timestamppb.New(time.UnixMilli(v))
	}
	if g := props["__SHARDINGKEY"]; g != "" {
		sp.MessageGroup = &g
	}
	if tc := props["TRACE_CONTEXT"]; tc != "" {
		sp.TraceContext = &tc
	}
	qo := m.QueueOffset
	sp.QueueOffset = &qo
	if di.handle != "" {
		h := di.handle
		sp.ReceiptHandle = &h
		a := di.attempt
		sp.DeliveryAttempt = &a
	}
	return &pb.Message{Topic: &pb.Resource{Name: topic}, UserProperties: user, SystemProperties: sp, Body: m.Body}
}

// popped is one message from a POP_MESSAGE response.
type popped struct {
	msg     message.Message
	props   map[string]string
	handle  handle
	attempt int32 // reconsumeTimes
}

// decodePop turns a POP_MESSAGE response into messages with their receipt
// handles (MQClientAPIImpl.processPopResponse + the proxy's handle).
func decodePop(resp *protocol.Command, brokerName string, order bool) ([]popped, error) {
	popTime, _ := strconv.ParseInt(resp.Ext("popTime"), 10, 64)
	invisible, _ := strconv.ParseInt(resp.Ext("invisibleTime"), 10, 64)
	reviveQid, _ := strconv.ParseInt(resp.Ext("reviveQid"), 10, 32)
	start, err := parseOffsetInfo(resp.Ext("startOffsetInfo"))
	if err != nil {
		return nil, err
	}
	counts, err := parseOffsetInfo(resp.Ext("orderCountInfo"))
	if err != nil {
		return nil, err
	}
	var out []popped
	b := resp.Body
	for len(b) > 0 {
		m, n, err := message.Decode(b, false)
		if err != nil {
			return nil, fmt.Errorf("grpcserver: pop response: %w", err)
		}
		b = b[n:]
		props := message.DecodeProperties(m.Properties)
		p := popped{msg: m, props: props, attempt: m.ReconsumeTimes}
		if ck := props["POP_CK"]; ck != "" {
			h, err := parseHandle(ck)
			if err != nil {
				return nil, err
			}
			p.handle = h
		} else {
			tt := topicTypeOf(m.Topic)
			key := tt + "@" + strconv.Itoa(int(m.QueueID))
			so, ok := start[key]
			if !ok {
				so = m.QueueOffset
			}
			p.handle = handle{
				CkQueueOffset: so, PopTime: popTime, InvisibleTime: invisible, ReviveQid: int32(reviveQid),
				TopicType: tt, BrokerName: brokerName, QueueID: m.QueueID, QueueOffset: m.QueueOffset,
			}
			if order && counts != nil {
				c, ok := counts[tt+"@qo"+strconv.Itoa(int(m.QueueID))+"%"+strconv.FormatInt(m.QueueOffset, 10)]
				if !ok {
					c, ok = counts[key]
				}
				if ok && c > 0 {
					p.attempt = int32(c)
				}
			}
		}
		p.handle.CommitLogOffset = m.PhysicalOffset
		out = append(out, p)
	}
	return out, nil
}

// ReceiveMessage pops from every queue of the broker the client named and
// streams status, messages, then the delivery timestamp.
func (s *Service) ReceiveMessage(req *pb.ReceiveMessageRequest, stream pb.MessagingService_ReceiveMessageServer) error {
	ctx := stream.Context()
	end := func(status *pb.Status, msgs []*pb.Message) error {
		if err := stream.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_Status{Status: status}}); err != nil {
			s.releaseSoon(req, msgs)
			return err
		}
		for i, m := range msgs {
			if err := stream.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_Message{Message: m}}); err != nil {
				s.releaseSoon(req, msgs[i:])
				return err
			}
		}
		return stream.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_DeliveryTimestamp{DeliveryTimestamp: timestamppb.Now()}})
	}
	id := clientID(ctx)
	if id == "" {
		return end(st(pb.Code_CLIENT_ID_REQUIRED, "x-mq-client-id is required"), nil)
	}
	if e := checkGroup(req.GetGroup()); e != nil {
		return end(e, nil)
	}
	mq := req.GetMessageQueue()
	if e := checkTopic(mq.GetTopic()); e != nil {
		return end(e, nil)
	}
	group, topic := req.GetGroup().GetName(), mq.GetTopic().GetName()

	invisible := autoRenewInvisible
	if d := req.GetInvisibleDuration(); d != nil {
		invisible = d.AsDuration()
		if invisible < minInvisible || invisible > maxInvisible {
			return end(st(pb.Code_ILLEGAL_INVISIBLE_TIME, fmt.Sprintf("invisible duration %s is outside [10s, 12h]", invisible)), nil)
		}
	} else if !req.GetAutoRenew() {
		return end(st(pb.Code_ILLEGAL_INVISIBLE_TIME, "invisible duration is required"), nil)
	}
	filterType, exp := "TAG", "*"
	if f := req.GetFilterExpression(); f != nil {
		if f.GetType() == pb.FilterType_SQL {
			filterType = "SQL92"
		}
		if f.GetExpression() != "" {
			exp = f.GetExpression()
		}
	}
	batch := req.GetBatchSize()
	if batch <= 0 {
		batch = 1
	}
	batch = min(batch, maxBatch)

	// Long polling: what the client asked for, or what its deadline allows
	// after keeping half its request timeout for the answer.
	settings := s.clients.settings(id)
	reqTimeout := settings.GetRequestTimeout().AsDuration()
	if reqTimeout <= 0 {
		reqTimeout = 3 * time.Second
	}
	newerPoll, attemptID := newerReceiveFields(req)
	poll := maxLongPolling
	if newerPoll > 0 {
		poll = min(poll, newerPoll)
	}
	if dl, ok := ctx.Deadline(); ok {
		poll = min(poll, time.Until(dl)-reqTimeout/2)
	}
	if poll < minPolling {
		poll = 0
	}
	gc := s.groups.get(ctx, group)

	addr, err := s.routes.brokerAddr(ctx, topic, mq.GetBroker().GetName())
	brokerName := mq.GetBroker().GetName()
	if err != nil {
		r, rerr := s.routes.get(ctx, topic, false)
		if rerr != nil {
			return end(errStatus(rerr), nil)
		}
		for n, a := range r.brokers {
			brokerName, addr = n, a
			break
		}
		if addr == "" {
			return end(st(pb.Code_FORBIDDEN, "topic "+topic+" has no readable broker"), nil)
		}
	}
	ext := map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": "-1",
		"maxMsgNums": strconv.Itoa(int(batch)), "invisibleTime": strconv.FormatInt(invisible.Milliseconds(), 10),
		"pollTime": strconv.FormatInt(poll.Milliseconds(), 10), "bornTime": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"initMode": "1", "expType": filterType, "exp": exp, "order": strconv.FormatBool(gc.Orderly),
		"bname": brokerName,
	}
	if attemptID != "" {
		ext["attemptId"] = attemptID
	}
	preq := protocol.NewRequest(codePopMessage, ext)
	// The pop outlives a client that goes away meanwhile: the broker pops
	// for it anyway, and what cannot be written to the stream is made
	// visible again in 1 s (releaseSoon) instead of after its invisible
	// time, as the Java proxy does.
	deadline := time.Now().Add(poll + s.opts.RequestTimeout)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl.Add(-200 * time.Millisecond)
	}
	pctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	resp, err := s.rc.Invoke(pctx, addr, preq)
	cancel()
	if err != nil {
		if pctx.Err() != nil {
			return end(st(pb.Code_MESSAGE_NOT_FOUND, "no new message"), nil)
		}
		return end(errStatus(fmt.Errorf("grpcserver: pop from %s: %w", addr, err)), nil)
	}
	switch resp.Code {
	case protocol.Success:
	case codePollingFull:
		return end(st(pb.Code_TOO_MANY_REQUESTS, "polling full"), nil)
	case codePollingTimeout, protocol.PullNotFound, protocol.NoMessage:
		return end(st(pb.Code_MESSAGE_NOT_FOUND, "no new message"), nil)
	default:
		return end(remotingStatus(resp.Code, resp.Remark), nil)
	}
	ps, err := decodePop(resp, brokerName, gc.Orderly)
	if err != nil {
		return end(st(pb.Code_INTERNAL_SERVER_ERROR, err.Error()), nil)
	}
	maxAttempts := int32(gc.RetryMaxTimes + 1)
	var out []*pb.Message
	for _, p := range ps {
		if p.attempt >= maxAttempts {
			// Over-retried: to the DLQ, not to the client.
			s.toDLQ(ctx, addr, group, topic, p.handle, p.props[message.PropertyUniqKey], maxAttempts)
			continue
		}
		pm := s.toProto(&p.msg, p.props, topic, deliveryInfo{handle: p.handle.String(), attempt: p.attempt + 1})
		if req.GetAutoRenew() {
			s.renew.add(renewKey{id, group, pm.GetSystemProperties().GetMessageId()}, topic, p.handle)
		}
		out = append(out, pm)
	}
	if len(out) == 0 {
		return end(st(pb.Code_MESSAGE_NOT_FOUND, "no match message"), nil)
	}
	return end(ok(), out)
}

// releaseSoon makes messages that could not be written to the client
// visible again after 1 s instead of their full invisible time, as the Java
// proxy does.
func (s *Service) releaseSoon(req *pb.ReceiveMessageRequest, msgs []*pb.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
	defer cancel()
	for _, m := range msgs {
		_, _ = s.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{
			Group: req.GetGroup(), Topic: m.GetTopic(), ReceiptHandle: m.GetSystemProperties().GetReceiptHandle(),
			InvisibleDuration: durationpb.New(time.Second), MessageId: m.GetSystemProperties().GetMessageId(),
		})
	}
}

// brokerOf resolves the broker named in a receipt handle.
func (s *Service) brokerOf(ctx context.Context, topic string, h handle) (string, *pb.Status) {
	addr, err := s.routes.brokerAddr(ctx, topic, h.BrokerName)
	if err != nil {
		return "", st(pb.Code_BAD_REQUEST, err.Error())
	}
	return addr, nil
}

// resolveHandle parses a client's receipt handle, swaps in the latest one
// when the proxy renews it (and stops renewing it), and refuses an expired
// one.
func (s *Service) resolveHandle(ctx context.Context, group, msgID, raw string) (handle, *pb.Status) {
	h, err := parseHandle(raw)
	if err != nil {
		return handle{}, st(pb.Code_INVALID_RECEIPT_HANDLE, err.Error())
	}
	h, _ = s.renew.take(renewKey{clientID(ctx), group, msgID}, h)
	if h.nextVisible() <= time.Now().UnixMilli() {
		return handle{}, st(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle has expired")
	}
	return h, nil
}

func (s *Service) ack(ctx context.Context, group, topic string, h handle) *pb.Status {
	addr, e := s.brokerOf(ctx, topic, h)
	if e != nil {
		return e
	}
	req := protocol.NewRequest(codeAckMessage, map[string]string{
		"consumerGroup": group, "topic": h.realTopic(topic, group), "queueId": strconv.Itoa(int(h.QueueID)),
		"extraInfo": h.extraInfo(), "offset": strconv.FormatInt(h.QueueOffset, 10), "bname": h.BrokerName,
	})
	resp, err := s.invoke(ctx, addr, req)
	if err != nil {
		return errStatus(err)
	}
	if resp.Code == protocol.NoMessage {
		// The broker no longer knows the handle: expired, replaced by a
		// change, or from another life (Node retries acks until OK or this).
		return st(pb.Code_INVALID_RECEIPT_HANDLE, "ack failed: "+resp.Remark)
	}
	if resp.Code != protocol.Success {
		return st(pb.Code_INTERNAL_SERVER_ERROR, "ack failed: status is abnormal: "+resp.Remark)
	}
	return ok()
}

// AckMessage acks each entry's receipt handle on its broker.
func (s *Service) AckMessage(ctx context.Context, req *pb.AckMessageRequest) (*pb.AckMessageResponse, error) {
	if e := checkGroup(req.GetGroup()); e != nil {
		return &pb.AckMessageResponse{Status: e}, nil
	}
	if e := checkTopic(req.GetTopic()); e != nil {
		return &pb.AckMessageResponse{Status: e}, nil
	}
	resp := &pb.AckMessageResponse{}
	var common *pb.Status
	for _, e := range req.GetEntries() {
		status := func() *pb.Status {
			h, bad := s.resolveHandle(ctx, req.GetGroup().GetName(), e.GetMessageId(), e.GetReceiptHandle())
			if bad != nil {
				return bad
			}
			return s.ack(ctx, req.GetGroup().GetName(), req.GetTopic().GetName(), h)
		}()
		resp.Entries = append(resp.Entries, &pb.AckMessageResultEntry{MessageId: e.GetMessageId(), ReceiptHandle: e.GetReceiptHandle(), Status: status})
		if common == nil {
			common = status
		} else if common.Code != status.Code {
			common = st(pb.Code_MULTIPLE_RESULTS, "ack results differ")
		}
	}
	if common == nil {
		common = ok()
	}
	resp.Status = common
	return resp, nil
}

// ChangeInvisibleDuration moves a message's next visible time and returns
// its new receipt handle.
func (s *Service) ChangeInvisibleDuration(ctx context.Context, req *pb.ChangeInvisibleDurationRequest) (*pb.ChangeInvisibleDurationResponse, error) {
	fail := func(e *pb.Status) (*pb.ChangeInvisibleDurationResponse, error) {
		return &pb.ChangeInvisibleDurationResponse{Status: e, ReceiptHandle: req.GetReceiptHandle()}, nil
	}
	if e := checkGroup(req.GetGroup()); e != nil {
		return fail(e)
	}
	if e := checkTopic(req.GetTopic()); e != nil {
		return fail(e)
	}
	d := req.GetInvisibleDuration().AsDuration()
	if req.GetInvisibleDuration() == nil || d < 0 || d > maxInvisible {
		return fail(st(pb.Code_ILLEGAL_INVISIBLE_TIME, fmt.Sprintf("invisible duration %s is outside [0, 12h]", d)))
	}
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	h, bad := s.resolveHandle(ctx, group, req.GetMessageId(), req.GetReceiptHandle())
	if bad != nil {
		return fail(bad)
	}
	nh, e := s.changeInvisible(ctx, group, topic, h, d)
	if e != nil {
		return fail(e)
	}
	return &pb.ChangeInvisibleDurationResponse{Status: ok(), ReceiptHandle: nh.String()}, nil
}

// changeInvisible asks the broker to make a message visible again after d
// and returns the new handle.
func (s *Service) changeInvisible(ctx context.Context, group, topic string, h handle, d time.Duration) (handle, *pb.Status) {
	addr, e := s.brokerOf(ctx, topic, h)
	if e != nil {
		return handle{}, e
	}
	real := h.realTopic(topic, group)
	r := protocol.NewRequest(codeChangeInvisibleTime, map[string]string{
		"consumerGroup": group, "topic": real, "queueId": strconv.Itoa(int(h.QueueID)),
		"extraInfo": h.extraInfo(), "offset": strconv.FormatInt(h.QueueOffset, 10),
		"invisibleTime": strconv.FormatInt(d.Milliseconds(), 10), "bname": h.BrokerName,
	})
	resp, err := s.invoke(ctx, addr, r)
	if err != nil {
		return handle{}, errStatus(err)
	}
	if resp.Code != protocol.Success {
		if resp.Code == protocol.SystemBusy {
			return handle{}, st(pb.Code_TOO_MANY_REQUESTS, resp.Remark)
		}
		if resp.Code == protocol.NoMessage {
			return handle{}, st(pb.Code_INVALID_RECEIPT_HANDLE, "change invisible time failed: "+resp.Remark)
		}
		return handle{}, st(pb.Code_INTERNAL_SERVER_ERROR, "change invisible time failed: "+resp.Remark)
	}
	popTime, _ := strconv.ParseInt(resp.Ext("popTime"), 10, 64)
	inv, _ := strconv.ParseInt(resp.Ext("invisibleTime"), 10, 64)
	rq, _ := strconv.ParseInt(resp.Ext("reviveQid"), 10, 32)
	return handle{
		CkQueueOffset: h.QueueOffset, PopTime: popTime, InvisibleTime: inv, ReviveQid: int32(rq),
		TopicType: topicTypeOf(real), BrokerName: h.BrokerName, QueueID: h.QueueID, QueueOffset: h.QueueOffset,
		CommitLogOffset: h.CommitLogOffset,
	}, nil
}

// toDLQ sends a message to %DLQ%<group> (CONSUMER_SEND_MSG_BACK with
// delay level -1) and acks it.
func (s *Service) toDLQ(ctx context.Context, addr, group, topic string, h handle, msgID string, maxAttempts int32) *pb.Status {
	if h.CommitLogOffset < 0 {
		return st(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle lacks the commit log offset")
	}
	r := protocol.NewRequest(protocol.ConsumerSendMsgBack, map[string]string{
		"offset": strconv.FormatInt(h.CommitLogOffset, 10), "group": group, "delayLevel": "-1",
		"originMsgId": msgID, "originTopic": h.realTopic(topic, group), "unitMode": "false",
		"maxReconsumeTimes": strconv.Itoa(int(maxAttempts)), "bname": h.BrokerName,
	})
	resp, err := s.invoke(ctx, addr, r)
	if err != nil {
		s.log.Warn("forward to DLQ failed", "group", group, "msgId", msgID, "err", err)
		return errStatus(err)
	}
	if resp.Code != protocol.Success {
		return remotingStatus(resp.Code, resp.Remark)
	}
	return s.ack(ctx, group, topic, h)
}

// ForwardMessageToDeadLetterQueue moves a message to its group's DLQ.
func (s *Service) ForwardMessageToDeadLetterQueue(ctx context.Context, req *pb.ForwardMessageToDeadLetterQueueRequest) (*pb.ForwardMessageToDeadLetterQueueResponse, error) {
	if e := checkGroup(req.GetGroup()); e != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: e}, nil
	}
	if e := checkTopic(req.GetTopic()); e != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: e}, nil
	}
	h, err := parseHandle(req.GetReceiptHandle())
	if err != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: st(pb.Code_INVALID_RECEIPT_HANDLE, err.Error())}, nil
	}
	h, _ = s.renew.take(renewKey{clientID(ctx), req.GetGroup().GetName(), req.GetMessageId()}, h)
	addr, e := s.brokerOf(ctx, req.GetTopic().GetName(), h)
	if e != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: e}, nil
	}
	status := s.toDLQ(ctx, addr, req.GetGroup().GetName(), req.GetTopic().GetName(), h, req.GetMessageId(), req.GetMaxDeliveryAttempts())
	return &pb.ForwardMessageToDeadLetterQueueResponse{Status: status}, nil
}

func protoUnmarshal(b []byte, m *durationpb.Duration) error { return proto.Unmarshal(b, m) }
