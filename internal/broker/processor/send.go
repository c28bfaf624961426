package processor

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/timer"
	"github.com/quiver-mq/quiver/internal/txn"
)

const (
	permRead    = 4
	permWrite   = 2
	permInherit = 1
	retryPrefix = "%RETRY%"
	dlqPrefix   = "%DLQ%"
)

// notSendable are system topics clients may not send to.
var notSendable = map[string]bool{
	"SCHEDULE_TOPIC_XXXX": true, "RMQ_SYS_TRANS_HALF_TOPIC": true, "RMQ_SYS_TRANS_OP_HALF_TOPIC": true,
	"TRANS_CHECK_MAX_TIME_TOPIC": true, "SELF_TEST_TOPIC": true, "OFFSET_MOVED_EVENT": true,
	timer.Topic: true,
}

// send handles SEND_MESSAGE (V1, V2), SEND_BATCH_MESSAGE and the reply
// sends.
func (p *Processor) send(ctx context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	h, err := sendHeaderOf(req)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	if p.cfg.Permission&permWrite == 0 {
		return resp(req, protocol.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden", p.cfg.BrokerName))
	}
	if err := metadata.ValidateTopic(h.Topic); err != nil {
		return resp(req, protocol.InvalidParameter, err.Error())
	}
	if notSendable[h.Topic] {
		return resp(req, protocol.NoPermission, fmt.Sprintf("sending message to topic[%s] is forbidden", h.Topic))
	}
	tc, code, remark := p.topicForSend(h)
	if code != protocol.Success {
		return resp(req, code, remark)
	}
	if tc.Perm&permWrite == 0 {
		return resp(req, protocol.NoPermission, fmt.Sprintf("the topic[%s] sending message is forbidden", h.Topic))
	}
	if h.QueueID < 0 || int(h.QueueID) >= max(tc.WriteQueueNums, tc.ReadQueueNums) {
		return resp(req, protocol.InvalidParameter, fmt.Sprintf("request queueId[%d] is illegal, topic %s has %d queues", h.QueueID, h.Topic, tc.WriteQueueNums))
	}
	bornHost := addrPort(conn.RemoteAddr())
	var (
		msgs []*message.Message
		uniq string // a single message's UNIQ_KEY
	)
	if req.Code == protocol.SendBatchMessage {
		if strings.HasPrefix(h.Topic, retryPrefix) {
			return resp(req, protocol.MessageIllegal, "batch request does not support retry group "+h.Topic)
		}
		items, err := message.DecodeBatch(req.Body)
		if err != nil {
			return resp(req, protocol.MessageIllegal, err.Error())
		}
		for _, it := range items {
			if len(it.Body) > p.cfg.MaxMessageSize {
				return resp(req, protocol.MessageIllegal, fmt.Sprintf("message body size %d exceeds maxMessageSize %d", len(it.Body), p.cfg.MaxMessageSize))
			}
			msgs = append(msgs, &message.Message{
				Topic: h.Topic, QueueID: h.QueueID, Flag: it.Flag, SysFlag: h.SysFlag,
				BornTimestamp: h.BornTimestamp, BornHost: bornHost, Body: it.Body, Properties: it.Properties,
			})
		}
	} else {
		if len(req.Body) > p.cfg.MaxMessageSize {
			return resp(req, protocol.MessageIllegal, fmt.Sprintf("message body size %d exceeds maxMessageSize %d", len(req.Body), p.cfg.MaxMessageSize))
		}
		// The properties as sent, plus UNIQ_KEY when missing and CLUSTER,
		// built in one buffer.
		// The message, the slice holding it and (when they fit) its
		// properties in one allocation.
		one := new(oneMessage)
		const room = len(message.PropertyUniqKey) + 2 + 32 + len(message.PropertyClusterName) + 2
		props := one.props[:0]
		if n := len(h.Properties) + room + len(p.cfg.ClusterName); n > len(one.props) {
			props = make([]byte, 0, n)
		}
		props = append(props, h.Properties...)
		u, ok := message.PropertyString(h.Properties, message.PropertyUniqKey)
		if !ok {
			props = append(props, message.PropertyUniqKey...)
			props = append(props, message.NameValueSeparator)
			at := len(props)
			props = p.appendUniqID(props)
			u = string(props[at:])
			props = append(props, message.PropertySeparator)
		}
		uniq = u
		props = append(props, message.PropertyClusterName...)
		props = append(props, message.NameValueSeparator)
		props = append(props, p.cfg.ClusterName...)
		props = append(props, message.PropertySeparator)
		one.m = message.Message{
			Topic: h.Topic, QueueID: h.QueueID, Flag: h.Flag, SysFlag: h.SysFlag,
			BornTimestamp: h.BornTimestamp, BornHost: bornHost, ReconsumeTimes: h.ReconsumeTimes,
			Body: req.Body, Properties: props,
		}
		one.msgs[0] = &one.m
		msgs = one.msgs[:]
		txn.ToHalf(msgs[0]) // TRAN_MSG=true: store the half in RMQ_SYS_TRANS_HALF_TOPIC
	}
	var results []store.PutResult
	if req.Code == protocol.SendBatchMessage {
		// Batches are stored as sent: RocketMQ applies no delay levels or
		// timers to their items.
		results, err = p.Store.PutBatch(ctx, msgs)
	} else {
		results, err = p.putMessages(ctx, msgs)
	}
	if err != nil && len(results) < len(msgs) {
		code, remark := storeErrorCode(err)
		return resp(req, code, remark)
	}
	r := quickSuccess(req)
	if r.ExtFields == nil {
		r.ExtFields = make(map[string]string, 8) // room for the fields below
	}
	if err != nil {
		// Stored, but not flushed in time.
		r.Code, r.Remark = storeErrorCode(err)
	}
	if len(results) == 1 {
		r.SetExt("msgId", results[0].OffsetMsgID)
	} else {
		ids := make([]string, len(results))
		for i, res := range results {
			ids[i] = res.OffsetMsgID
		}
		r.SetExt("msgId", strings.Join(ids, ","))
	}
	r.SetExt("queueId", strconv.Itoa(int(h.QueueID)))
	r.SetExt("queueOffset", strconv.FormatInt(results[0].QueueOffset, 10))
	if len(msgs) == 1 && uniq == "" {
		uniq, _ = message.Property(msgs[0].Properties, message.PropertyUniqKey)
	}
	if u := uniq; u != "" && len(msgs) == 1 {
		r.SetExt("transactionId", u)
		if h := p.recallHandle(msgs[0], u); h != "" && req.Code != protocol.SendBatchMessage {
			r.SetExt("recallHandle", h)
		}
	}
	r.SetExt("MSG_REGION", "DefaultRegion")
	r.SetExt("TRACE_ON", "true")
	return r
}

// oneMessage is what a send of one message allocates.
type oneMessage struct {
	m     message.Message
	msgs  [1]*message.Message
	props [192]byte
}

// sendHeaderOf decodes a send's header. The one-letter fields of
// SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE are read in place, on the hot
// path (decodeSendHeader first copies them into a map of V1 names, which
// costs as much as the rest of the header); a header that does not decode
// so goes to decodeSendHeader, whose error names the V1 field.
func sendHeaderOf(req *protocol.Command) (sendHeader, error) {
	if req.Code != protocol.SendMessageV2 && req.Code != protocol.SendBatchMessage {
		return decodeSendHeader(req)
	}
	f := fields{c: req}
	h := sendHeader{
		ProducerGroup: f.str("a"), Topic: f.str("b"), DefaultTopic: f.str("c"),
		DefaultTopicQueueNums: f.int32("d", 4), QueueID: f.int32("e", 0), SysFlag: f.int32("f", 0),
		BornTimestamp: f.int64("g", 0), Flag: f.int32("h", 0), Properties: f.str("i"),
		ReconsumeTimes: f.int32("j", 0), MaxReconsumeTimes: f.int32("l", 0), Batch: f.bool("m"),
	}
	if f.err != nil || h.Topic == "" {
		return decodeSendHeader(req)
	}
	return h, nil
}

// topicForSend finds the topic, creating it when RocketMQ would.
func (p *Processor) topicForSend(h sendHeader) (metadata.TopicConfig, int32, string) {
	if tc, ok := p.Topics.Get(h.Topic); ok {
		return tc, protocol.Success, ""
	}
	var (
		tc      metadata.TopicConfig
		created bool
		err     error
	)
	switch {
	case strings.HasPrefix(h.Topic, retryPrefix):
		tc, created, err = p.Topics.CreateRetryTopic(strings.TrimPrefix(h.Topic, retryPrefix), 1, false)
	case p.cfg.AutoCreateTopic:
		n := int(h.DefaultTopicQueueNums)
		if n <= 0 {
			n = p.cfg.DefaultTopicQueueNums
		}
		tc, created, err = p.Topics.CreateOnSend(h.Topic, min(n, p.cfg.DefaultTopicQueueNums))
	default:
		return tc, protocol.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", h.Topic)
	}
	if err != nil {
		return tc, protocol.TopicNotExist, err.Error()
	}
	if created {
		p.log.Info("topic created on send", "topic", h.Topic, "queues", tc.WriteQueueNums)
		p.TopicsChanged()
	}
	return tc, protocol.Success, ""
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// appendUniqID appends a broker-side UNIQ_KEY in the Java layout: IPv4,
// pid, a per-process value, ms since the start of the month, and a
// counter, as 32 uppercase hex digits.
func (p *Processor) appendUniqID(dst []byte) []byte {
	var b [16]byte
	ip := p.cfg.StoreHost.Addr().Unmap()
	if ip.Is4() {
		a := ip.As4()
		copy(b[:4], a[:])
	}
	binary.BigEndian.PutUint16(b[4:], uint16(os.Getpid()))
	binary.BigEndian.PutUint32(b[6:], uint32(p.started.UnixNano()))
	now := time.Now()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	binary.BigEndian.PutUint32(b[10:], uint32(now.Sub(month).Milliseconds()))
	binary.BigEndian.PutUint16(b[14:], uint16(p.uniqSeq.Add(1)))
	return message.AppendHexUpper(dst, b[:])
}
