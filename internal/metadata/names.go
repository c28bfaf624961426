package metadata

import (
	"fmt"
	"strings"
)

// Permission bits of TopicConfig.Perm and of the broker's brokerPermission
// (J PermName).
const (
	PermPriority = 8
	PermRead     = 4
	PermWrite    = 2
	PermInherit  = 1 // only meaningful on TBW102: topics may be auto-created from it
)

// Readable reports whether perm has PermRead.
func Readable(perm int) bool { return perm&PermRead != 0 }

// Writable reports whether perm has PermWrite.
func Writable(perm int) bool { return perm&PermWrite != 0 }

// Inherited reports whether perm has PermInherit.
func Inherited(perm int) bool { return perm&PermInherit != 0 }

// Topic filter types (TopicConfig.TopicFilterType).
const (
	SingleTag = "SINGLE_TAG"
	MultiTag  = "MULTI_TAG"
)

// Topic names RocketMQ reserves (J TopicValidator, MixAll).
const (
	TopicAutoCreate        = "TBW102" // template of auto-created topics
	TopicSchedule          = "SCHEDULE_TOPIC_XXXX"
	TopicBenchmark         = "BenchmarkTest"
	TopicTransHalf         = "RMQ_SYS_TRANS_HALF_TOPIC"
	TopicTransOpHalf       = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TopicTransCheckMaxTime = "TRANS_CHECK_MAX_TIME_TOPIC"
	TopicSelfTest          = "SELF_TEST_TOPIC"
	TopicOffsetMoved       = "OFFSET_MOVED_EVENT"
	TopicTrace             = "RMQ_SYS_TRACE_TOPIC" // default msgTraceTopicName
	TopicTimer             = "rmq_sys_wheel_timer"
	TopicRocksDBOffset     = "CHECKPOINT_TOPIC"

	// SystemTopicPrefix marks system topics by name.
	SystemTopicPrefix = "rmq_sys_"
	// RetryTopicPrefix and DLQTopicPrefix start the per-group retry and
	// dead-letter topics.
	RetryTopicPrefix = "%RETRY%"
	DLQTopicPrefix   = "%DLQ%"
)

// Queue counts of topics created at start (J TopicConfigManager).
const (
	ScheduleQueueNums  = 18   // SCHEDULE_TOPIC_XXXX: one queue per delay level
	BenchmarkQueueNums = 1024 // BenchmarkTest
	// DefaultQueueNums is TopicConfig's default read and write queue count,
	// which the cluster-name topic keeps.
	DefaultQueueNums = 16
	// DLQQueueNums is the queue count of %DLQ% topics (DLQ_NUMS_PER_GROUP).
	DLQQueueNums = 1
)

// Name length limits (J TopicValidator).
const (
	TopicMaxLen           = 127
	RetryOrDLQTopicMaxLen = 255
	GroupMaxLen           = 120
)

// RetryTopic returns the retry topic of a consumer group, %RETRY%<group>.
func RetryTopic(group string) string { return RetryTopicPrefix + group }

// DLQTopic returns the dead-letter topic of a consumer group, %DLQ%<group>.
func DLQTopic(group string) string { return DLQTopicPrefix + group }

// ReplyTopic returns the request/reply topic of a cluster,
// <cluster>_REPLY_TOPIC.
func ReplyTopic(cluster string) string { return cluster + "_REPLY_TOPIC" }

// ReviveTopic returns the POP revive topic of a cluster,
// rmq_sys_REVIVE_LOG_<cluster>.
func ReviveTopic(cluster string) string { return SystemTopicPrefix + "REVIVE_LOG_" + cluster }

// SyncBrokerMemberTopic returns rmq_sys_SYNC_BROKER_MEMBER_<brokerName>.
func SyncBrokerMemberTopic(brokerName string) string {
	return SystemTopicPrefix + "SYNC_BROKER_MEMBER_" + brokerName
}

// IsRetryTopic reports whether topic starts with %RETRY%.
func IsRetryTopic(topic string) bool { return strings.HasPrefix(topic, RetryTopicPrefix) }

// IsDLQTopic reports whether topic starts with %DLQ%.
func IsDLQTopic(topic string) bool { return strings.HasPrefix(topic, DLQTopicPrefix) }

// NotAllowedSend reports whether clients are refused when they send to
// topic (J TopicValidator.isNotAllowedSendTopic).
func NotAllowedSend(topic string) bool {
	switch topic {
	case TopicSchedule, TopicTransHalf, TopicTransOpHalf, TopicTransCheckMaxTime,
		TopicSelfTest, TopicOffsetMoved:
		return true
	}
	return false
}

// validChars reports whether s uses only the characters RocketMQ allows in
// topic and group names, ^[%|a-zA-Z0-9_-]+$ (J isTopicOrGroupIllegal).
func validChars(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '%', c == '|', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkTopicName checks a topic name's syntax (J TopicValidator.validateTopic).
func checkTopicName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: the topic name is blank", ErrInvalidTopic)
	}
	if !validChars(name) {
		return fmt.Errorf("%w: %q contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$", ErrInvalidTopic, name)
	}
	limit := TopicMaxLen
	if IsRetryTopic(name) || IsDLQTopic(name) {
		limit = RetryOrDLQTopicMaxLen
	}
	if len(name) > limit {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidTopic, name, limit)
	}
	return nil
}

// ValidateTopic runs the checks SEND_MESSAGE makes on a topic name: the
// syntax (ErrInvalidTopic: blank, characters outside [%|a-zA-Z0-9_-], longer
// than 127, or 255 for %RETRY% and %DLQ% topics) and the system topics
// clients may not send to (ErrTopicNotAllowed, see NotAllowedSend).
func ValidateTopic(name string) error {
	if err := checkTopicName(name); err != nil {
		return err
	}
	if NotAllowedSend(name) {
		return fmt.Errorf("%w: %s", ErrTopicNotAllowed, name)
	}
	return nil
}

// ValidateGroup checks a consumer or producer group name
// (J TopicValidator.validateGroup): not blank, only [%|a-zA-Z0-9_-], at
// most 120 characters. It returns an error wrapping ErrInvalidGroup.
func ValidateGroup(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: the group name is blank", ErrInvalidGroup)
	}
	if !validChars(name) {
		return fmt.Errorf("%w: %q contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$", ErrInvalidGroup, name)
	}
	if len(name) > GroupMaxLen {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidGroup, name, GroupMaxLen)
	}
	return nil
}
