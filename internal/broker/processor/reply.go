package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

const (
	propReplyToClient = "REPLY_TO_CLIENT"
	propPushReplyTime = "PUSH_REPLY_TIME"
)

// reply handles SEND_REPLY_MESSAGE (V1 and V2): the reply is pushed with
// PUSH_REPLY_MESSAGE_TO_CLIENT to the requester named in REPLY_TO_CLIENT,
// over that client's own connection, and stored in the reply topic too
// (storeReplyMessageEnable).
func (p *Processor) reply(ctx context.Context, conn *remoting.Conn, req *protocol.Command) *protocol.Command {
	h, err := decodeSendHeader(req)
	if err != nil {
		return resp(req, protocol.SystemError, err.Error())
	}
	if len(req.Body) > p.cfg.MaxMessageSize {
		return resp(req, protocol.MessageIllegal, fmt.Sprintf("message body size %d exceeds maxMessageSize %d", len(req.Body), p.cfg.MaxMessageSize))
	}
	props := h.Properties
	client, _ := message.Property([]byte(props), propReplyToClient)
	target := p.Clients.ConnByClientID(client)
	if target == nil {
		return resp(req, protocol.SystemError, fmt.Sprintf("push reply message fail, channel of <%s> not found", client))
	}
	now := time.Now().UnixMilli()
	props += propPushReplyTime + "\x01" + strconv.FormatInt(now, 10) + "\x02"
	push := protocol.NewRequest(protocol.PushReplyMessageToClient, map[string]string{
		"producerGroup":         h.ProducerGroup,
		"topic":                 h.Topic,
		"defaultTopic":          h.DefaultTopic,
		"defaultTopicQueueNums": strconv.Itoa(int(h.DefaultTopicQueueNums)),
		"queueId":               strconv.Itoa(int(h.QueueID)),
		"sysFlag":               strconv.Itoa(int(h.SysFlag)),
		"bornTimestamp":         strconv.FormatInt(h.BornTimestamp, 10),
		"flag":                  strconv.Itoa(int(h.Flag)),
		"properties":            props,
		"reconsumeTimes":        strconv.Itoa(int(h.ReconsumeTimes)),
		"unitMode":              "false",
		"bornHost":              conn.RemoteAddr().String(),
		"storeHost":             p.cfg.StoreHost.String(),
		"storeTimestamp":        strconv.FormatInt(now, 10),
	})
	push.Body = req.Body
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	r, err := target.Invoke(pctx, push)
	cancel()
	if err != nil || r.Code != protocol.Success {
		remark := fmt.Sprintf("push reply message to %s failed: %v", client, err)
		if err == nil {
			remark = fmt.Sprintf("push reply message to %s failed: code %d %s", client, r.Code, r.Remark)
		}
		return resp(req, protocol.SystemError, remark)
	}
	// Store the reply as well, in its reply topic, when that topic exists.
	if tc, ok := p.Topics.Get(h.Topic); ok && tc.WriteQueueNums > 0 {
		m := &message.Message{
			Topic: h.Topic, QueueID: h.QueueID % int32(tc.WriteQueueNums), Flag: h.Flag, SysFlag: h.SysFlag,
			BornTimestamp: h.BornTimestamp, BornHost: addrPort(conn.RemoteAddr()), Body: req.Body, Properties: []byte(props),
		}
		if _, err := p.putMessages(ctx, []*message.Message{m}); err != nil {
			p.log.Warn("storing a reply message failed", "topic", h.Topic, "err", err)
		}
	}
	out := success(req)
	out.SetExt("msgId", "0")
	out.SetExt("queueId", "0")
	out.SetExt("queueOffset", "0")
	return out
}
