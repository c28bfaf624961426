package pop

import (
	"fmt"
	"strconv"
	"strings"
)

// ExtraInfo is a decoded receipt handle (POP_CK, ExtraInfoUtil), fields
// separated by one space:
//
//	0 ckQueueOffset  start offset of the checkpoint (FIFO: of the pop)
//	1 popTime        ms
//	2 invisibleTime  ms; the handle expires at popTime + invisibleTime
//	3 reviveQid      revive queue of the checkpoint; 999 = FIFO
//	4 retry flag     0 normal, 1 retry V1, 2 retry V2 topic
//	5 brokerName
//	6 queueId        queue of the message in its real topic
//	7 queueOffset    offset of the message in that queue
//	8 commitLogOffset (appended by the proxy; optional)
//
// The broker needs fields 0–5; the header names queue and offset. The
// format is frozen: the proxy and the clients keep these strings.
type ExtraInfo struct {
	CkQueueOffset   int64
	PopTime         int64
	InvisibleTime   int64
	ReviveQid       int32
	Flag            string
	BrokerName      string
	QueueID         int32 // -1 when absent
	QueueOffset     int64 // -1 when absent
	CommitLogOffset int64 // -1 when absent
}

// Deadline is when the handle expires: popTime + invisibleTime.
func (e ExtraInfo) Deadline() int64 { return e.PopTime + e.InvisibleTime }

// Order reports whether the handle is from a FIFO pop.
func (e ExtraInfo) Order() bool { return e.ReviveQid == OrderReviveQueue }

// String encodes e: 8 fields, 9 when CommitLogOffset ≥ 0; 6 when QueueID
// is negative (the broker-side form of ExtraInfoUtil.buildExtraInfo).
func (e ExtraInfo) String() string { return string(e.Append(nil)) }

// Append appends the encoding of e to b.
func (e ExtraInfo) Append(b []byte) []byte {
	b = strconv.AppendInt(b, e.CkQueueOffset, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.PopTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.InvisibleTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.ReviveQid), 10)
	b = append(b, ' ')
	b = append(b, e.Flag...)
	b = append(b, ' ')
	b = append(b, e.BrokerName...)
	if e.QueueID < 0 {
		return b
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.QueueID), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.QueueOffset, 10)
	if e.CommitLogOffset >= 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.CommitLogOffset, 10)
	}
	return b
}

// ParseExtraInfo decodes a receipt handle of at least 6 fields. Numbers
// must be decimal; the flag must be 0, 1 or 2; the broker name must not be
// empty. Anything else is ErrBadHandle.
func ParseExtraInfo(s string) (ExtraInfo, error) {
	f := strings.Split(s, " ")
	e := ExtraInfo{QueueID: -1, QueueOffset: -1, CommitLogOffset: -1}
	if len(f) < 6 || len(f) > 9 {
		return e, fmt.Errorf("%w: %d fields in %q", ErrBadHandle, len(f), s)
	}
	var err error
	num := func(i int, bits int) int64 {
		n, perr := strconv.ParseInt(f[i], 10, bits)
		if perr != nil && err == nil {
			err = fmt.Errorf("%w: field %d of %q is not a number", ErrBadHandle, i, s)
		}
		return n
	}
	e.CkQueueOffset = num(0, 64)
	e.PopTime = num(1, 64)
	e.InvisibleTime = num(2, 64)
	e.ReviveQid = int32(num(3, 32))
	e.Flag = f[4]
	e.BrokerName = f[5]
	if len(f) > 6 {
		e.QueueID = int32(num(6, 32))
	}
	if len(f) > 7 {
		e.QueueOffset = num(7, 64)
	} else if len(f) == 7 {
		err = fmt.Errorf("%w: queue id without queue offset in %q", ErrBadHandle, s)
	}
	if len(f) > 8 {
		e.CommitLogOffset = num(8, 64)
	}
	if err != nil {
		return e, err
	}
	switch {
	case e.Flag != FlagNormal && e.Flag != FlagRetryV1 && e.Flag != FlagRetryV2:
		return e, fmt.Errorf("%w: retry flag %q", ErrBadHandle, e.Flag)
	case e.BrokerName == "":
		return e, fmt.Errorf("%w: no broker name in %q", ErrBadHandle, s)
	case e.CkQueueOffset < 0 || e.PopTime < 0 || e.InvisibleTime < 0 || e.ReviveQid < 0:
		return e, fmt.Errorf("%w: negative field in %q", ErrBadHandle, s)
	case len(f) > 6 && (e.QueueID < 0 || e.QueueOffset < 0):
		return e, fmt.Errorf("%w: negative queue or offset in %q", ErrBadHandle, s)
	}
	return e, nil
}

// AppendStartOffsetInfo appends one startOffsetInfo entry,
// "<flag> <queueId> <startOffset>", ';'-separated from earlier ones.
func AppendStartOffsetInfo(b []byte, topic string, queueID int32, start int64) []byte {
	b = sep(b)
	b = append(b, RetryFlag(topic)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, start, 10)
}

// AppendMsgOffsetInfo appends one msgOffsetInfo entry,
// "<flag> <queueId> <off1>,<off2>,…".
func AppendMsgOffsetInfo(b []byte, topic string, queueID int32, offsets []int64) []byte {
	b = sep(b)
	b = append(b, RetryFlag(topic)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	for i, o := range offsets {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o, 10)
	}
	return b
}

// AppendOrderCountInfo appends the FIFO consumed counts of one queue: an
// entry "<flag> qo<queueId>%<offset> <count>" per offset, then
// "<flag> <queueId> <min count>" for older clients.
func AppendOrderCountInfo(b []byte, topic string, queueID int32, offsets []int64, counts []int) []byte {
	flag := RetryFlag(topic)
	minCount := 0
	for i, o := range offsets {
		b = sep(b)
		b = append(b, flag...)
		b = append(b, " qo"...)
		b = strconv.AppendInt(b, int64(queueID), 10)
		b = append(b, '%')
		b = strconv.AppendInt(b, o, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(counts[i]), 10)
		if i == 0 || counts[i] < minCount {
			minCount = counts[i]
		}
	}
	b = sep(b)
	b = append(b, flag...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(minCount), 10)
}

func sep(b []byte) []byte {
	if len(b) > 0 {
		b = append(b, ';')
	}
	return b
}

// OffsetInfoKey is the map key of the Parse… results: "<flag>@<queueId>",
// or "<flag>@qo<queueId>%<offset>" for per-offset order counts.
func OffsetInfoKey(flag string, queueID int32) string {
	return flag + "@" + strconv.Itoa(int(queueID))
}

// OrderCountKey is the per-offset key of ParseOrderCountInfo.
func OrderCountKey(flag string, queueID int32, offset int64) string {
	return flag + "@qo" + strconv.Itoa(int(queueID)) + "%" + strconv.FormatInt(offset, 10)
}

// splitInfo splits an offset-info string into its 3-field entries; a
// duplicate key or an entry of another shape is ErrBadHandle.
func splitInfo(s string, each func(key, val string) error) error {
	if s == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, one := range strings.Split(s, ";") {
		f := strings.Split(one, " ")
		if len(f) != 3 {
			return fmt.Errorf("%w: offset info entry %q", ErrBadHandle, one)
		}
		k := f[0] + "@" + f[1]
		if seen[k] {
			return fmt.Errorf("%w: duplicate offset info entry %q", ErrBadHandle, k)
		}
		seen[k] = true
		if err := each(k, f[2]); err != nil {
			return err
		}
	}
	return nil
}

// ParseStartOffsetInfo decodes a startOffsetInfo header into
// OffsetInfoKey → start offset (ExtraInfoUtil.parseStartOffsetInfo).
func ParseStartOffsetInfo(s string) (map[string]int64, error) {
	m := map[string]int64{}
	err := splitInfo(s, func(k, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: start offset %q", ErrBadHandle, v)
		}
		m[k] = n
		return nil
	})
	return m, err
}

// ParseMsgOffsetInfo decodes a msgOffsetInfo header into OffsetInfoKey →
// message queue offsets.
func ParseMsgOffsetInfo(s string) (map[string][]int64, error) {
	m := map[string][]int64{}
	err := splitInfo(s, func(k, v string) error {
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: message offset %q", ErrBadHandle, p)
			}
			m[k] = append(m[k], n)
		}
		return nil
	})
	return m, err
}

// ParseOrderCountInfo decodes an orderCountInfo header into keys
// (OrderCountKey or OffsetInfoKey) → consumed count.
func ParseOrderCountInfo(s string) (map[string]int, error) {
	m := map[string]int{}
	err := splitInfo(s, func(k, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: order count %q", ErrBadHandle, v)
		}
		m[k] = n
		return nil
	})
	return m, err
}
