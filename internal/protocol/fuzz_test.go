package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// seedFrames are real frames without their LENGTH prefix: the Go client's,
// Java-style responses, and our own encodings of typical commands.
func seedFrames(t testing.TB) [][]byte {
	var seeds [][]byte
	add := func(frame []byte) { seeds = append(seeds, frame[4:]) }
	add(append(mustHex(t, "00000068 00000064"),
		`{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"T"}}`...))
	add(mustHex(t, "00000023 0100001d 0022 09 013d 00000002 00000000 00000000 00000008 0001 61 00000001 62 7879"))
	java := `{"code":0,"extFields":{"queueId":"1","msgId":"C0A8000100002A9F0000000000000000","queueOffset":"0"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":475}`
	add(append(jsonFrame(java), make([]byte, 4)...))
	add(jsonFrame(`{"code":10,"extFields":{"queueId":1,"o":{"a":[1, 2]},"n":null},"language":9}`))
	for _, c := range typicalCommands() {
		for _, st := range []byte{SerializeJSON, SerializeRocketMQ} {
			c.SerializeType = st
			frame, err := c.AppendFrame(nil)
			if err != nil {
				t.Fatal(err)
			}
			add(frame)
		}
	}
	return seeds
}

// typicalCommands are a SEND_MESSAGE_V2 request with a 1 KiB body, its
// response, and a PULL_MESSAGE request.
func typicalCommands() []*Command {
	send := NewRequest(SendMessageV2, map[string]string{
		"a": "please_rename_unique_group_name", "b": "TopicTest", "c": "TBW102", "d": "4",
		"e": "3", "f": "0", "g": "1700000000000", "h": "0",
		"i": "KEYS\x01key-1\x02TAGS\x01TagA\x02WAIT\x01true\x02UNIQ_KEY\x01C0A80001000018B4AAC2", "j": "0",
		"k": "false", "m": "false",
	})
	send.Opaque = 12345
	send.Body = bytes.Repeat([]byte("x"), 1024)
	resp := NewResponse(send, Success, "")
	resp.ExtFields = map[string]string{"msgId": "C0A8000100002A9F0000000000012345", "queueId": "3", "queueOffset": "42",
		"transactionId": "C0A80001000018B4AAC2", "MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
	pull := NewRequest(PullMessage, map[string]string{
		"consumerGroup": "G", "topic": "TopicTest", "queueId": "0", "queueOffset": "100", "maxMsgNums": "32",
		"sysFlag": "3", "commitOffset": "100", "suspendTimeoutMillis": "20000", "subscription": "*", "subVersion": "0",
		"expressionType": "TAG",
	})
	pull.Opaque = -5
	return []*Command{send, resp, pull}
}

// FuzzDecodeFrame: Decode never panics, and what it accepts re-encodes to a
// frame that decodes to the same command and encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		frame, err := c.AppendFrame(nil)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", c, err)
		}
		c2, err := Decode(frameBody(t, frame))
		if err != nil {
			t.Fatalf("cannot decode our own frame %q: %v", frame, err)
		}
		if !sameCommand(c, c2) {
			t.Fatalf("round trip changed the command\nfirst  %+v\nsecond %+v", c, c2)
		}
		again, err := c2.AppendFrame(nil)
		if err != nil || !bytes.Equal(again, frame) {
			t.Fatalf("re-encoding is not stable (%v)\nfirst  %q\nsecond %q", err, frame, again)
		}
	})
}

// FuzzBinaryHeader drives the ROCKETMQ header codec directly.
func FuzzBinaryHeader(f *testing.F) {
	for _, s := range seedFrames(f) {
		if s[0] == SerializeRocketMQ {
			h := binary.BigEndian.Uint32(s) & 0xFFFFFF
			f.Add(s[4 : 4+h])
		}
	}
	f.Add(mustHex(f, "0022 09 013d 00000002 00000000 00000000 00000000"))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		c, err := decodeBinaryHeader(hdr)
		if err != nil {
			return
		}
		c.SerializeType = SerializeRocketMQ
		enc, err := c.appendBinaryHeader(nil)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", c, err)
		}
		c2, err := decodeBinaryHeader(enc)
		if err != nil {
			t.Fatalf("cannot decode our own header %x: %v", enc, err)
		}
		c2.SerializeType = SerializeRocketMQ
		if !sameCommand(c, c2) {
			t.Fatalf("round trip changed the header\nfirst  %+v\nsecond %+v", c, c2)
		}
	})
}

// FuzzJSONString checks the hand-written JSON string encoder against
// encoding/json, and that a header built from arbitrary strings decodes to
// the same strings (repaired to valid UTF-8).
func FuzzJSONString(f *testing.F) {
	f.Add("remark", "key", "value")
	f.Add("<&>\u2028\"\\\x00\x1f\x7f", "日本", "\xff\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, remark, k, v string) {
		for _, s := range []string{remark, k, v} {
			want, _ := json.Marshal(s)
			if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
				t.Fatalf("%q: got %s, want %s", s, got, want)
			}
		}
		c := &Command{Code: 1, Remark: remark, ExtFields: map[string]string{k: v}}
		frame, err := c.AppendFrame(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(frame[4:])
		if err != nil {
			t.Fatalf("cannot decode %q: %v", frame, err)
		}
		fix := func(s string) string { return string([]rune(s)) }
		if got.Remark != fix(remark) || got.ExtFields[fix(k)] != fix(v) || len(got.ExtFields) != 1 {
			t.Fatalf("got %+v", got)
		}
	})
}

// FuzzJSONHeader checks the fast JSON header decoder against the
// encoding/json one: wherever the fast one answers, they agree.
func FuzzJSONHeader(f *testing.F) {
	for _, s := range seedFrames(f) {
		if s[0] == SerializeJSON {
			h := binary.BigEndian.Uint32(s) & 0xFFFFFF
			f.Add(s[4 : 4+h])
		}
	}
	for _, s := range []string{
		`{}`, `null`, ` {"code" : 1 , "CODE":2}`, `{"code":1,"code":2}`, `{"extFields":{"a":"x","a":null}}`,
		`{"language":"\u0047O","remark":"\ud83d\ude00 \ud800 \u00e9\/\b"}`, `{"opaque":-0,"flag":01}`,
		`{"serializeTypeCurrentRPC":"JSON","x":true,"y":null,"z":-12}`, "{\"remark\":\"\xff\xc3\"}",
		`{"code":1e2}`, `{"extFields":{"k":1}}`, `{"\u212Aey":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, hdr []byte) {
		fast, ok := decodeJSONFast(hdr)
		slow, err := decodeJSONSlow(hdr)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder accepted %q as %+v; encoding/json says %v", hdr, fast, err)
		}
		if !sameCommand(fast, slow) || fast.Language != slow.Language {
			t.Fatalf("decoders differ on %q\nfast %+v\nslow %+v", hdr, fast, slow)
		}
	})
}
