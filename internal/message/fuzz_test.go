package message

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// seedRecords are real encoded records of several shapes.
func seedRecords(t testing.TB) [][]byte {
	var out [][]byte
	add := func(edit func(*Message)) {
		m := sampleMessage()
		edit(&m)
		out = append(out, encode(t, &m))
	}
	add(func(*Message) {})
	add(func(m *Message) { m.Topic = strings.Repeat("t", 130) })
	add(func(m *Message) { m.BornHost, m.StoreHost = hostBorn6, hostStore6 })
	add(func(m *Message) { m.StoreHost = hostStore6 })
	add(func(m *Message) {
		m.BornHost, m.StoreHost = hostMapped, hostMapped
		m.SysFlag |= FlagBornHostV6 | FlagStoreHostV6
	})
	add(func(m *Message) { m.Body, m.BodyCRC, m.Properties = nil, 0, nil })
	add(func(m *Message) { m.BodyCRC = 12345 }) // crc mismatch
	out = append(out, goldenV1())
	blank := make([]byte, 8)
	PutBlank(blank, 64)
	out = append(out, blank)
	return out
}

// FuzzDecodeRecord checks that Decode never panics, fails only with ErrCorrupt
// or ErrBlank, and that whatever it accepts encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, b := range seedRecords(f) {
		f.Add(b)
	}
	recs := seedRecords(f)
	f.Add(append(recs[0], recs[1]...)) // two records back to back
	// Hand-built records next to the edges of what Decode accepts; each once
	// decoded to a message that re-encoded differently.
	for _, r := range []rawRecord{
		{topic: strings.Repeat("t", 128)},
		{magic: 0xDAA320AB, v2: true, topic: "TopicTest"},
		{magic: 0xDAA320AB, v2: true, topic: strings.Repeat("t", 0x8000)},
		{topic: "T", props: bytes.Repeat([]byte("a"), 0x8000)},
		{topic: "T", bornAddr: []byte{1, 2, 3, 4}, bornPort: 65536},
		{topic: "T", sysFlag: 0x20, storeAddr: hostMapped.Addr().AsSlice(), storePort: 10911},
	} {
		f.Add(r.bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, n, err := Decode(data, false)
		if err != nil {
			if errors.Is(err, ErrBlank) {
				if n < BlankSize {
					t.Fatalf("blank marker of %d bytes", n)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || n != 0 {
				t.Fatalf("Decode = %d, %v; want 0 and ErrCorrupt", n, err)
			}
			return
		}
		if n < minRecordSizeIPv4V1 || n > len(data) {
			t.Fatalf("Decode size %d of %d bytes", n, len(data))
		}
		size, rerr := m.RecordSize()
		if rerr != nil || size != n {
			t.Fatalf("RecordSize = %d, %v; Decode size %d", size, rerr, n)
		}
		enc := make([]byte, n)
		if _, err := m.Encode(enc); err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		if !bytes.Equal(enc, data[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", enc, data[:n])
		}
		m2, n2, err := Decode(enc, false)
		if err != nil || n2 != n || !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode of the re-encoding = %+v, %d, %v; want %+v", m2, n2, err, m)
		}
		_, _, err = Decode(data, true)
		if crcOK := BodyCRC(m.Body) == m.BodyCRC; crcOK != (err == nil) {
			t.Fatalf("Decode with checkCRC: %v, crc ok %v", err, crcOK)
		}
	})
}

// FuzzProperties checks that DecodeProperties never panics, that what it
// returns survives an encode/decode round trip, and that Property agrees with
// it for any name.
func FuzzProperties(f *testing.F) {
	for _, s := range []string{
		"", "a\x01b\x02", "a\x01b", "\x01b\x02", "a\x01\x02", "a\x01b\x01c\x02", "\x02\x02",
		"KEYS\x01k1 k2\x02TAGS\x01TagA\x02", "a\x01b\x02a\x01c\x02", "\xff\x01\x00\x02",
	} {
		f.Add([]byte(s), "a")
	}
	f.Add(goldenV1Message().Properties, "TAGS")
	f.Add(sampleMessage().Properties, "KEYS")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		props := DecodeProperties(data)
		again := DecodeProperties(EncodeProperties(props))
		if !reflect.DeepEqual(props, again) {
			t.Fatalf("round trip of %q: %q, then %q", data, props, again)
		}
		v, ok := Property(data, name)
		mv, mok := props[name]
		if v != mv || ok != mok {
			t.Fatalf("Property(%q, %q) = %q, %v; DecodeProperties has %q, %v", data, name, v, ok, mv, mok)
		}
		if sv, sok := PropertyString(string(data), name); sv != v || sok != ok {
			t.Fatalf("PropertyString(%q, %q) = %q, %v; Property has %q, %v", data, name, sv, sok, v, ok)
		}
		for k, want := range props {
			if got, ok := Property(data, k); !ok || got != want {
				t.Fatalf("Property(%q, %q) = %q, %v; want %q", data, k, got, ok, want)
			}
		}
	})
}

// FuzzParseOffsetMsgID checks that ParseOffsetMsgID never panics and that an
// id it accepts formats back to itself (in upper case). The one exception is a
// 56-character id holding an IPv4-mapped address, which formats to the
// 32-character IPv4 form Java would give.
func FuzzParseOffsetMsgID(f *testing.F) {
	f.Add(OffsetMsgID(hostStore4, 0x1234))
	f.Add(OffsetMsgID(hostStore6, 1<<40))
	f.Add(OffsetMsgID(hostBorn6, -1))
	f.Add("0a00000100002a9f0000000000001234")
	f.Add("00000000000000000000FFFF0A00000100002A9F0000000000001234")
	f.Add("0A00000100010000" + "0000000000001234")
	f.Fuzz(func(t *testing.T, id string) {
		host, off, err := ParseOffsetMsgID(id)
		if err != nil {
			return
		}
		if len(id) != 32 && len(id) != 56 {
			t.Fatalf("accepted an id of %d characters", len(id))
		}
		s := OffsetMsgID(host, off)
		if len(id) == 56 && host.Addr().Is4In6() {
			if len(s) != 32 {
				t.Fatalf("ipv4-mapped id %s formats to %s", id, s)
			}
		} else if s != strings.ToUpper(id) {
			t.Fatalf("ParseOffsetMsgID(%s) = %v, %d; formats to %s", id, host, off, s)
		}
		host2, off2, err := ParseOffsetMsgID(s)
		if err != nil || off2 != off || host2.Port() != host.Port() || host2.Addr().Unmap() != host.Addr().Unmap() {
			t.Fatalf("ParseOffsetMsgID(%s) = %v, %d, %v; want %v, %d", s, host2, off2, err, host, off)
		}
	})
}
