package grpcserver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Receipt handles are the Java broker's "extraInfo" plus the commit-log
// offset the proxy appends (ReceiptHandle.encode), space separated:
//
//	ckQueueOffset popTime invisibleTime reviveQid topicType brokerName queueId queueOffset [commitLogOffset]
//
// topicType is 0 (the topic), 1 (pop retry topic V1, %RETRY%<group>_<topic>)
// or 2 (V2, %RETRY%<group>+<topic>). reviveQid 999 marks a FIFO pop.
const (
	topicNormal  = "0"
	topicRetryV1 = "1"
	topicRetryV2 = "2"

	// fifoReviveQueue is KeyBuilder.POP_ORDER_REVIVE_QUEUE.
	fifoReviveQueue = 999
)

// errBadHandle: a receipt handle that does not parse.
var errBadHandle = errors.New("grpcserver: malformed receipt handle")

// handle is a decoded receipt handle.
type handle struct {
	CkQueueOffset   int64
	PopTime         int64 // ms
	InvisibleTime   int64 // ms
	ReviveQid       int32
	TopicType       string
	BrokerName      string
	QueueID         int32
	QueueOffset     int64
	CommitLogOffset int64 // -1 when absent
}

// parseHandle decodes a receipt handle; it needs at least the 8 fields of
// extraInfo.
func parseHandle(s string) (handle, error) {
	f := strings.Split(s, " ")
	if len(f) < 8 {
		return handle{}, fmt.Errorf("%w: %d fields", errBadHandle, len(f))
	}
	var h handle
	var err error
	num := func(i int) int64 {
		if err != nil {
			return 0
		}
		var v int64
		v, err = strconv.ParseInt(f[i], 10, 64)
		return v
	}
	h.CkQueueOffset = num(0)
	h.PopTime = num(1)
	h.InvisibleTime = num(2)
	h.ReviveQid = int32(num(3))
	h.TopicType = f[4]
	h.BrokerName = f[5]
	h.QueueID = int32(num(6))
	h.QueueOffset = num(7)
	h.CommitLogOffset = -1
	if len(f) > 8 {
		h.CommitLogOffset = num(8)
	}
	if err != nil {
		return handle{}, fmt.Errorf("%w: %v", errBadHandle, err)
	}
	if h.TopicType != topicNormal && h.TopicType != topicRetryV1 && h.TopicType != topicRetryV2 {
		return handle{}, fmt.Errorf("%w: topic type %q", errBadHandle, h.TopicType)
	}
	if h.BrokerName == "" {
		return handle{}, fmt.Errorf("%w: no broker name", errBadHandle)
	}
	return h, nil
}

// extraInfo is the handle without the commit-log offset: what the broker
// takes as ACK_MESSAGE's extraInfo.
func (h handle) extraInfo() string {
	return buildExtraInfo(h.CkQueueOffset, h.PopTime, h.InvisibleTime, h.ReviveQid, h.TopicType, h.BrokerName, h.QueueID, h.QueueOffset)
}

// String is the receipt handle.
func (h handle) String() string {
	s := h.extraInfo()
	if h.CommitLogOffset >= 0 {
		s += " " + strconv.FormatInt(h.CommitLogOffset, 10)
	}
	return s
}

// nextVisible is when the message becomes visible again (ms).
func (h handle) nextVisible() int64 { return h.PopTime + h.InvisibleTime }

// realTopic is the topic the message lives in: the topic or its pop retry
// topic (ExtraInfoUtil.getRealTopic).
func (h handle) realTopic(topic, group string) string {
	switch h.TopicType {
	case topicRetryV1:
		return "%RETRY%" + group + "_" + topic
	case topicRetryV2:
		return "%RETRY%" + group + "+" + topic
	}
	return topic
}

func buildExtraInfo(ckOffset, popTime, invisible int64, reviveQid int32, topicType, broker string, queueID int32, queueOffset int64) string {
	b := make([]byte, 0, 64)
	b = strconv.AppendInt(b, ckOffset, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, popTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, invisible, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(reviveQid), 10)
	b = append(b, ' ')
	b = append(b, topicType...)
	b = append(b, ' ')
	b = append(b, broker...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, queueOffset, 10)
	return string(b)
}

// topicTypeOf is ExtraInfoUtil.getRetry: the topic type mark of a real
// topic name.
func topicTypeOf(topic string) string {
	if strings.HasPrefix(topic, "%RETRY%") {
		if strings.Contains(topic, "+") {
			return topicRetryV2
		}
		return topicRetryV1
	}
	return topicNormal
}

// parseOffsetInfo parses a POP_MESSAGE response's startOffsetInfo or
// orderCountInfo: ";"-separated "<type> <key> <value>" entries, keyed
// "<type>@<key>".
func parseOffsetInfo(s string) (map[string]int64, error) {
	if s == "" {
		return nil, nil
	}
	m := make(map[string]int64)
	for _, e := range strings.Split(s, ";") {
		f := strings.Split(e, " ")
		if len(f) != 3 {
			return nil, fmt.Errorf("grpcserver: bad offset info entry %q", e)
		}
		v, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("grpcserver: bad offset info entry %q: %w", e, err)
		}
		m[f[0]+"@"+f[1]] = v
	}
	return m, nil
}
