package pop

import (
	"errors"
	"strings"
)

// Frozen names and numbers of RocketMQ's pop protocol (J KeyBuilder,
// PopAckConstants, MessageConst).
const (
	// OrderReviveQueue is the reviveQid of FIFO pops (POP_ORDER_REVIVE_QUEUE):
	// their handles name no checkpoint.
	OrderReviveQueue = 999
	// ReviveGroup keeps the revive progress as consumer offsets on the
	// revive topic (PopAckConstants.REVIVE_GROUP).
	ReviveGroup = "CID_RMQ_SYS_REVIVE_GROUP"

	TagCheckPoint = "ck"   // a checkpoint record
	TagAck        = "ack"  // an ack record
	TagBatchAck   = "bAck" // a batch-ack record (also written after a revive)

	// PropertyPopCK carries the extraInfo of a message (POP_CK).
	PropertyPopCK = "POP_CK"
	// PropertyFirstPopTime is the pop time of a message's first delivery
	// (1ST_POP_TIME).
	PropertyFirstPopTime = "1ST_POP_TIME"
	// PropertyShardingKey is the FIFO message group (__SHARDINGKEY).
	PropertyShardingKey = "__SHARDINGKEY"

	// Retry flags of extraInfo field 4 and of the offset-info strings.
	FlagNormal  = "0"
	FlagRetryV1 = "1"
	FlagRetryV2 = "2"

	// MaxBatch is the largest maxMsgNums a pop may ask for.
	MaxBatch = 32

	retryPrefix = "%RETRY%"
)

// Errors of this package; test with errors.Is. The processor maps them to
// response codes in one place (processor/errors.go).
var (
	// ErrBadHandle: an extraInfo (receipt handle) or offset-info string is
	// malformed (ParseExtraInfo and the Parse… functions, Ack, Change).
	ErrBadHandle = errors.New("pop: malformed receipt handle")
	// ErrHandleUnknown: the handle names no checkpoint or in-flight FIFO
	// message of this broker (Ack, Change).
	ErrHandleUnknown = errors.New("pop: receipt handle unknown")
	// ErrHandleExpired: the handle's invisible time has passed, so the
	// message is (or is about to be) delivered again (Ack, Change).
	ErrHandleExpired = errors.New("pop: receipt handle expired")
	// ErrBadRecord: a revive-topic record body is not a valid checkpoint or
	// ack (DecodeCheckPoint, DecodeAck, DecodeBatchAck).
	ErrBadRecord = errors.New("pop: malformed revive record")
)

// RetryTopicV1 is the pop retry topic of a group and topic,
// %RETRY%<group>_<topic> (KeyBuilder.buildPopRetryTopicV1, the default).
func RetryTopicV1(topic, group string) string { return retryPrefix + group + "_" + topic }

// RetryTopicV2 is %RETRY%<group>+<topic> (enableRetryTopicV2).
func RetryTopicV2(topic, group string) string { return retryPrefix + group + "+" + topic }

// RetryFlag is the retry flag of a topic: FlagRetryV2 for a %RETRY% topic
// holding '+', FlagRetryV1 for any other %RETRY% topic, else FlagNormal
// (ExtraInfoUtil.getRetry).
func RetryFlag(topic string) string {
	switch {
	case strings.HasPrefix(topic, retryPrefix) && strings.Contains(topic, "+"):
		return FlagRetryV2
	case strings.HasPrefix(topic, retryPrefix):
		return FlagRetryV1
	}
	return FlagNormal
}

// RealTopic is the topic a handle's message lives in: topic itself for
// FlagNormal, else the group's pop retry topic of topic
// (ExtraInfoUtil.getRealTopic). An unknown flag is ErrBadHandle.
func RealTopic(topic, group, flag string) (string, error) {
	switch flag {
	case FlagNormal:
		return topic, nil
	case FlagRetryV1:
		return RetryTopicV1(topic, group), nil
	case FlagRetryV2:
		return RetryTopicV2(topic, group), nil
	}
	return "", ErrBadHandle
}

// IsRetry reports whether topic is a retry topic (%RETRY% prefix).
func IsRetry(topic string) bool { return strings.HasPrefix(topic, retryPrefix) }
