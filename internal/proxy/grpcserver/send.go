package grpcserver

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
)

// Limits on user properties (ProxyConfig).
const (
	maxUserProperties      = 128
	maxPropertiesBytes     = 16 << 10
	maxMessageGroupBytes   = 64
	maxTransactionRecovery = time.Hour
)

// END_TRANSACTION's commitOrRollback values (MessageSysFlag).
const (
	txCommit   = 8
	txRollback = 12
	txUnknown  = 0
)

// txnData locates a half message for EndTransaction.
type txnData struct {
	broker               string
	tranStateTableOffset int64
	commitLogOffset      int64
	msgID                string
	fromCheck            bool
	expires              time.Time
}

// txnTable keeps transactions for a while after their send or check
// (transactionDataExpireMillis).
type txnTable struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]txnData
}

func newTxnTable(ttl time.Duration) *txnTable {
	return &txnTable{ttl: ttl, m: make(map[string]txnData)}
}

func (t *txnTable) put(topic, txID string, d txnData) {
	now := time.Now()
	d.expires = now.Add(t.ttl)
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.m {
		if now.After(v.expires) {
			delete(t.m, k)
		}
	}
	t.m[topic+"\x00"+txID] = d
}

func (t *txnTable) take(topic, txID string) (txnData, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := topic + "\x00" + txID
	d, ok := t.m[k]
	if ok {
		delete(t.m, k)
	}
	return d, ok && time.Now().Before(d.expires)
}

// SendMessage validates the messages and sends each to a queue the proxy
// picks, as SEND_MESSAGE_V2.
func (s *Service) SendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	msgs := req.GetMessages()
	if len(msgs) == 0 {
		return &pb.SendMessageResponse{Status: st(pb.Code_MESSAGE_CORRUPTED, "no message to send")}, nil
	}
	topic := msgs[0].GetTopic().GetName()
	for _, m := range msgs {
		if m.GetTopic().GetName() != topic {
			return &pb.SendMessageResponse{Status: st(pb.Code_MESSAGE_CORRUPTED, "messages of one request must share a topic")}, nil
		}
	}
	if e := checkTopic(msgs[0].GetTopic()); e != nil {
		return &pb.SendMessageResponse{Status: e}, nil
	}
	r, err := s.routes.get(ctx, topic, true)
	if err != nil {
		return &pb.SendMessageResponse{Status: errStatus(err)}, nil
	}
	qs := r.writeQueues()
	if len(qs) == 0 {
		return &pb.SendMessageResponse{Status: st(pb.Code_FORBIDDEN, "topic "+topic+" has no writable queue")}, nil
	}
	resp := &pb.SendMessageResponse{}
	var common *pb.Status
	for _, m := range msgs {
		e := s.sendOne(ctx, r, qs, m, len(msgs) == 1)
		resp.Entries = append(resp.Entries, e)
		if common == nil {
			common = e.Status
		} else if common.Code != e.Status.Code {
			common = st(pb.Code_MULTIPLE_RESULTS, "send results differ")
		}
	}
	resp.Status = common
	return resp, nil
}

// checkMessage validates one message (GrpcValidator, SendMessageActivity).
func (s *Service) checkMessage(m *pb.Message) *pb.Status {
	sp := m.GetSystemProperties()
	if len(m.GetBody()) > s.opts.MaxMessageSize {
		return st(pb.Code_MESSAGE_BODY_TOO_LARGE, "message body of "+strconv.Itoa(len(m.GetBody()))+" bytes exceeds "+strconv.Itoa(s.opts.MaxMessageSize))
	}
	if blank(sp.GetMessageId()) {
		return st(pb.Code_ILLEGAL_MESSAGE_ID, "message id cannot be blank")
	}
	if sp.Tag != nil {
		t := sp.GetTag()
		if blank(t) || strings.Contains(t, "|") || hasControl(t) {
			return st(pb.Code_ILLEGAL_MESSAGE_TAG, "illegal tag "+strconv.Quote(t))
		}
	}
	for _, k := range sp.GetKeys() {
		if blank(k) || hasControl(k) {
			return st(pb.Code_ILLEGAL_MESSAGE_KEY, "illegal key "+strconv.Quote(k))
		}
	}
	if sp.MessageGroup != nil {
		g := sp.GetMessageGroup()
		if blank(g) || len(g) >= maxMessageGroupBytes || hasControl(g) {
			return st(pb.Code_ILLEGAL_MESSAGE_GROUP, "illegal message group "+strconv.Quote(g))
		}
	}
	if len(m.GetUserProperties()) > maxUserProperties {
		return st(pb.Code_MESSAGE_PROPERTIES_TOO_LARGE, "more than 128 user properties")
	}
	size := len(sp.GetTag())
	for _, k := range sp.GetKeys() {
		size += len(k)
	}
	for k, v := range m.GetUserProperties() {
		if !userProperty(k) || k == "__SHARDINGKEY" || hasControl(k) || k == "" {
			return st(pb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "property key "+strconv.Quote(k)+" is reserved or illegal")
		}
		if strings.ContainsAny(k+v, "\x01\x02") {
			return st(pb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "property "+strconv.Quote(k)+" holds a separator character")
		}
		size += len(k) + len(v)
	}
	if size > maxPropertiesBytes {
		return st(pb.Code_MESSAGE_PROPERTIES_TOO_LARGE, "properties exceed 16 KiB")
	}
	if d := sp.GetOrphanedTransactionRecoveryDuration(); d != nil && d.AsDuration() > maxTransactionRecovery {
		return st(pb.Code_BAD_REQUEST, "orphaned transaction recovery duration exceeds 1 h")
	}
	return nil
}

func (s *Service) sendOne(ctx context.Context, r *route, qs []writeQueue, m *pb.Message, single bool) *pb.SendResultEntry {
	sp := m.GetSystemProperties()
	if e := s.checkMessage(m); e != nil {
		return &pb.SendResultEntry{Status: e, MessageId: sp.GetMessageId()}
	}
	topic := r.topic
	props := make(map[string]string, len(m.GetUserProperties())+8)
	for k, v := range m.GetUserProperties() {
		props[k] = v
	}
	props[message.PropertyUniqKey] = sp.GetMessageId()
	if sp.Tag != nil {
		props[message.PropertyTags] = sp.GetTag()
	}
	if len(sp.GetKeys()) > 0 {
		props[message.PropertyKeys] = strings.Join(sp.GetKeys(), message.KeySeparator)
	}
	var sysFlag int32
	tx := sp.GetMessageType() == pb.MessageType_TRANSACTION
	if tx {
		props["TRAN_MSG"] = "true"
		props["PGROUP"] = topic
		sysFlag |= message.TransactionPrepared
		if d := sp.GetOrphanedTransactionRecoveryDuration(); d != nil && d.AsDuration() > 0 {
			props["CHECK_IMMUNITY_TIME_IN_SECONDS"] = strconv.FormatInt(int64(d.AsDuration()/time.Second), 10)
		}
	}
	if ts := sp.GetDeliveryTimestamp(); ts != nil {
		props[message.PropertyTimerDeliverMs] = strconv.FormatInt(ts.AsTime().UnixMilli(), 10)
	}
	group := sp.GetMessageGroup()
	if group != "" {
		props["__SHARDINGKEY"] = group
	}
	if sp.GetDeliveryAttempt() > 0 {
		props["RECONSUME_TIME"] = strconv.Itoa(int(sp.GetDeliveryAttempt()))
	}
	if tc := sp.GetTraceContext(); tc != "" {
		props["TRACE_CONTEXT"] = tc
	}
	if bh := sp.GetBornHost(); bh != "" {
		props["__BORNHOST"] = bh
	}
	born := time.Now().UnixMilli()
	if bt := sp.GetBornTimestamp(); bt != nil {
		born = bt.AsTime().UnixMilli()
	}
	props["BORN_TIMESTAMP"] = strconv.FormatInt(born, 10)
	if sp.GetBodyEncoding() == pb.Encoding_GZIP {
		sysFlag |= message.FlagCompressed
	}

	var q writeQueue
	if group != "" && single {
		h := int64(message.JavaStringHash(group))
		if h < 0 {
			h = -h
		}
		q = qs[h%int64(len(qs))]
	} else {
		q = qs[s.rr.Add(1)%uint64(len(qs))]
	}
	ext := map[string]string{
		"a": topic, "b": topic, "c": autoCreateTopic, "d": "4", "e": strconv.Itoa(int(q.id)),
		"f": strconv.Itoa(int(sysFlag)), "g": strconv.FormatInt(born, 10), "h": "0",
		"i": string(message.EncodeProperties(props)), "j": "0", "k": "false", "m": "false", "n": q.broker,
	}
	if rt := sp.GetDeliveryAttempt(); rt > 0 {
		ext["j"] = strconv.Itoa(int(rt))
	}
	req := protocol.NewRequest(protocol.SendMessageV2, ext)
	req.Body = m.GetBody()
	resp, err := s.invoke(ctx, q.addr, req)
	if err != nil {
		return &pb.SendResultEntry{Status: errStatus(err), MessageId: sp.GetMessageId()}
	}
	var status *pb.Status
	switch resp.Code {
	case protocol.Success:
		status = ok()
	case protocol.FlushDiskTimeout:
		status = st(pb.Code_MASTER_PERSISTENCE_TIMEOUT, resp.Remark)
	case protocol.FlushSlaveTimeout:
		status = st(pb.Code_SLAVE_PERSISTENCE_TIMEOUT, resp.Remark)
	case protocol.SlaveNotAvailable:
		status = st(pb.Code_HA_NOT_AVAILABLE, resp.Remark)
	case protocol.MessageIllegal:
		if sp.GetDeliveryTimestamp() != nil {
			status = st(pb.Code_ILLEGAL_DELIVERY_TIME, resp.Remark)
		} else {
			status = st(pb.Code_BAD_REQUEST, resp.Remark)
		}
	default:
		return &pb.SendResultEntry{Status: remotingStatus(resp.Code, resp.Remark), MessageId: sp.GetMessageId()}
	}
	txID := resp.Ext("transactionId")
	if txID == "" {
		txID = sp.GetMessageId()
	}
	qo, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
	if tx {
		var clo int64 = -1
		if id := resp.Ext("msgId"); id != "" {
			if _, off, err := message.ParseOffsetMsgID(strings.Split(id, ",")[0]); err == nil {
				clo = off
			}
		}
		s.txns.put(topic, txID, txnData{broker: q.addr, tranStateTableOffset: qo, commitLogOffset: clo, msgID: sp.GetMessageId()})
	}
	return &pb.SendResultEntry{Status: status, MessageId: sp.GetMessageId(), TransactionId: txID, Offset: qo}
}

// EndTransaction commits or rolls back a half message with a one-way
// END_TRANSACTION to the broker that holds it.
func (s *Service) EndTransaction(ctx context.Context, req *pb.EndTransactionRequest) (*pb.EndTransactionResponse, error) {
	if e := checkTopic(req.GetTopic()); e != nil {
		return &pb.EndTransactionResponse{Status: e}, nil
	}
	if blank(req.GetTransactionId()) {
		return &pb.EndTransactionResponse{Status: st(pb.Code_INVALID_TRANSACTION_ID, "transaction id cannot be blank")}, nil
	}
	topic := req.GetTopic().GetName()
	d, found := s.txns.take(topic, req.GetTransactionId())
	if !found {
		return &pb.EndTransactionResponse{Status: st(pb.Code_INTERNAL_SERVER_ERROR, "cannot found transaction data for "+req.GetTransactionId())}, nil
	}
	state := txUnknown
	switch req.GetResolution() {
	case pb.TransactionResolution_COMMIT:
		state = txCommit
	case pb.TransactionResolution_ROLLBACK:
		state = txRollback
	}
	if state == txUnknown {
		return &pb.EndTransactionResponse{Status: ok()}, nil
	}
	msgID := req.GetMessageId()
	if msgID == "" {
		msgID = d.msgID
	}
	fromCheck := d.fromCheck || req.GetSource() == pb.TransactionSource_SOURCE_SERVER_CHECK
	r := protocol.NewRequest(protocol.EndTransaction, map[string]string{
		"topic": topic, "producerGroup": topic,
		"tranStateTableOffset": strconv.FormatInt(d.tranStateTableOffset, 10),
		"commitLogOffset":      strconv.FormatInt(d.commitLogOffset, 10),
		"commitOrRollback":     strconv.Itoa(state),
		"fromTransactionCheck": strconv.FormatBool(fromCheck),
		"msgId":                msgID, "transactionId": req.GetTransactionId(),
	})
	cctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	if err := s.rc.InvokeOneway(cctx, d.broker, r); err != nil {
		return &pb.EndTransactionResponse{Status: errStatus(err)}, nil
	}
	return &pb.EndTransactionResponse{Status: ok()}, nil
}
