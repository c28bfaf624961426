package routes

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

func seedBodies(f *testing.F) {
	java, err := os.ReadFile("testdata/register_body_java.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(java)
	f.Add([]byte(nil))
	f.Add([]byte(`{}`))
	f.Add(RegisterBrokerBody{
		TopicConfigTable: map[string]TopicConfig{
			"T":  {TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"},
			"\t": {TopicName: "\"x", Order: true, Attributes: map[string]string{"a": "\x00"}},
		},
		DataVersion:      DataVersion{StateVersion: 1, Timestamp: 2, Counter: 3},
		FilterServerList: []string{"f1", ""},
	}.AppendJSON(nil))
	f.Add([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T"},"N":null}}}`))
	f.Add([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{0:{}}}}`))
}

// FuzzDecodeRegisterBrokerBody checks that the decoder of REGISTER_BROKER
// bodies, which come from the network, never panics, fails only with
// ErrInvalid, and that what it accepts encodes to a body that decodes to the
// same value.
func FuzzDecodeRegisterBrokerBody(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := DecodeRegisterBrokerBody(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		enc := body.AppendJSON(nil)
		if !json.Valid(enc) {
			t.Fatalf("re-encoded body is not valid JSON: %s", enc)
		}
		back, err := DecodeRegisterBrokerBody(enc)
		if err != nil {
			t.Fatalf("re-encoded body does not decode: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(back, body) {
			t.Fatalf("round trip changed the body:\n was %+v\n now %+v", body, back)
		}
	})
}

// FuzzQuoteBareKeys checks that QuoteBareKeys never panics and leaves valid
// JSON alone.
func FuzzQuoteBareKeys(f *testing.F) {
	seedBodies(f)
	f.Add([]byte(`{0:"a",1:"b"}`))
	f.Add(AppendTopicRouteJSON(nil, sampleRoute, LegacyJSON))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := QuoteBareKeys(data)
		if json.Valid(data) {
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("valid JSON changed: %q → %q, %v", data, out, err)
			}
		}
	})
}

// FuzzDecodeTopicRouteData checks the route decoder (REGISTER_TOPIC_IN_NAMESRV
// bodies) never panics and round-trips what it accepts.
func FuzzDecodeTopicRouteData(f *testing.F) {
	f.Add(AppendTopicRouteJSON(nil, sampleRoute, LegacyJSON))
	f.Add(AppendTopicRouteJSON(nil, sampleRoute, StandardJSON))
	f.Add([]byte(`{"queueDatas":[null],"brokerDatas":[{"brokerAddrs":{-0:"x"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeTopicRouteData(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, enc := range []Encoding{LegacyJSON, StandardJSON} {
			back, err := DecodeTopicRouteData(AppendTopicRouteJSON(nil, r, enc))
			if err != nil {
				t.Fatalf("re-encoded route does not decode: %v", err)
			}
			if !reflect.DeepEqual(normRoute(back), normRoute(r)) {
				t.Fatalf("round trip changed the route:\n was %+v\n now %+v", r, back)
			}
		}
	})
}

// normRoute makes nil and empty slices and maps compare equal.
func normRoute(r TopicRouteData) TopicRouteData {
	if len(r.QueueDatas) == 0 {
		r.QueueDatas = nil
	}
	if len(r.BrokerDatas) == 0 {
		r.BrokerDatas = nil
	}
	for i := range r.BrokerDatas {
		if len(r.BrokerDatas[i].Addrs) == 0 {
			r.BrokerDatas[i].Addrs = nil
		}
	}
	return r
}
