package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

// Names shared with RocketMQ (TopicValidator, MessageConst, TimerMessageStore).
const (
	// Topic is where delayed messages wait, one queue per level (queue id =
	// level − 1): RMQ_SYS_SCHEDULE_TOPIC.
	Topic = "SCHEDULE_TOPIC_XXXX"
	// QueueNums is the queue count RocketMQ gives Topic
	// (SCHEDULE_TOPIC_QUEUE_NUM), enough for the default levels.
	QueueNums = 18
	// DefaultLevels is messageDelayLevel's default.
	DefaultLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

	timerTopic     = "rmq_sys_wheel_timer"      // TimerMessageStore.TIMER_TOPIC
	transHalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC" // never a delivery target
)

// ParseLevels parses messageDelayLevel: durations separated by spaces, each a
// whole number followed by s, m, h or d ("1s 5s … 2h"). Level i+1 waits
// levels[i]. Each delay must be between 1 and 365 days' worth of its unit.
func ParseLevels(s string) ([]time.Duration, error) {
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	var out []time.Duration
	for _, item := range strings.Fields(s) {
		unit, ok := units[item[len(item)-1]]
		if !ok {
			return nil, fmt.Errorf("schedule: messageDelayLevel %q: %q wants a unit of s, m, h or d", s, item)
		}
		n, err := strconv.ParseInt(item[:len(item)-1], 10, 64)
		if err != nil || n < 1 || n > int64(365*24*time.Hour/unit) {
			return nil, fmt.Errorf("schedule: messageDelayLevel %q: %q is not a whole number of %s from 1 up to 365 days", s, item, unit)
		}
		out = append(out, time.Duration(n)*unit)
	}
	if len(out) == 0 {
		return nil, errors.New("schedule: messageDelayLevel is empty")
	}
	return out, nil
}

// delayLevel returns the DELAY property as a number, or 0 when it is
// missing or not a number. (Java's Integer.parseInt would throw on the
// latter and fail the put; we take it as "no delay".)
func delayLevel(props []byte) int {
	v, ok := message.Property(props, message.PropertyDelayLevel)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// Redirect turns a message that asks for a delay into a schedule record,
// as RocketMQ's HookUtils.handleScheduleMessage does before a put: when the
// record is not transactional or is a COMMIT, and its DELAY property is a
// level above 0, it
//
//   - drops TIMER_DELIVER_MS and TIMER_DELAY_SEC (the level wins over a
//     timer), unless the message is on the timer topic;
//   - clamps DELAY to len(levels), rewriting the property;
//   - records the original topic and queue in REAL_TOPIC and REAL_QID;
//   - moves the message to Topic, queue level − 1.
//
// DELAY stays: the dispatcher and the Service read it. Redirect reports
// whether it changed m; with no levels it never does. It is pure and safe
// for concurrent use on different messages.
//
// One deliberate difference: a transaction half (topic
// RMQ_SYS_TRANS_HALF_TOPIC, whose transaction bits are already cleared) is
// never redirected, so its DELAY applies to the COMMIT record. Java's store
// hook redirects the half, and its ScheduleMessageService then discards it
// as a "[BUG]" (the Java client strips DELAY from transactional messages;
// the Go client does not).
func Redirect(m *message.Message, levels []time.Duration) (redirected bool) {
	tt := message.TransactionType(m.SysFlag)
	if tt != message.TransactionNotType && tt != message.TransactionCommit || m.Topic == transHalfTopic {
		return false
	}
	level := delayLevel(m.Properties)
	if level <= 0 || len(levels) == 0 {
		return false
	}
	edits := make([]message.PropertyEdit, 0, 5)
	if m.Topic != timerTopic {
		edits = append(edits, message.PropertyEdit{Name: message.PropertyTimerDeliverMs}, message.PropertyEdit{Name: message.PropertyTimerDelaySec},
			message.PropertyEdit{Name: message.PropertyTimerDelayMs})
	}
	if level > len(levels) {
		level = len(levels)
		edits = append(edits, message.PropertyEdit{Name: message.PropertyDelayLevel, Value: strconv.Itoa(level)})
	}
	edits = append(edits,
		message.PropertyEdit{Name: message.PropertyRealTopic, Value: m.Topic},
		message.PropertyEdit{Name: message.PropertyRealQueueID, Value: strconv.Itoa(int(m.QueueID))})
	m.Properties = message.EditProperties(m.Properties, edits...)
	m.Topic = Topic
	m.QueueID = int32(level - 1)
	return true
}

// TagsCodeFunc returns the consume-queue tag code RocketMQ writes for a
// schedule record: its deliver time in ms, store timestamp + the delay of
// its DELAY level (clamped to len(levels)), as CommitLog's dispatcher does
// (checkMessageAndReturnSize). For any other record, or one without a
// numeric DELAY above 0, it returns ok false: keep the hash of TAGS. The
// function is pure and safe for concurrent use.
func TagsCodeFunc(levels []time.Duration) func(topic string, props []byte, storeTimestamp int64) (code int64, ok bool) {
	levels = append([]time.Duration(nil), levels...)
	return func(topic string, props []byte, storeTimestamp int64) (int64, bool) {
		if topic != Topic || len(levels) == 0 {
			return 0, false
		}
		level := delayLevel(props)
		if level <= 0 {
			return 0, false
		}
		level = min(level, len(levels))
		return storeTimestamp + ceilMillis(levels[level-1]), true
	}
}

// ceilMillis is d in whole milliseconds, rounded up so that nothing is
// delivered early.
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// deliverAt returns the time (Unix ms) at which a schedule record stored at
// storeMs with the given delay is due. A deliver time more than one full
// delay after now can only come from a clock that went back; like Java's
// correctDeliverTimestamp it is taken as due now.
func deliverAt(storeMs int64, delay time.Duration, nowMs int64) int64 {
	d := ceilMillis(delay)
	due := storeMs + d
	if due > nowMs+d {
		return nowMs
	}
	return due
}

// errUndeliverable marks a schedule record that can never be delivered.
var errUndeliverable = errors.New("schedule: undeliverable record")

// timeUp builds the message that delivers schedule record r to its real
// topic and queue (J ScheduleMessageService.messageTimeUp): same body,
// flag, sysFlag, born time and host, reconsume times and properties, minus
// DELAY, TIMER_DELIVER_MS and TIMER_DELAY_SEC, plus WAIT=false so that the
// put does not wait for a sync flush. REAL_TOPIC and REAL_QID stay.
//
// (Java encodes the properties before clearing them, so its stored records
// still carry DELAY and lack WAIT; apache/rocketmq#11037 reports that as a
// bug, and we store what the code means.)
func timeUp(r *message.Message) (*message.Message, error) {
	topic, ok := message.Property(r.Properties, message.PropertyRealTopic)
	if !ok {
		return nil, fmt.Errorf("%w: no %s", errUndeliverable, message.PropertyRealTopic)
	}
	if topic == transHalfTopic {
		return nil, fmt.Errorf("%w: %s is %s", errUndeliverable, message.PropertyRealTopic, topic)
	}
	qs, _ := message.Property(r.Properties, message.PropertyRealQueueID)
	qid, err := strconv.ParseInt(qs, 10, 32)
	if err != nil || qid < 0 {
		return nil, fmt.Errorf("%w: %s %q is not a queue id", errUndeliverable, message.PropertyRealQueueID, qs)
	}
	return &message.Message{
		Topic:          topic,
		QueueID:        int32(qid),
		Flag:           r.Flag,
		SysFlag:        r.SysFlag,
		BornTimestamp:  r.BornTimestamp,
		BornHost:       r.BornHost,
		ReconsumeTimes: r.ReconsumeTimes,
		Body:           r.Body,
		Properties: message.EditProperties(r.Properties,
			message.PropertyEdit{Name: message.PropertyDelayLevel},
			message.PropertyEdit{Name: message.PropertyTimerDeliverMs},
			message.PropertyEdit{Name: message.PropertyTimerDelaySec},
			message.PropertyEdit{Name: message.PropertyTimerDelayMs},
			message.PropertyEdit{Name: message.PropertyWaitStoreMsg, Value: "false"}),
	}, nil
}
