package timer

import (
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/quiver-mq/quiver/internal/message"
)

// Topic is the system topic timer records wait in (TimerMessageStore.TIMER_TOPIC).
const Topic = "rmq_sys_wheel_timer"

// RecallTag is the tag of a recall marker (RecallMessageProcessor).
const RecallTag = "_RECALL_TAG_"

// PropertyEpoch names the timer record a message comes from: the timer
// topic's queue offset of the original record. Rolled copies keep it, so
// that copies of one timer are delivered once; delivered messages carry
// it, so that recovery can tell which were already delivered; a
// reschedule's marker sets it to the newest epoch it cancels.
const PropertyEpoch = "TIMER_EPOCH"

// Errors of Transform and of the service's operations.
var (
	// ErrIllegal: a delay past the limit, an unparsable timer property, or
	// a recall marker in the past (PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL).
	ErrIllegal = errors.New("timer message illegal")
	// ErrNotEnabled: timer properties while timerWheelEnable is false.
	ErrNotEnabled = errors.New("timer wheel not enabled (timerWheelEnable=false)")
	// ErrTooLate: the timer was already delivered (or is being delivered).
	ErrTooLate = errors.New("timer already delivered")
	// ErrNotFound: no timer message with that topic and id.
	ErrNotFound = errors.New("timer message not found")
	// ErrBadHandle: a recall handle that does not decode.
	ErrBadHandle = errors.New("recall handle is invalid")
	// ErrClosed: the service is not running.
	ErrClosed = errors.New("timer service closed")
)

// Rules are the put-time checks and rewrite of timer messages.
type Rules struct {
	// PrecisionMs is the slot length (timerPrecisionMs).
	PrecisionMs int64
	// MaxDelayMs is the longest accepted delay (timerMaxDelaySec × 1000).
	MaxDelayMs int64
	// Disabled refuses timer properties (timerWheelEnable=false).
	Disabled bool
}

// SlotOf is the wheel slot of a deliver time: slot s holds the times in
// (s·P, (s+1)·P], so that TIMER_OUT_MS = s·P is RocketMQ's rounded value.
func (r Rules) SlotOf(deliverMs int64) int64 { return floorDiv(deliverMs-1, r.PrecisionMs) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Transform is the store put hook (HookUtils.handleScheduleMessage): a
// message with TIMER_DELIVER_MS, TIMER_DELAY_SEC or TIMER_DELAY_MS due
// after nowMs is moved to Topic queue 0 with REAL_TOPIC, REAL_QID,
// TIMER_OUT_MS (the slot's start) and TIMER_DELIVER_MS (the exact time,
// also when the delay was relative) set. It reports whether it moved the
// message. Transaction halves and rollbacks, messages already carrying
// TIMER_OUT_MS and records of Topic are left alone; a message due now or
// earlier is stored as it is (a recall marker due then is ErrIllegal). A
// DELAY level wins over timer properties: run the delay-level hook first.
func (r Rules) Transform(m *message.Message, nowMs int64) (bool, error) {
	tt := message.TransactionType(m.SysFlag)
	if tt != message.TransactionNotType && tt != message.TransactionCommit || m.Topic == Topic {
		return false, nil
	}
	props := m.Properties
	if _, ok := message.Property(props, message.PropertyTimerOutMs); ok {
		return false, nil
	}
	sec, hasSec := message.Property(props, message.PropertyTimerDelaySec)
	ms, hasMs := message.Property(props, message.PropertyTimerDelayMs)
	at, hasAt := message.Property(props, message.PropertyTimerDeliverMs)
	if !hasSec && !hasMs && !hasAt {
		return false, nil
	}
	if r.Disabled {
		return false, ErrNotEnabled
	}
	var deliver int64
	switch {
	case hasSec:
		v, err := strconv.ParseInt(sec, 10, 64)
		if err != nil {
			return false, fmt.Errorf("%w: %s=%q is not a number", ErrIllegal, message.PropertyTimerDelaySec, sec)
		}
		if v > r.MaxDelayMs/1000+1 {
			return false, r.tooFar(v * 1000)
		}
		deliver = nowMs + v*1000
	case hasMs:
		v, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return false, fmt.Errorf("%w: %s=%q is not a number", ErrIllegal, message.PropertyTimerDelayMs, ms)
		}
		if v > r.MaxDelayMs+1 {
			return false, r.tooFar(v)
		}
		deliver = nowMs + v
	default:
		v, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			return false, fmt.Errorf("%w: %s=%q is not a number", ErrIllegal, message.PropertyTimerDeliverMs, at)
		}
		deliver = v
	}
	_, marker := message.Property(props, message.PropertyTimerDelUniqKey)
	if deliver <= nowMs {
		if marker {
			return false, fmt.Errorf("%w: a recall marker's time %d is not in the future", ErrIllegal, deliver)
		}
		return false, nil
	}
	if deliver-nowMs > r.MaxDelayMs {
		return false, r.tooFar(deliver - nowMs)
	}
	slot := r.SlotOf(deliver)
	m.Properties = message.EditProperties(props,
		message.PropertyEdit{Name: message.PropertyTimerDeliverMs, Value: strconv.FormatInt(deliver, 10)},
		message.PropertyEdit{Name: message.PropertyTimerOutMs, Value: strconv.FormatInt(slot*r.PrecisionMs, 10)},
		message.PropertyEdit{Name: message.PropertyRealTopic, Value: m.Topic},
		message.PropertyEdit{Name: message.PropertyRealQueueID, Value: strconv.Itoa(int(m.QueueID))})
	m.Topic, m.QueueID = Topic, 0
	return true, nil
}

func (r Rules) tooFar(delayMs int64) error {
	return fmt.Errorf("%w: the delay %d ms exceeds the max delay %d ms (timerMaxDelaySec)", ErrIllegal, delayMs, r.MaxDelayMs)
}

// DeleteKey is the key a recall marker names (TimerMessageStore.buildDeleteKey).
func DeleteKey(topic, uniqKey string) string { return topic + "+" + uniqKey }

// keyHash is the 64-bit FNV-1a hash of a delete key, kept in timer-log units.
func keyHash(deleteKey string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(deleteKey))
	return h.Sum64()
}

// Handle is a decoded recall handle (RecallMessageHandle.HandleV1).
type Handle struct {
	Topic      string
	BrokerName string
	// TimeMs is the marker's deliver time: TIMER_OUT_MS + 1, so that it
	// falls in the timer's slot.
	TimeMs  int64
	UniqKey string
}

// EncodeHandle builds the recall handle RocketMQ 5.3.2 returns on send:
// URL-safe Base64 of "v1 <topic> <brokerName> <TIMER_OUT_MS+1> <uniqKey>".
func EncodeHandle(topic, brokerName string, timerOutMs int64, uniqKey string) string {
	raw := strings.Join([]string{"v1", topic, brokerName, strconv.FormatInt(timerOutMs+1, 10), uniqKey}, " ")
	return base64.URLEncoding.EncodeToString([]byte(raw))
}

// DecodeHandle parses a recall handle.
func DecodeHandle(s string) (Handle, error) {
	if s == "" {
		return Handle{}, ErrBadHandle
	}
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		return Handle{}, fmt.Errorf("%w: %v", ErrBadHandle, err)
	}
	items := strings.Split(string(raw), " ")
	if len(items) < 5 || items[0] != "v1" {
		return Handle{}, ErrBadHandle
	}
	ts, err := strconv.ParseInt(items[3], 10, 64)
	if err != nil {
		ts = -1 // Java: NumberUtils.toLong(…, -1), refused as "timestamp invalid"
	}
	return Handle{Topic: items[1], BrokerName: items[2], TimeMs: ts, UniqKey: items[4]}, nil
}
