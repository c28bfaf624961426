package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
)

// Frozen format constants.
const (
	MagicV1    int32 = -626843481 // 0xDAA320A7: one-byte topic length
	MagicV2    int32 = -626843477 // 0xDAA320AB: two-byte topic length
	MagicBlank int32 = -875286124 // 0xCBD43194: end-of-segment filler

	BlankSize = 8 // bytes written for a BLANK marker

	// MaxTopicLenV1 is the longest topic a V1 record can carry.
	MaxTopicLenV1 = 127
	// MaxPropertiesLen is the largest encoded properties section.
	MaxPropertiesLen = 32767
	// MaxRecordSize bounds TOTALSIZE accepted by the decoder (RocketMQ's body
	// limit ceiling plus headroom); anything larger is corruption.
	MaxRecordSize = 1<<30 - 1

	posMagic       = 4
	posBodyCRC     = 8
	posQueueID     = 12
	posFlag        = 16
	posQueueOffset = 20
	posPhysOffset  = 28
	posSysFlag     = 36
	posBornTS      = 40
	posBornHost    = 48

	// minRecordSizeIPv4V1 is the fixed part of a V1 record with IPv4 hosts:
	// everything but body, topic and properties bytes.
	minRecordSizeIPv4V1 = 91
)

// SysFlag bits (MessageSysFlag).
const (
	FlagCompressed      int32 = 0x1
	FlagMultiTags       int32 = 0x2
	TransactionNotType  int32 = 0x0
	TransactionPrepared int32 = 0x4
	TransactionCommit   int32 = 0x8
	TransactionRollback int32 = 0xC
	TransactionMask     int32 = 0xC
	FlagBornHostV6      int32 = 0x10
	FlagStoreHostV6     int32 = 0x20
	FlagNeedUnwrap      int32 = 0x40
	FlagInnerBatch      int32 = 0x80
	CompressionTypeMask int32 = 0x700
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrCorrupt: the bytes are not a valid record (Decode).
	ErrCorrupt = errors.New("message: corrupt record")
	// ErrBlank: the bytes are a BLANK end-of-segment marker (Decode).
	ErrBlank = errors.New("message: blank end-of-segment marker")
	// ErrTooLarge: a field exceeds the format's limits (RecordSize, Encode,
	// AppendRecord).
	ErrTooLarge = errors.New("message: record field too large")
)

// Message is one record. Body and Properties alias the decoded bytes.
type Message struct {
	Topic                     string
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	BodyCRC                   uint32
	Body                      []byte
	Properties                []byte // encoded, see EncodeProperties
}

// BodyCRC is RocketMQ's body checksum: CRC-32 (IEEE) masked to 31 bits.
func BodyCRC(body []byte) uint32 { return crc32.ChecksumIEEE(body) & 0x7FFFFFFF }

// TransactionType returns the transaction bits of a sysflag.
func TransactionType(sysFlag int32) int32 { return sysFlag & TransactionMask }

func hostLen(v6 bool) int {
	if v6 {
		return 20
	}
	return 8
}

// hostFlags fixes the V6 bits of m.SysFlag to match its hosts.
func (m *Message) hostFlags() int32 {
	f := m.SysFlag &^ (FlagBornHostV6 | FlagStoreHostV6)
	if m.bornV6() {
		f |= FlagBornHostV6
	}
	if m.storeV6() {
		f |= FlagStoreHostV6
	}
	return f
}

// bornV6 and storeV6 report whether a host is written in the 16-byte form.
func (m *Message) bornV6() bool  { return hostV6(m.BornHost, m.SysFlag&FlagBornHostV6 != 0) }
func (m *Message) storeV6() bool { return hostV6(m.StoreHost, m.SysFlag&FlagStoreHostV6 != 0) }

// hostV6 decides the width of a host field. IPv6 addresses take 16 bytes and
// IPv4 addresses 4. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as
// net.TCPAddr.AddrPort gives for IPv4 peers of a dual-stack listener) is
// written as IPv4 unless the sysflag already marks the field as IPv6, which is
// how Decode returns such an address read from a 16-byte field; that keeps
// Encode(Decode(b)) == b.
func hostV6(ap netip.AddrPort, flagged bool) bool {
	a := ap.Addr()
	return a.Is6() && (!a.Is4In6() || flagged)
}

// V2 reports whether the message must be written as a V2 record.
func (m *Message) V2() bool { return len(m.Topic) > MaxTopicLenV1 }

// RecordSize returns the encoded size of m.
func (m *Message) RecordSize() (int, error) {
	if len(m.Topic) == 0 || len(m.Topic) > 0x7FFF {
		return 0, fmt.Errorf("%w: topic length %d", ErrTooLarge, len(m.Topic))
	}
	if len(m.Properties) > MaxPropertiesLen {
		return 0, fmt.Errorf("%w: properties length %d > %d", ErrTooLarge, len(m.Properties), MaxPropertiesLen)
	}
	topicLen := 1
	if m.V2() {
		topicLen = 2
	}
	n := 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + hostLen(m.bornV6()) + 8 + hostLen(m.storeV6()) +
		4 + 8 + 4 + len(m.Body) + topicLen + len(m.Topic) + 2 + len(m.Properties)
	if n > MaxRecordSize {
		return 0, fmt.Errorf("%w: record size %d", ErrTooLarge, n)
	}
	return n, nil
}

// Encode writes m into dst, which must hold RecordSize bytes, and returns the
// number of bytes written. BodyCRC is written as given (callers compute it with
// BodyCRC before taking the append lock); the V6 bits of SysFlag are set from
// the hosts (see hostV6 for IPv4-mapped addresses). A zero host is written as
// 0.0.0.0:0.
func (m *Message) Encode(dst []byte) (int, error) {
	n, err := m.RecordSize()
	if err != nil {
		return 0, err
	}
	if len(dst) < n {
		return 0, fmt.Errorf("message: encode: buffer of %d bytes for a %d-byte record", len(dst), n)
	}
	be := binary.BigEndian
	magic := MagicV1
	if m.V2() {
		magic = MagicV2
	}
	be.PutUint32(dst[0:], uint32(n))
	be.PutUint32(dst[posMagic:], uint32(magic))
	be.PutUint32(dst[posBodyCRC:], m.BodyCRC)
	be.PutUint32(dst[posQueueID:], uint32(m.QueueID))
	be.PutUint32(dst[posFlag:], uint32(m.Flag))
	be.PutUint64(dst[posQueueOffset:], uint64(m.QueueOffset))
	be.PutUint64(dst[posPhysOffset:], uint64(m.PhysicalOffset))
	be.PutUint32(dst[posSysFlag:], uint32(m.hostFlags()))
	be.PutUint64(dst[posBornTS:], uint64(m.BornTimestamp))
	p := posBornHost
	p += putHost(dst[p:], m.BornHost, m.bornV6())
	be.PutUint64(dst[p:], uint64(m.StoreTimestamp))
	p += 8
	p += putHost(dst[p:], m.StoreHost, m.storeV6())
	be.PutUint32(dst[p:], uint32(m.ReconsumeTimes))
	p += 4
	be.PutUint64(dst[p:], uint64(m.PreparedTransactionOffset))
	p += 8
	be.PutUint32(dst[p:], uint32(len(m.Body)))
	p += 4
	p += copy(dst[p:], m.Body)
	if magic == MagicV1 {
		dst[p] = byte(len(m.Topic))
		p++
	} else {
		be.PutUint16(dst[p:], uint16(len(m.Topic)))
		p += 2
	}
	p += copy(dst[p:], m.Topic)
	be.PutUint16(dst[p:], uint16(len(m.Properties)))
	p += 2
	p += copy(dst[p:], m.Properties)
	return p, nil
}

// AppendRecord appends the encoding of m to dst.
func (m *Message) AppendRecord(dst []byte) ([]byte, error) {
	n, err := m.RecordSize()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	if _, err := m.Encode(dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// putHost writes ap as a 16- or 4-byte address and a 4-byte port.
func putHost(dst []byte, ap netip.AddrPort, v6 bool) int {
	a := ap.Addr()
	if v6 {
		b := a.As16()
		copy(dst, b[:])
		binary.BigEndian.PutUint32(dst[16:], uint32(ap.Port()))
		return 20
	}
	var b [4]byte
	if a.IsValid() {
		b = a.Unmap().As4()
	}
	copy(dst, b[:])
	binary.BigEndian.PutUint32(dst[4:], uint32(ap.Port()))
	return 8
}

// PutBlank writes a BLANK marker declaring that the remaining bytes of the
// segment (including the marker) are unused. dst must hold BlankSize bytes.
func PutBlank(dst []byte, remaining int) {
	binary.BigEndian.PutUint32(dst, uint32(remaining))
	binary.BigEndian.PutUint32(dst[4:], 0xCBD43194)
}

// Stamp overwrites the fields the appender assigns (queue offset, physical
// offset, store timestamp) in an encoded record, so a record can be encoded
// before its position is known.
func Stamp(rec []byte, queueOffset, physOffset, storeTimestamp int64) {
	be := binary.BigEndian
	be.PutUint64(rec[posQueueOffset:], uint64(queueOffset))
	be.PutUint64(rec[posPhysOffset:], uint64(physOffset))
	sys := int32(be.Uint32(rec[posSysFlag:]))
	p := posBornHost + hostLen(sys&FlagBornHostV6 != 0)
	be.PutUint64(rec[p:], uint64(storeTimestamp))
}
