package message

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var (
	hostBorn4  = netip.MustParseAddrPort("192.168.1.10:54321")
	hostStore4 = netip.MustParseAddrPort("10.0.0.1:10911")
	hostBorn6  = netip.MustParseAddrPort("[2001:db8::7]:40000")
	hostStore6 = netip.MustParseAddrPort("[fd00::1]:10911")
	// An IPv4 peer of a dual-stack listener as net.TCPAddr.AddrPort reports it.
	hostMapped = netip.MustParseAddrPort("[::ffff:192.168.1.10]:54321")
)

// sampleMessage is a V1 record with every field set to a distinct value.
func sampleMessage() Message {
	body := []byte("Hello, RocketMQ")
	return Message{
		Topic:                     "TopicTest",
		QueueID:                   3,
		Flag:                      7,
		QueueOffset:               42,
		PhysicalOffset:            1<<30 + 157,
		SysFlag:                   TransactionCommit | FlagMultiTags,
		BornTimestamp:             1700000000000,
		BornHost:                  hostBorn4,
		StoreTimestamp:            1700000000123,
		StoreHost:                 hostStore4,
		ReconsumeTimes:            2,
		PreparedTransactionOffset: 4096,
		BodyCRC:                   BodyCRC(body),
		Body:                      body,
		Properties: EncodeProperties(map[string]string{
			PropertyKeys: "order-1001 order-1002", PropertyTags: "TagA", PropertyUniqKey: "C0A8010A00002A9F0000000000001234",
		}),
	}
}

func encode(t testing.TB, m *Message) []byte {
	t.Helper()
	n, err := m.RecordSize()
	if err != nil {
		t.Fatalf("RecordSize: %v", err)
	}
	b := make([]byte, n)
	w, err := m.Encode(b)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if w != n {
		t.Fatalf("Encode wrote %d bytes, RecordSize %d", w, n)
	}
	return b
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// rawRecord writes a record field by field in the order of the layout table
// (store.md §3) without Encode, so tests can build records Encode refuses to
// produce. Lengths default to the real ones; set them to lie.
type rawRecord struct {
	size                 int    // 0: computed
	magic                uint32 // 0: V1
	sysFlag              uint32
	bornAddr, storeAddr  []byte // 4 or 16 bytes
	bornPort, storePort  uint32
	body                 []byte
	bodyLen              *int32
	topic                string
	topicLen             *int
	v2                   bool // two-byte topic length
	props                []byte
	propLen              *int
	bornTS, storeTS      uint64
	queueOff, physOff    uint64
	queueID, flag, recon uint32
	prepOff              uint64
}

func (r rawRecord) bytes() []byte {
	be := binary.BigEndian
	if r.magic == 0 {
		r.magic = 0xDAA320A7
	}
	if r.bornAddr == nil {
		r.bornAddr = []byte{192, 168, 1, 10}
		r.bornPort = 54321
	}
	if r.storeAddr == nil {
		r.storeAddr = []byte{10, 0, 0, 1}
		r.storePort = 10911
	}
	b := be.AppendUint32(nil, 0) // TOTALSIZE, patched below
	b = be.AppendUint32(b, r.magic)
	b = be.AppendUint32(b, BodyCRC(r.body))
	b = be.AppendUint32(b, r.queueID)
	b = be.AppendUint32(b, r.flag)
	b = be.AppendUint64(b, r.queueOff)
	b = be.AppendUint64(b, r.physOff)
	b = be.AppendUint32(b, r.sysFlag)
	b = be.AppendUint64(b, r.bornTS)
	b = append(b, r.bornAddr...)
	b = be.AppendUint32(b, r.bornPort)
	b = be.AppendUint64(b, r.storeTS)
	b = append(b, r.storeAddr...)
	b = be.AppendUint32(b, r.storePort)
	b = be.AppendUint32(b, r.recon)
	b = be.AppendUint64(b, r.prepOff)
	bodyLen := int32(len(r.body))
	if r.bodyLen != nil {
		bodyLen = *r.bodyLen
	}
	b = be.AppendUint32(b, uint32(bodyLen))
	b = append(b, r.body...)
	topicLen := len(r.topic)
	if r.topicLen != nil {
		topicLen = *r.topicLen
	}
	if r.v2 {
		b = be.AppendUint16(b, uint16(topicLen))
	} else {
		b = append(b, byte(topicLen))
	}
	b = append(b, r.topic...)
	propLen := len(r.props)
	if r.propLen != nil {
		propLen = *r.propLen
	}
	b = be.AppendUint16(b, uint16(propLen))
	b = append(b, r.props...)
	size := len(b)
	if r.size != 0 {
		size = r.size
	}
	be.PutUint32(b, uint32(size))
	return b
}

func ptr[T any](v T) *T { return &v }

func TestRecordRoundTrip(t *testing.T) {
	long := func(n int) string { return strings.Repeat("t", n) }
	maxProps := func() []byte {
		p := EncodeProperties(map[string]string{"BIG": strings.Repeat("v", MaxPropertiesLen-len("BIG\x01\x02"))})
		if len(p) != MaxPropertiesLen {
			panic(len(p))
		}
		return p
	}
	tests := []struct {
		name   string
		edit   func(*Message) // applied to sampleMessage
		want   func(*Message) // applied to a copy of the input to get the decoded message
		magic  int32
		born6  bool
		store6 bool
	}{
		{name: "v1", magic: MagicV1},
		{name: "v1 topic of 127 bytes", edit: func(m *Message) { m.Topic = long(127) }, magic: MagicV1},
		{name: "v1 one-byte topic", edit: func(m *Message) { m.Topic = "T" }, magic: MagicV1},
		{name: "v2 topic of 128 bytes", edit: func(m *Message) { m.Topic = long(128) }, magic: MagicV2},
		{name: "v2 topic of 255 bytes", edit: func(m *Message) { m.Topic = long(255) }, magic: MagicV2},
		{name: "v2 topic of 32767 bytes", edit: func(m *Message) { m.Topic = long(0x7FFF) }, magic: MagicV2},
		{
			name: "ipv6 born host", magic: MagicV1, born6: true,
			edit: func(m *Message) { m.BornHost = hostBorn6 },
			want: func(m *Message) { m.SysFlag |= FlagBornHostV6 },
		},
		{
			name: "ipv6 store host", magic: MagicV1, store6: true,
			edit: func(m *Message) { m.StoreHost = hostStore6 },
			want: func(m *Message) { m.SysFlag |= FlagStoreHostV6 },
		},
		{
			name: "ipv6 both hosts and v2", magic: MagicV2, born6: true, store6: true,
			edit: func(m *Message) { m.BornHost, m.StoreHost, m.Topic = hostBorn6, hostStore6, long(200) },
			want: func(m *Message) { m.SysFlag |= FlagBornHostV6 | FlagStoreHostV6 },
		},
		{
			name: "v6 bits cleared for ipv4 hosts", magic: MagicV1,
			edit: func(m *Message) { m.SysFlag |= FlagBornHostV6 | FlagStoreHostV6 },
			want: func(m *Message) { m.SysFlag &^= FlagBornHostV6 | FlagStoreHostV6 },
		},
		{
			name: "ipv4-mapped hosts written as ipv4", magic: MagicV1,
			edit: func(m *Message) { m.BornHost, m.StoreHost = hostMapped, hostMapped },
			want: func(m *Message) { m.BornHost, m.StoreHost = hostBorn4, hostBorn4 },
		},
		{
			name: "ipv4-mapped hosts kept in a v6 field when flagged", magic: MagicV1, born6: true, store6: true,
			edit: func(m *Message) {
				m.BornHost, m.StoreHost = hostMapped, hostMapped
				m.SysFlag |= FlagBornHostV6 | FlagStoreHostV6
			},
		},
		{
			name: "empty body", magic: MagicV1,
			edit: func(m *Message) { m.Body, m.BodyCRC = []byte{}, 0 },
			want: func(m *Message) { m.Body = nil },
		},
		{
			name: "nil body", magic: MagicV1,
			edit: func(m *Message) { m.Body, m.BodyCRC = nil, BodyCRC(nil) },
		},
		{
			name: "empty properties", magic: MagicV1,
			edit: func(m *Message) { m.Properties = []byte{} },
			want: func(m *Message) { m.Properties = nil },
		},
		{
			name: "max-size properties", magic: MagicV1,
			edit: func(m *Message) { m.Properties = maxProps() },
		},
		{
			name: "negative and extreme values", magic: MagicV1,
			edit: func(m *Message) {
				m.QueueID, m.Flag, m.ReconsumeTimes = -1, -2147483648, 2147483647
				m.QueueOffset, m.PhysicalOffset, m.PreparedTransactionOffset = -1, 1<<63-1, -1<<63
				m.BornTimestamp, m.StoreTimestamp = -1, 0
				m.SysFlag = -1 &^ (FlagBornHostV6 | FlagStoreHostV6)
				m.BornHost = netip.MustParseAddrPort("255.255.255.255:65535")
				m.StoreHost = netip.MustParseAddrPort("0.0.0.0:0")
			},
		},
		{
			name: "binary body", magic: MagicV1,
			edit: func(m *Message) {
				m.Body = make([]byte, 256)
				for i := range m.Body {
					m.Body[i] = byte(i)
				}
				m.BodyCRC = BodyCRC(m.Body)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleMessage()
			if tc.edit != nil {
				tc.edit(&m)
			}
			want := m
			if tc.want != nil {
				tc.want(&want)
			}
			b := encode(t, &m)
			wantLen := minRecordSizeIPv4V1 + len(m.Body) + len(m.Topic) + len(m.Properties)
			if tc.born6 {
				wantLen += 12
			}
			if tc.store6 {
				wantLen += 12
			}
			if tc.magic == MagicV2 {
				wantLen++
			}
			if len(b) != wantLen {
				t.Errorf("record is %d bytes, want %d", len(b), wantLen)
			}
			if got := int32(binary.BigEndian.Uint32(b[posMagic:])); got != tc.magic {
				t.Errorf("magic %#x, want %#x", uint32(got), uint32(tc.magic))
			}
			sys := int32(binary.BigEndian.Uint32(b[posSysFlag:]))
			if got := sys&FlagBornHostV6 != 0; got != tc.born6 {
				t.Errorf("born host v6 bit %v, want %v", got, tc.born6)
			}
			if got := sys&FlagStoreHostV6 != 0; got != tc.store6 {
				t.Errorf("store host v6 bit %v, want %v", got, tc.store6)
			}
			app, err := m.AppendRecord([]byte("prefix"))
			if err != nil || !bytes.Equal(app[6:], b) || string(app[:6]) != "prefix" {
				t.Errorf("AppendRecord = %x, %v; want prefix + %x", app, err, b)
			}

			// Trailing bytes (the next record, or segment padding) are not read.
			in := append(slices.Clone(b), 0xCB, 0xD4, 0x31, 0x94)
			got, n, err := Decode(in, true)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(b) {
				t.Errorf("Decode size %d, want %d", n, len(b))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
			}
			if again := encode(t, &got); !bytes.Equal(again, b) {
				t.Errorf("re-encoding the decoded message changed the bytes:\n%x\n%x", again, b)
			}
		})
	}
}

func TestRecordSizeLimits(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Message)
		ok   bool
	}{
		{"empty topic", func(m *Message) { m.Topic = "" }, false},
		{"topic of 32767 bytes", func(m *Message) { m.Topic = strings.Repeat("t", 0x7FFF) }, true},
		{"topic of 32768 bytes", func(m *Message) { m.Topic = strings.Repeat("t", 0x8000) }, false},
		{"properties of 32767 bytes", func(m *Message) { m.Properties = make([]byte, MaxPropertiesLen) }, true},
		{"properties of 32768 bytes", func(m *Message) { m.Properties = make([]byte, MaxPropertiesLen+1) }, false},
		{"record over MaxRecordSize", func(m *Message) { m.Body = make([]byte, MaxRecordSize) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleMessage()
			tc.edit(&m)
			_, err := m.RecordSize()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrTooLarge)) {
				t.Fatalf("RecordSize error %v, want ok=%v or ErrTooLarge", err, tc.ok)
			}
			buf := make([]byte, 1<<16)
			if _, err := m.Encode(buf); !tc.ok && !errors.Is(err, ErrTooLarge) {
				t.Errorf("Encode error %v, want ErrTooLarge", err)
			}
			if out, err := m.AppendRecord([]byte("x")); !tc.ok && (!errors.Is(err, ErrTooLarge) || string(out) != "x") {
				t.Errorf("AppendRecord = %q, %v; want the input back and ErrTooLarge", out, err)
			}
		})
	}
}

func TestEncodeRejectsShortBuffer(t *testing.T) {
	m := sampleMessage()
	n, _ := m.RecordSize()
	buf := make([]byte, n-1)
	if _, err := m.Encode(buf); err == nil {
		t.Fatal("Encode into a short buffer succeeded")
	}
	if !bytes.Equal(buf, make([]byte, n-1)) {
		t.Error("Encode wrote into a short buffer before failing")
	}
}

// goldenV1 is a record written byte by byte from the layout table of store.md
// §3, not with Encode: IPv4 hosts, magic V1, 5-byte body, 9-byte topic,
// 52 bytes of properties. If this test breaks, the wire format changed.
func goldenV1() []byte {
	return slices.Concat(
		unhex("0000009D"),                  //  1 TOTALSIZE 157 = 91 + 5 + 9 + 52
		unhex("DAA320A7"),                  //  2 MAGICCODE V1
		unhex("77D18982"),                  //  3 BODYCRC crc32("Hello") & 0x7FFFFFFF
		unhex("00000003"),                  //  4 QUEUEID 3
		unhex("00000001"),                  //  5 FLAG 1
		unhex("000000000000002A"),          //  6 QUEUEOFFSET 42
		unhex("000000004000009D"),          //  7 PHYSICALOFFSET 1<<30 + 157
		unhex("00000008"),                  //  8 SYSFLAG TRANSACTION_COMMIT
		unhex("0000018BCFE56800"),          //  9 BORNTIMESTAMP 1700000000000
		unhex("C0A8010A0000D431"),          // 10 BORNHOST 192.168.1.10:54321
		unhex("0000018BCFE5687B"),          // 11 STORETIMESTAMP 1700000000123
		unhex("0A00000100002A9F"),          // 12 STOREHOSTADDRESS 10.0.0.1:10911
		unhex("00000002"),                  // 13 RECONSUMETIMES 2
		unhex("0000000000001000"),          // 14 PREPARED TRANSACTION OFFSET 4096
		unhex("00000005"), []byte("Hello"), // 15 BODYLENGTH + BODY
		unhex("09"), []byte("TopicTest"), //   16 TOPICLENGTH + TOPIC
		unhex("0034"), []byte("CLUSTER\x01Default\x02KEYS\x01order-1001\x02TAGS\x01TagA\x02WAIT\x01true\x02"), // 17
	)
}

func goldenV1Message() Message {
	return Message{
		Topic:                     "TopicTest",
		QueueID:                   3,
		Flag:                      1,
		QueueOffset:               42,
		PhysicalOffset:            1<<30 + 157,
		SysFlag:                   TransactionCommit,
		BornTimestamp:             1700000000000,
		BornHost:                  hostBorn4,
		StoreTimestamp:            1700000000123,
		StoreHost:                 hostStore4,
		ReconsumeTimes:            2,
		PreparedTransactionOffset: 4096,
		BodyCRC:                   0x77D18982,
		Body:                      []byte("Hello"),
		Properties:                []byte("CLUSTER\x01Default\x02KEYS\x01order-1001\x02TAGS\x01TagA\x02WAIT\x01true\x02"),
	}
}

func TestGoldenRecordV1(t *testing.T) {
	g := goldenV1()
	// The Go client v2.1.2 decodes this size: 91 fixed bytes for IPv4/V1.
	if len(g) != 157 || 157-5-9-52 != minRecordSizeIPv4V1 {
		t.Fatalf("golden record is %d bytes, want 157 (91 fixed)", len(g))
	}
	empty := Message{Topic: "T", BornHost: hostBorn4, StoreHost: hostStore4}
	if n, _ := empty.RecordSize(); n != 91+1 {
		t.Errorf("fixed overhead: a record with a 1-byte topic and nothing else is %d bytes, want 92", n)
	}
	got, n, err := Decode(g, true)
	if err != nil || n != 157 {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	want := goldenV1Message()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
	}
	if enc := encode(t, &want); !bytes.Equal(enc, g) {
		t.Errorf("Encode differs from the golden bytes:\n got %x\nwant %x", enc, g)
	}
	// Positions Java's MessageDecoder reads without decoding.
	be := binary.BigEndian
	for _, c := range []struct {
		name string
		got  int64
		want int64
	}{
		{"magic at 4", int64(int32(be.Uint32(g[4:]))), int64(MagicV1)},
		{"flag at 16", int64(be.Uint32(g[16:])), 1},
		{"queue offset at 20", int64(be.Uint64(g[20:])), 42},
		{"physical offset at 28", int64(be.Uint64(g[28:])), 1<<30 + 157},
		{"sysflag at 36", int64(be.Uint32(g[36:])), int64(TransactionCommit)},
		{"store timestamp at 56", int64(be.Uint64(g[56:])), 1700000000123},
		{"body length at 84", int64(be.Uint32(g[84:])), 5},
		{"topic length at 88+5", int64(g[93]), 9},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	if TransactionType(got.SysFlag) != TransactionCommit {
		t.Errorf("TransactionType = %#x", TransactionType(got.SysFlag))
	}
	if tags, _ := Property(got.Properties, PropertyTags); TagsCode(tags) != 2598919 {
		t.Errorf("tags code of %q = %d", tags, TagsCode(tags))
	}
}

// TestGoldenRecordV2IPv6 decodes a hand-built V2 record with IPv6 hosts:
// both host fields are 20 bytes and the topic length takes two bytes.
func TestGoldenRecordV2IPv6(t *testing.T) {
	topic := strings.Repeat("x", 130)
	g := rawRecord{
		magic:     0xDAA320AB,
		sysFlag:   0x30,
		bornAddr:  hostBorn6.Addr().AsSlice(),
		bornPort:  40000,
		storeAddr: hostStore6.Addr().AsSlice(),
		storePort: 10911,
		body:      []byte("Hello"),
		topic:     topic,
		v2:        true,
		queueOff:  1, physOff: 2, bornTS: 3, storeTS: 4, queueID: 5, flag: 6, recon: 7, prepOff: 8,
	}.bytes()
	if want := 91 + 12 + 12 + 1 + 5 + 130; len(g) != want {
		t.Fatalf("hand-built record is %d bytes, want %d", len(g), want)
	}
	if ts := binary.BigEndian.Uint64(g[48+20:]); ts != 4 {
		t.Fatalf("store timestamp at 68 = %d", ts)
	}
	got, n, err := Decode(g, true)
	if err != nil || n != len(g) {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	want := Message{
		Topic: topic, QueueID: 5, Flag: 6, QueueOffset: 1, PhysicalOffset: 2,
		SysFlag: FlagBornHostV6 | FlagStoreHostV6, BornTimestamp: 3, BornHost: hostBorn6,
		StoreTimestamp: 4, StoreHost: hostStore6, ReconsumeTimes: 7, PreparedTransactionOffset: 8,
		BodyCRC: BodyCRC([]byte("Hello")), Body: []byte("Hello"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
	}
	if enc := encode(t, &want); !bytes.Equal(enc, g) {
		t.Errorf("Encode differs from the hand-built bytes:\n got %x\nwant %x", enc, g)
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := encode(t, ptr(sampleMessage()))
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(valid)) }
	be := binary.BigEndian
	bodyAt := 84 // body length field for IPv4 hosts
	bodyLen := len(sampleMessage().Body)
	topicAt := bodyAt + 4 + bodyLen
	propAt := topicAt + 1 + len("TopicTest")
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"7 bytes", valid[:7]},
		{"header only", valid[:8]},
		{"truncated by one byte", valid[:len(valid)-1]},
		{"truncated in the hosts", valid[:60]},
		{"zeroed region", make([]byte, 4096)},
		{"bad magic", edit(func(b []byte) []byte { be.PutUint32(b[4:], 0xDAA320A8); return b })},
		{"magic of another byte order", edit(func(b []byte) []byte { be.PutUint32(b[4:], 0xA720A3DA); return b })},
		{"declared size negative", edit(func(b []byte) []byte { be.PutUint32(b, 0xFFFFFFF0); return b })},
		{"declared size below the minimum", edit(func(b []byte) []byte { be.PutUint32(b, 90); return b })},
		{"declared size one short", edit(func(b []byte) []byte { be.PutUint32(b, uint32(len(b)-1)); return b })},
		{"declared size beyond the input", edit(func(b []byte) []byte { be.PutUint32(b, uint32(len(b)+1)); return b })},
		{"declared size one too large", edit(func(b []byte) []byte {
			be.PutUint32(b, uint32(len(b)+1))
			return append(b, 0)
		})},
		{"declared size over MaxRecordSize", edit(func(b []byte) []byte { be.PutUint32(b, MaxRecordSize+1); return b })},
		{"body length overruns", edit(func(b []byte) []byte { be.PutUint32(b[bodyAt:], uint32(len(b))); return b })},
		{"body length negative", edit(func(b []byte) []byte { be.PutUint32(b[bodyAt:], 0xFFFFFFFF); return b })},
		{"body length short by one", edit(func(b []byte) []byte { be.PutUint32(b[bodyAt:], uint32(bodyLen-1)); return b })},
		{"topic length overruns", edit(func(b []byte) []byte { b[topicAt] = 127; return b })},
		{"properties length overruns", edit(func(b []byte) []byte { be.PutUint16(b[propAt:], 0x7FFF); return b })},
		{"properties length short", edit(func(b []byte) []byte { be.PutUint16(b[propAt:], be.Uint16(b[propAt:])-1); return b })},
		{"v6 born flag on an ipv4 record", edit(func(b []byte) []byte { b[posSysFlag+3] |= byte(FlagBornHostV6); return b })},
		{"v6 store flag on an ipv4 record", edit(func(b []byte) []byte { b[posSysFlag+3] |= byte(FlagStoreHostV6); return b })},
		{"v2 magic on a v1 layout", edit(func(b []byte) []byte { be.PutUint32(b[4:], 0xDAA320AB); return b })},
		{"crc mismatch", edit(func(b []byte) []byte { b[bodyAt+4] ^= 1; return b })},
		{"stored crc with the top bit set", edit(func(b []byte) []byte { b[posBodyCRC] |= 0x80; return b })},
		{"empty topic", rawRecord{topic: ""}.bytes()},
		{"v1 topic of 128 bytes", rawRecord{topic: strings.Repeat("t", 128)}.bytes()},
		{"v1 topic of 255 bytes", rawRecord{topic: strings.Repeat("t", 255)}.bytes()},
		{"v2 topic of 127 bytes", rawRecord{magic: 0xDAA320AB, v2: true, topic: strings.Repeat("t", 127)}.bytes()},
		{"v2 topic of 9 bytes", rawRecord{magic: 0xDAA320AB, v2: true, topic: "TopicTest"}.bytes()},
		{"v2 topic of 32768 bytes", rawRecord{magic: 0xDAA320AB, v2: true, topic: strings.Repeat("t", 0x8000)}.bytes()},
		{"properties of 32768 bytes", rawRecord{topic: "T", props: bytes.Repeat([]byte("a"), 0x8000)}.bytes()},
		{"born port 65536", rawRecord{topic: "T", bornAddr: []byte{1, 2, 3, 4}, bornPort: 65536}.bytes()},
		{"store port -1", rawRecord{topic: "T", storeAddr: []byte{1, 2, 3, 4}, storePort: 0xFFFFFFFF}.bytes()},
		{"blank marker declaring 7 bytes", func() []byte { b := make([]byte, 8); PutBlank(b, 7); return b }()},
		{"blank marker declaring a negative size", func() []byte { b := make([]byte, 8); PutBlank(b, -8); return b }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, n, err := Decode(tc.b, true)
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrBlank) {
				t.Fatalf("Decode error %v, want ErrCorrupt", err)
			}
			if n != 0 || !reflect.DeepEqual(m, Message{}) {
				t.Errorf("Decode returned %d, %+v with an error", n, m)
			}
			if !strings.HasPrefix(err.Error(), "message: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestDecodeCRC(t *testing.T) {
	b := encode(t, ptr(sampleMessage()))
	b[84+4] ^= 0x20 // first body byte: "Hello" → "hello"
	if _, _, err := Decode(b, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Decode with checkCRC: %v, want ErrCorrupt", err)
	}
	m, n, err := Decode(b, false)
	if err != nil || n != len(b) {
		t.Fatalf("Decode without checkCRC = %d, %v", n, err)
	}
	if string(m.Body) != "hello, RocketMQ" || m.BodyCRC != BodyCRC([]byte("Hello, RocketMQ")) {
		t.Errorf("Decode without checkCRC: body %q crc %#x", m.Body, m.BodyCRC)
	}
	if BodyCRC(nil) != 0 {
		t.Errorf("BodyCRC(nil) = %#x, want 0", BodyCRC(nil))
	}
	if c := BodyCRC([]byte("Hello")); c != 0x77D18982 || c&0x80000000 != 0 {
		t.Errorf("BodyCRC(Hello) = %#x, want 0x77D18982", c)
	}
}

func TestDecodeBlankMarker(t *testing.T) {
	for _, remaining := range []int{BlankSize, 100, 1 << 30} {
		seg := make([]byte, 64)
		PutBlank(seg, remaining)
		if !bytes.Equal(seg[:8], append(binary.BigEndian.AppendUint32(nil, uint32(remaining)), 0xCB, 0xD4, 0x31, 0x94)) {
			t.Errorf("PutBlank(%d) wrote %x", remaining, seg[:8])
		}
		if !bytes.Equal(seg[8:], make([]byte, 56)) {
			t.Errorf("PutBlank wrote past 8 bytes")
		}
		m, n, err := Decode(seg, true)
		if !errors.Is(err, ErrBlank) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode(blank %d) error %v, want ErrBlank", remaining, err)
		}
		if n != remaining || !reflect.DeepEqual(m, Message{}) {
			t.Errorf("Decode(blank %d) = %d, %+v", remaining, n, m)
		}
		size, magic, ok := Size(seg)
		if !ok || size != remaining || magic != MagicBlank {
			t.Errorf("Size(blank) = %d, %#x, %v", size, uint32(magic), ok)
		}
	}
	// Only the 8 marker bytes need be there.
	b := make([]byte, BlankSize)
	PutBlank(b, 4096)
	if _, n, err := Decode(b, true); !errors.Is(err, ErrBlank) || n != 4096 {
		t.Errorf("Decode(8-byte blank) = %d, %v", n, err)
	}
}

func TestSize(t *testing.T) {
	b := encode(t, ptr(sampleMessage()))
	if size, magic, ok := Size(b); !ok || size != len(b) || magic != MagicV1 {
		t.Errorf("Size = %d, %#x, %v", size, uint32(magic), ok)
	}
	if _, _, ok := Size(b[:7]); ok {
		t.Error("Size of 7 bytes reported ok")
	}
	if size, _, _ := Size([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}); size != -1 {
		t.Errorf("Size of 0xFFFFFFFF = %d, want -1", size)
	}
}

// TestStamp checks that Stamp sets queue offset, physical offset and store
// timestamp in place, where Decode finds them, and touches nothing else.
func TestStamp(t *testing.T) {
	tests := []struct {
		name      string
		born      netip.AddrPort
		store     netip.AddrPort
		storeTSAt int
	}{
		{"ipv4", hostBorn4, hostStore4, 56},
		{"ipv6 born host", hostBorn6, hostStore4, 68},
		{"ipv6 store host", hostBorn4, hostStore6, 56},
		{"ipv6 both", hostBorn6, hostStore6, 68},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleMessage()
			m.BornHost, m.StoreHost = tc.born, tc.store
			m.QueueOffset, m.PhysicalOffset, m.StoreTimestamp = 0, 0, 0
			b := encode(t, &m)
			before := slices.Clone(b)
			Stamp(b, 77, 1<<40+5, 1700000000999)

			dec, _, err := Decode(b, true)
			if err != nil {
				t.Fatal(err)
			}
			if dec.QueueOffset != 77 || dec.PhysicalOffset != 1<<40+5 || dec.StoreTimestamp != 1700000000999 {
				t.Errorf("after Stamp: queue offset %d, physical offset %d, store timestamp %d",
					dec.QueueOffset, dec.PhysicalOffset, dec.StoreTimestamp)
			}
			want := m
			want.SysFlag = dec.SysFlag
			want.QueueOffset, want.PhysicalOffset, want.StoreTimestamp = 77, 1<<40+5, 1700000000999
			if !reflect.DeepEqual(dec, want) {
				t.Errorf("Stamp changed other fields:\n got %+v\nwant %+v", dec, want)
			}
			if got := binary.BigEndian.Uint64(b[tc.storeTSAt:]); got != 1700000000999 {
				t.Errorf("store timestamp at %d = %d", tc.storeTSAt, got)
			}
			stamped := map[int]bool{}
			for _, at := range []int{posQueueOffset, posPhysOffset, tc.storeTSAt} {
				for i := at; i < at+8; i++ {
					stamped[i] = true
				}
			}
			for i := range b {
				if !stamped[i] && b[i] != before[i] {
					t.Errorf("Stamp changed byte %d", i)
				}
			}
		})
	}
}

func TestTransactionType(t *testing.T) {
	for _, c := range []struct{ sys, want int32 }{
		{0, TransactionNotType},
		{TransactionPrepared | FlagCompressed | FlagBornHostV6, TransactionPrepared},
		{TransactionCommit | FlagMultiTags, TransactionCommit},
		{-1, TransactionRollback},
	} {
		if got := TransactionType(c.sys); got != c.want {
			t.Errorf("TransactionType(%#x) = %#x, want %#x", c.sys, got, c.want)
		}
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	m := benchMessage()
	n, _ := m.RecordSize()
	buf := make([]byte, n)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Encode(buf); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Encode allocates %v times per call", allocs)
	}
}
