package pop

import (
	"errors"
	"reflect"
	"testing"
)

// A checkpoint as fastjson writes it (extra getter fields included).
const javaCK = `{"bm":0,"bn":"broker-a","c":"CID_A","d":[0,2,3],"it":30000,"n":3,"pt":1718000000123,"q":2,"reviveTime":1718000030123,"ro":0,"rp":"1","so":1052,"t":"TopicA"}`

func TestCheckPointCodec(t *testing.T) {
	ck, err := DecodeCheckPoint([]byte(javaCK))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Num != 3 || ck.Offset(1) != 1054 || ck.End() != 1056 || ck.Index(1055) != 2 || ck.Index(1053) != -1 ||
		ck.ReviveTime() != 1718000030123 || ck.RePutTimes != "1" {
		t.Fatalf("%+v", ck)
	}
	if got := ck.UniqKey(); got != "TopicA@2@1052@CID_A@1718000000123@broker-a@ck" {
		t.Fatal(got)
	}
	back, err := DecodeCheckPoint(ck.Encode())
	if err != nil || !reflect.DeepEqual(back, ck) {
		t.Fatalf("%+v %v", back, err)
	}
	old, err := DecodeCheckPoint([]byte(`{"so":5,"pt":1,"it":2,"n":2,"q":0,"t":"T","c":"G","bn":"b"}`))
	if err != nil || !reflect.DeepEqual(old.Diffs, []int32{0, 1}) {
		t.Fatalf("a checkpoint without diffs: %+v %v", old, err)
	}
	for _, bad := range []string{`{`, `{"so":1,"n":1,"d":[0],"c":"G"}`, `{"t":"T","c":"G","d":[]}`, `{"t":"T","c":"G","d":[1,1]}`,
		`{"t":"T","c":"G","d":[-1]}`, `{"t":"T","c":"G","so":-2,"d":[0]}`} {
		if _, err := DecodeCheckPoint([]byte(bad)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestAckCodec(t *testing.T) {
	a, err := DecodeAck([]byte(`{"ao":1054,"so":1052,"c":"CID_A","t":"TopicA","q":2,"pt":1718000000123,"bn":"broker-a"}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Tag() != TagAck || a.UniqKey() != "TopicA@2@1054@CID_A@1718000000123@broker-a@ack" || !reflect.DeepEqual(a.Offsets(), []int64{1054}) {
		t.Fatalf("%+v %s", a, a.UniqKey())
	}
	if a.Key() != (Key{"TopicA", "CID_A", 2, 1052, 1718000000123, "broker-a"}) {
		t.Fatal(a.Key())
	}
	b := &AckMsg{AckOffset: -1, StartOffset: 1, Group: "G", Topic: "T", QueueID: 0, PopTime: 9, BrokerName: "b", AckOffsets: []int64{1, 3}}
	if b.Tag() != TagBatchAck || b.UniqKey() != "T@0@[1, 3]@G@9@bAck" {
		t.Fatal(b.UniqKey())
	}
	back, err := DecodeAck(b.Encode())
	if err != nil || !reflect.DeepEqual(back, b) {
		t.Fatalf("%+v %v", back, err)
	}
}

func TestBatchAckBitSet(t *testing.T) {
	// java.util.BitSet with bits {0, 2, 9}: toByteArray = [0x05, 0x02].
	if got := EncodeBitSet(100, []int64{100, 102, 109}); got != "BQI=" {
		t.Fatal(got)
	}
	body, err := DecodeBatchAckBody([]byte(`{"brokerName":"broker-a","acks":[{"c":"G","t":"T","r":"0","so":100,"q":1,"rq":3,"pt":5,"it":6,"b":"BQI="}]}`))
	if err != nil {
		t.Fatal(err)
	}
	offs, err := body.Acks[0].Offsets()
	if err != nil || !reflect.DeepEqual(offs, []int64{100, 102, 109}) {
		t.Fatalf("%v %v", offs, err)
	}
	bad := BatchAck{BitSet: "!!"}
	if _, err := bad.Offsets(); !errors.Is(err, ErrBadHandle) {
		t.Fatal(err)
	}
}

// FuzzDecodeCheckPoint: no panic; an accepted checkpoint re-encodes to an
// equal one and its offsets are consistent.
func FuzzDecodeCheckPoint(f *testing.F) {
	f.Add([]byte(javaCK))
	f.Add([]byte(`{"so":5,"pt":1,"it":2,"n":2,"q":0,"t":"T","c":"G","bn":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := DecodeCheckPoint(b)
		if err != nil {
			return
		}
		back, err := DecodeCheckPoint(ck.Encode())
		if err != nil || !reflect.DeepEqual(back, ck) {
			t.Fatalf("%+v → %+v %v", ck, back, err)
		}
		for i := range ck.Diffs {
			if ck.Index(ck.Offset(i)) != i {
				t.Fatalf("Index(Offset(%d)) in %+v", i, ck)
			}
		}
	})
}

// FuzzDecodeAck: no panic on ack records and batch-ack bodies.
func FuzzDecodeAck(f *testing.F) {
	f.Add([]byte(`{"ao":1054,"so":1052,"c":"CID_A","t":"TopicA","q":2,"pt":1718000000123,"bn":"broker-a"}`))
	f.Add([]byte(`{"brokerName":"broker-a","acks":[{"c":"G","t":"T","r":"0","so":100,"q":1,"rq":3,"pt":5,"it":6,"b":"BQI="}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeAck(b); err == nil {
			if _, err := DecodeAck(a.Encode()); err != nil {
				t.Fatal(err)
			}
		}
		if body, err := DecodeBatchAckBody(b); err == nil {
			for _, a := range body.Acks {
				_, _ = a.Offsets()
			}
		}
	})
}
