package message

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync/atomic"
)

// reader is a sticky-error big-endian reader over a byte slice: after the
// first failure every read returns zero and err keeps the first cause.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = fmt.Errorf("%d-byte field at offset %d overruns %d bytes", n, r.off, len(r.b))
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) i32() int32 {
	if s := r.take(4); s != nil {
		return int32(binary.BigEndian.Uint32(s))
	}
	return 0
}

func (r *reader) i64() int64 {
	if s := r.take(8); s != nil {
		return int64(binary.BigEndian.Uint64(s))
	}
	return 0
}

func (r *reader) u16() int {
	if s := r.take(2); s != nil {
		return int(binary.BigEndian.Uint16(s))
	}
	return 0
}

func (r *reader) u8() int {
	if s := r.take(1); s != nil {
		return int(s[0])
	}
	return 0
}

// host reads a 4- or 16-byte address and an int32 port. A port outside
// 0..65535 is an error: Java's InetSocketAddress cannot hold one, so no
// writer produces it.
func (r *reader) host(v6 bool) netip.AddrPort {
	n := 4
	if v6 {
		n = 16
	}
	at := r.off
	s := r.take(n)
	port := r.i32()
	if r.err != nil {
		return netip.AddrPort{}
	}
	if port < 0 || port > 0xFFFF {
		r.err = fmt.Errorf("host at offset %d has port %d", at, port)
		return netip.AddrPort{}
	}
	a, _ := netip.AddrFromSlice(s)
	return netip.AddrPortFrom(a, uint16(port))
}

// Size reads the declared TOTALSIZE and magic at the start of b without
// validating the record. ok is false when b is shorter than 8 bytes.
func Size(b []byte) (size int, magic int32, ok bool) {
	if len(b) < 8 {
		return 0, 0, false
	}
	return int(int32(binary.BigEndian.Uint32(b))), int32(binary.BigEndian.Uint32(b[4:])), true
}

// Decode decodes the record at the start of b and verifies it: the magic, the
// declared length against the field lengths, and, when checkCRC is set, the
// body CRC. For a BLANK marker it returns the marker's declared size and an
// error wrapping ErrBlank. Any other invalid input gives an error wrapping
// ErrCorrupt, including records no RocketMQ writer produces: a V1 topic
// longer than MaxTopicLenV1, a V2 record whose topic would fit V1, a length
// Java would read as negative, a port outside 0..65535. Whatever Decode
// accepts, Encode writes back byte for byte. Body and Properties alias b and
// are nil when empty.
func Decode(b []byte, checkCRC bool) (Message, int, error) {
	var m Message
	size, magic, ok := Size(b)
	if !ok {
		return m, 0, fmt.Errorf("%w: %d bytes, too short for a header", ErrCorrupt, len(b))
	}
	if magic == MagicBlank {
		if size < BlankSize {
			return m, 0, fmt.Errorf("%w: blank marker declares %d bytes", ErrCorrupt, size)
		}
		return m, size, ErrBlank
	}
	if magic != MagicV1 && magic != MagicV2 {
		return m, 0, fmt.Errorf("%w: bad magic %#x", ErrCorrupt, uint32(magic))
	}
	if size < minRecordSizeIPv4V1 || size > len(b) || size > MaxRecordSize {
		return m, 0, fmt.Errorf("%w: total size %d with %d bytes available", ErrCorrupt, size, len(b))
	}
	r := reader{b: b[:size], off: 8}
	m.BodyCRC = uint32(r.i32())
	m.QueueID = r.i32()
	m.Flag = r.i32()
	m.QueueOffset = r.i64()
	m.PhysicalOffset = r.i64()
	m.SysFlag = r.i32()
	m.BornTimestamp = r.i64()
	m.BornHost = r.host(m.SysFlag&FlagBornHostV6 != 0)
	m.StoreTimestamp = r.i64()
	m.StoreHost = r.host(m.SysFlag&FlagStoreHostV6 != 0)
	m.ReconsumeTimes = r.i32()
	m.PreparedTransactionOffset = r.i64()
	bodyLen := int(r.i32())
	m.Body = r.take(bodyLen)
	var topicLen int
	if magic == MagicV1 {
		topicLen = r.u8()
	} else {
		topicLen = r.u16()
	}
	topic := r.take(topicLen)
	propLen := r.u16()
	m.Properties = r.take(propLen)
	if r.err != nil {
		return Message{}, 0, fmt.Errorf("%w: declared size %d: %w", ErrCorrupt, size, r.err)
	}
	if r.off != size {
		return Message{}, 0, fmt.Errorf("%w: fields end at %d, declared size %d", ErrCorrupt, r.off, size)
	}
	// Java reads the topic length as a signed byte (V1) or short (V2) and the
	// properties length as a short, so larger values are corrupt; and it
	// writes V2 only for topics longer than MaxTopicLenV1, so the version is
	// a function of the topic and re-encoding gives back the same bytes.
	switch {
	case topicLen == 0:
		return Message{}, 0, fmt.Errorf("%w: empty topic", ErrCorrupt)
	case magic == MagicV1 && topicLen > MaxTopicLenV1:
		return Message{}, 0, fmt.Errorf("%w: V1 record with a %d-byte topic", ErrCorrupt, topicLen)
	case magic == MagicV2 && (topicLen <= MaxTopicLenV1 || topicLen > 0x7FFF):
		return Message{}, 0, fmt.Errorf("%w: V2 record with a %d-byte topic", ErrCorrupt, topicLen)
	case propLen > MaxPropertiesLen:
		return Message{}, 0, fmt.Errorf("%w: properties length %d", ErrCorrupt, propLen)
	}
	if checkCRC && BodyCRC(m.Body) != m.BodyCRC {
		return Message{}, 0, fmt.Errorf("%w: body crc %#x, stored %#x", ErrCorrupt, BodyCRC(m.Body), m.BodyCRC)
	}
	if bodyLen == 0 {
		m.Body = nil
	}
	if propLen == 0 {
		m.Properties = nil
	}
	m.Topic = internTopic(topic)
	return m, size, nil
}

// Decoded topic names are shared through a small cache: records mostly
// carry a topic seen just before, and its string saves an allocation per
// decode. A miss caches the name only now and then, so that many topics
// taking turns do not cost a second allocation each time.
var (
	topicSeed   = maphash.MakeSeed()
	topicCache  [64]atomic.Pointer[string]
	topicMisses atomic.Uint32
)

func internTopic(b []byte) string {
	slot := &topicCache[maphash.Bytes(topicSeed, b)%uint64(len(topicCache))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	if topicMisses.Add(1)%8 == 1 {
		slot.Store(&s)
	}
	return s
}
