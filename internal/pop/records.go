package pop

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// CheckPoint is one pop of up to 32 messages from one queue (PopCheckPoint),
// the body of a revive-topic record with tag "ck", in Java's JSON names.
// Its identity is (Topic, Group, QueueID, StartOffset, PopTime, BrokerName).
type CheckPoint struct {
	StartOffset   int64   `json:"so"`
	PopTime       int64   `json:"pt"`
	InvisibleTime int64   `json:"it"`
	BitMap        int32   `json:"bm"`
	Num           int     `json:"n"`
	QueueID       int32   `json:"q"`
	Topic         string  `json:"t"`
	Group         string  `json:"c"`
	ReviveOffset  int64   `json:"ro"`
	Diffs         []int32 `json:"d"`
	BrokerName    string  `json:"bn"`
	RePutTimes    string  `json:"rp,omitempty"`
}

// ReviveTime is when the checkpoint's unacked messages are due again.
func (c *CheckPoint) ReviveTime() int64 { return c.PopTime + c.InvisibleTime }

// Offset is the queue offset of message i.
func (c *CheckPoint) Offset(i int) int64 { return c.StartOffset + int64(c.Diffs[i]) }

// Index is the position of queue offset off in the checkpoint, or -1.
func (c *CheckPoint) Index(off int64) int {
	d := off - c.StartOffset
	if d < 0 || d > 1<<31-1 {
		return -1
	}
	return slices.Index(c.Diffs, int32(d))
}

// End is one past the last offset the checkpoint covers.
func (c *CheckPoint) End() int64 { return c.Offset(len(c.Diffs)-1) + 1 }

// Key identifies the checkpoint.
func (c *CheckPoint) Key() Key {
	return Key{Topic: c.Topic, Group: c.Group, QueueID: c.QueueID, StartOffset: c.StartOffset, PopTime: c.PopTime, BrokerName: c.BrokerName}
}

// UniqKey is the record's UNIQ_KEY, topic@q@so@cid@pt@bn@ck (genCkUniqueId).
func (c *CheckPoint) UniqKey() string {
	return c.Topic + "@" + itoa(int64(c.QueueID)) + "@" + itoa(c.StartOffset) + "@" + c.Group + "@" +
		itoa(c.PopTime) + "@" + c.BrokerName + "@" + TagCheckPoint
}

// Key identifies a checkpoint (PopBufferMergeService's merge key).
type Key struct {
	Topic       string
	Group       string
	QueueID     int32
	StartOffset int64
	PopTime     int64
	BrokerName  string
}

// Encode returns the JSON body of the checkpoint.
func (c *CheckPoint) Encode() []byte {
	b, _ := json.Marshal(c) // cannot fail: plain fields
	return b
}

// DecodeCheckPoint decodes and checks a checkpoint body: 1 to 32 messages,
// one non-negative, strictly increasing diff per message (a Java
// checkpoint without diffs gets 0…n-1), a topic and a group.
func DecodeCheckPoint(b []byte) (*CheckPoint, error) {
	var c CheckPoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrBadRecord, err)
	}
	if len(c.Diffs) == 0 && c.Num > 0 && c.Num <= MaxBatch {
		for i := range c.Num {
			c.Diffs = append(c.Diffs, int32(i))
		}
	}
	switch {
	case c.Topic == "" || c.Group == "":
		return nil, fmt.Errorf("%w: checkpoint without topic or group", ErrBadRecord)
	case len(c.Diffs) == 0 || len(c.Diffs) > MaxBatch:
		return nil, fmt.Errorf("%w: checkpoint of %d messages", ErrBadRecord, len(c.Diffs))
	case c.StartOffset < 0 || c.QueueID < 0 || c.InvisibleTime < 0:
		return nil, fmt.Errorf("%w: checkpoint with a negative field", ErrBadRecord)
	}
	for i, d := range c.Diffs {
		if d < 0 || (i > 0 && d <= c.Diffs[i-1]) {
			return nil, fmt.Errorf("%w: checkpoint diffs %v", ErrBadRecord, c.Diffs)
		}
	}
	c.Num = len(c.Diffs)
	return &c, nil
}

// AckMsg acknowledges one message of a checkpoint (AckMsg), tag "ack".
type AckMsg struct {
	AckOffset   int64  `json:"ao"`
	StartOffset int64  `json:"so"`
	Group       string `json:"c"`
	Topic       string `json:"t"`
	QueueID     int32  `json:"q"`
	PopTime     int64  `json:"pt"`
	BrokerName  string `json:"bn"`
	// AckOffsets is BatchAckMsg's list (tag "bAck"); empty for an AckMsg.
	AckOffsets []int64 `json:"aol,omitempty"`
}

// Key is the checkpoint the ack is for.
func (a *AckMsg) Key() Key {
	return Key{Topic: a.Topic, Group: a.Group, QueueID: a.QueueID, StartOffset: a.StartOffset, PopTime: a.PopTime, BrokerName: a.BrokerName}
}

// Offsets lists the acknowledged queue offsets.
func (a *AckMsg) Offsets() []int64 {
	if len(a.AckOffsets) > 0 {
		return a.AckOffsets
	}
	return []int64{a.AckOffset}
}

// Tag is the record tag: "ack", or "bAck" for a batch.
func (a *AckMsg) Tag() string {
	if len(a.AckOffsets) > 0 {
		return TagBatchAck
	}
	return TagAck
}

// UniqKey is the record's UNIQ_KEY (genAckUniqueId, genBatchAckUniqueId).
func (a *AckMsg) UniqKey() string {
	if len(a.AckOffsets) > 0 {
		l := "["
		for i, o := range a.AckOffsets {
			if i > 0 {
				l += ", "
			}
			l += itoa(o)
		}
		return a.Topic + "@" + itoa(int64(a.QueueID)) + "@" + l + "]@" + a.Group + "@" + itoa(a.PopTime) + "@" + TagBatchAck
	}
	return a.Topic + "@" + itoa(int64(a.QueueID)) + "@" + itoa(a.AckOffset) + "@" + a.Group + "@" +
		itoa(a.PopTime) + "@" + a.BrokerName + "@" + TagAck
}

// Encode returns the JSON body of the ack.
func (a *AckMsg) Encode() []byte {
	b, _ := json.Marshal(a)
	return b
}

// DecodeAck decodes an "ack" or "bAck" record body. Java also accepts the
// long names (ackOffset, …) as alternates; Quiver writes and reads the
// short ones.
func DecodeAck(b []byte) (*AckMsg, error) {
	var a AckMsg
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%w: ack: %v", ErrBadRecord, err)
	}
	if a.Topic == "" || a.Group == "" {
		return nil, fmt.Errorf("%w: ack without topic or group", ErrBadRecord)
	}
	return &a, nil
}

// BatchAck is one entry of BATCH_ACK_MESSAGE's body (J BatchAck): the
// acknowledged offsets of one pop of one queue as a bitset relative to
// StartOffset. Topic is the original topic; Retry its retry flag.
type BatchAck struct {
	Group         string `json:"c"`
	Topic         string `json:"t"`
	Retry         string `json:"r"`
	StartOffset   int64  `json:"so"`
	QueueID       int32  `json:"q"`
	ReviveQueueID int32  `json:"rq"`
	PopTime       int64  `json:"pt"`
	InvisibleTime int64  `json:"it"`
	// BitSet is java.util.BitSet.toByteArray in base64 (little-endian
	// bits), as fastjson writes a byte array.
	BitSet string `json:"b"`
}

// Offsets decodes the bitset into queue offsets (at most 1<<16 bits).
func (b *BatchAck) Offsets() ([]int64, error) {
	raw, err := base64.StdEncoding.DecodeString(b.BitSet)
	if err != nil || len(raw) > 1<<13 {
		return nil, fmt.Errorf("%w: batch ack bitset", ErrBadHandle)
	}
	var out []int64
	for i, by := range raw {
		for j := range 8 {
			if by&(1<<j) != 0 {
				out = append(out, b.StartOffset+int64(i*8+j))
			}
		}
	}
	return out, nil
}

// EncodeBitSet is the inverse of BatchAck.Offsets for offsets ≥ start.
func EncodeBitSet(start int64, offsets []int64) string {
	var raw []byte
	for _, o := range offsets {
		i := int(o - start)
		for len(raw) <= i/8 {
			raw = append(raw, 0)
		}
		raw[i/8] |= 1 << (i % 8)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// BatchAckBody is BATCH_ACK_MESSAGE's body (BatchAckMessageRequestBody).
type BatchAckBody struct {
	BrokerName string     `json:"brokerName"`
	Acks       []BatchAck `json:"acks"`
}

// DecodeBatchAckBody decodes a BATCH_ACK_MESSAGE body.
func DecodeBatchAckBody(b []byte) (*BatchAckBody, error) {
	var body BatchAckBody
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("%w: batch ack body: %v", ErrBadHandle, err)
	}
	return &body, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
