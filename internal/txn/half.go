package txn

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/quiver-mq/quiver/internal/message"
)

// System topics and group (TopicValidator, TransactionalMessageUtil).
const (
	HalfTopic         = "RMQ_SYS_TRANS_HALF_TOPIC"
	OpTopic           = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	CheckMaxTimeTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
	// SystemGroup owns the check progress offsets on the half and op queues.
	SystemGroup = "CID_RMQ_SYS_TRANS"
	// RemoveTag is the TAGS value of op records.
	RemoveTag = "d"
	// OffsetSeparator ends every half offset in an op record's body.
	OffsetSeparator = ','
)

// Property keys (MessageConst).
const (
	PropertyPrepared            = "TRAN_MSG"
	PropertyProducerGroup       = "PGROUP"
	PropertyTransactionID       = "__transactionId__"
	PropertyCheckTimes          = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunity       = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyPreparedQueueOffset = "TRAN_PREPARED_QUEUE_OFFSET"
)

// End states of END_TRANSACTION's commitOrRollback (MessageSysFlag).
const (
	StateUnknown  = message.TransactionNotType
	StateCommit   = message.TransactionCommit
	StateRollback = message.TransactionRollback
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrNotFound: no half message at the commit-log offset (End).
	ErrNotFound = errors.New("txn: prepared transaction message not found")
	// ErrMismatch: the half does not match the request's producer group,
	// queue offset or commit-log offset (End).
	ErrMismatch = errors.New("txn: request does not match the prepared message")
	// ErrImmunityExpired: a commit or rollback not answering a check came
	// after the half's CHECK_IMMUNITY_TIME_IN_SECONDS; it is left to the
	// check-back (End; RocketMQ's ILLEGAL_OPERATION).
	ErrImmunityExpired = errors.New("txn: check immunity time expired, waiting for the check-back")
	// ErrBadState: commitOrRollback is neither commit nor rollback (End).
	ErrBadState = errors.New("txn: not a commit or rollback")
	// ErrNoProducer: no live connection of the producer group (Checker).
	ErrNoProducer = errors.New("txn: no live producer of the group")
)

// IsPrepared reports whether a sent message is a transaction's half: its
// TRAN_MSG is "true" (any case, as Java's Boolean.parseBoolean), unless it
// is a retried message with a delay level (SendMessageProcessor).
func IsPrepared(m *message.Message) bool {
	v, _ := message.Property(m.Properties, PropertyPrepared)
	if !strings.EqualFold(v, "true") {
		return false
	}
	if m.ReconsumeTimes > 0 {
		if d, _ := message.Property(m.Properties, message.PropertyDelayLevel); atoi(d) > 0 {
			return false
		}
	}
	return true
}

// ToHalf turns a sent message into its half in place when IsPrepared, and
// reports whether it did: __transactionId__ = UNIQ_KEY (when present),
// REAL_TOPIC and REAL_QID = the topic and queue sent to, transaction bits
// cleared, topic HalfTopic, queue 0. Properties get a new slice; the old
// one is not modified.
func ToHalf(m *message.Message) bool {
	if !IsPrepared(m) {
		return false
	}
	props := m.Properties
	if u, ok := message.Property(props, message.PropertyUniqKey); ok {
		props = setProperty(props, PropertyTransactionID, u)
	}
	props = setProperty(props, message.PropertyRealTopic, m.Topic)
	props = setProperty(props, message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Properties = props
	m.SysFlag &^= message.TransactionMask
	m.Topic = HalfTopic
	m.QueueID = 0
	return true
}

// realQueue returns the topic and queue a half was sent to.
func realQueue(half *message.Message) (string, int32, error) {
	topic, ok := message.Property(half.Properties, message.PropertyRealTopic)
	if !ok {
		return "", 0, fmt.Errorf("%w: record at %d has no %s", ErrNotFound, half.PhysicalOffset, message.PropertyRealTopic)
	}
	qs, _ := message.Property(half.Properties, message.PropertyRealQueueID)
	q, err := strconv.ParseInt(qs, 10, 32)
	if err != nil || q < 0 {
		return "", 0, fmt.Errorf("%w: record at %d has %s=%q", ErrNotFound, half.PhysicalOffset, message.PropertyRealQueueID, qs)
	}
	return topic, int32(q), nil
}

// CommitMessage returns the message END_TRANSACTION stores on commit
// (EndTransactionProcessor.endMessageTransaction): the half's body, flag,
// born time and host and reconsume times in its real topic and queue, with
// REAL_TOPIC, REAL_QID and TRAN_MSG removed, the COMMIT transaction type,
// and preparedTransactionOffset = the half's commit-log offset.
func CommitMessage(half *message.Message) (*message.Message, error) {
	topic, q, err := realQueue(half)
	if err != nil {
		return nil, err
	}
	return &message.Message{
		Topic: topic, QueueID: q, Flag: half.Flag,
		SysFlag:       half.SysFlag&^message.TransactionMask | message.TransactionCommit,
		BornTimestamp: half.BornTimestamp, BornHost: half.BornHost, ReconsumeTimes: half.ReconsumeTimes,
		PreparedTransactionOffset: half.PhysicalOffset,
		Body:                      bytes.Clone(half.Body),
		Properties:                removeProperties(half.Properties, message.PropertyRealTopic, message.PropertyRealQueueID, PropertyPrepared),
	}, nil
}

// CheckCopy returns the copy of a half that a check appends to the half
// queue (TransactionalMessageBridge.renewHalfMessageInner), with props as its
// properties. Unlike RocketMQ it keeps the flag and reconsume times, which
// the eventual commit then carries.
func CheckCopy(half *message.Message, props []byte) *message.Message {
	return &message.Message{
		Topic: half.Topic, QueueID: half.QueueID, Flag: half.Flag, SysFlag: half.SysFlag,
		BornTimestamp: half.BornTimestamp, BornHost: half.BornHost, ReconsumeTimes: half.ReconsumeTimes,
		Body: bytes.Clone(half.Body), Properties: props,
	}
}

// DiscardMessage returns the message a half becomes when the check-back
// gives up on it (DefaultTransactionalMessageCheckListener): the same
// record in CheckMaxTimeTopic queue 0.
func DiscardMessage(half *message.Message) *message.Message {
	m := CheckCopy(half, bytes.Clone(half.Properties))
	m.Topic, m.QueueID = CheckMaxTimeTopic, 0
	return m
}

// CheckBody encodes a stored half as CHECK_TRANSACTION_STATE carries it: the
// stored record (V1 layout for topics up to 127 bytes, the only one the Go
// client decodes) with topic and queue id rewritten to the real ones.
func CheckBody(half *message.Message) ([]byte, error) {
	topic, q, err := realQueue(half)
	if err != nil {
		return nil, err
	}
	m := *half
	m.Topic, m.QueueID = topic, q
	m.BodyCRC = message.BodyCRC(m.Body)
	return m.AppendRecord(nil)
}

// OpMessage returns an op record marking halves of a half queue done.
// born is the broker clock in ms, host the broker's address.
func OpMessage(queueID int32, halfOffsets []int64, born int64, host netip.AddrPort) *message.Message {
	var body []byte
	for _, o := range halfOffsets {
		body = strconv.AppendInt(body, o, 10)
		body = append(body, OffsetSeparator)
	}
	return &message.Message{
		Topic: OpTopic, QueueID: queueID, BornTimestamp: born, BornHost: host,
		Body:       body,
		Properties: []byte(message.PropertyTags + "\x01" + RemoveTag + "\x02"),
	}
}

// ParseOpBody returns the half offsets listed in an op record's body.
// Pieces that are not numbers are skipped, as Java's getLong(-1) makes them
// fall below every real offset.
func ParseOpBody(body []byte) []int64 {
	var out []int64
	for _, p := range bytes.Split(body, []byte{OffsetSeparator}) {
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(p)), 10, 64); err == nil && n >= 0 {
			out = append(out, n)
		}
	}
	return out
}

// atoi parses a decimal int, -1 when it is not one.
func atoi(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// setProperty returns props with name set to value: every piece named name
// is dropped and the pair appended. props is not modified.
func setProperty(props []byte, name, value string) []byte {
	out := removeProperties(props, name)
	out = append(out, name...)
	out = append(out, message.NameValueSeparator)
	out = append(out, value...)
	return append(out, message.PropertySeparator)
}

// removeProperties returns a copy of props without the pieces named by
// names. A piece's name ends at its first 0x01, as the readers see it;
// pieces the readers skip are kept as they are.
func removeProperties(props []byte, names ...string) []byte {
	out := make([]byte, 0, len(props)+64)
	for b := props; len(b) > 0; {
		piece := b
		if i := bytes.IndexByte(b, message.PropertySeparator); i >= 0 {
			piece, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(piece) == 0 {
			continue
		}
		if i := bytes.IndexByte(piece, message.NameValueSeparator); i > 0 && i < len(piece)-1 {
			drop := false
			for _, n := range names {
				if string(piece[:i]) == n {
					drop = true
					break
				}
			}
			if drop {
				continue
			}
		}
		out = append(out, piece...)
		out = append(out, message.PropertySeparator)
	}
	return out
}
