package routes

import (
	"fmt"
	"testing"
)

// BenchmarkTopicRoute measures the answer to GET_ROUTEINFO_BY_TOPIC, which
// every client sends every 30 s for every topic it uses: a lookup and an
// encode, for a topic on 4 broker groups of 2 addresses each.
func BenchmarkTopicRoute(b *testing.B) {
	tb := New()
	for i := range 4 {
		name := fmt.Sprintf("broker-%d", i)
		for id := range int64(2) {
			req := registration("c", name, fmt.Sprintf("10.0.0.%d:10911", 2*i+int(id)), id, 1,
				topicConfig("TopicTest", 8, 6))
			if _, err := tb.RegisterBroker(req, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		r, ok := tb.TopicRoute("TopicTest")
		if !ok {
			b.Fatal("no route")
		}
		buf = AppendTopicRouteJSON(buf[:0], r, LegacyJSON)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkRegisterBroker measures a periodic re-registration of a broker
// with 100 topics and an unchanged DataVersion: decode plus table update.
func BenchmarkRegisterBroker(b *testing.B) {
	var topics []TopicConfig
	for i := range 100 {
		topics = append(topics, topicConfig(fmt.Sprintf("Topic%03d", i), 8, 6))
	}
	req := registration("c", "broker-a", "10.0.0.1:10911", 0, 1, topics...)
	raw := req.Body.AppendJSON(nil)
	tb := New()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		body, err := DecodeRegisterBrokerBody(raw)
		if err != nil {
			b.Fatal(err)
		}
		req.Body = body
		if _, err := tb.RegisterBroker(req, t0); err != nil {
			b.Fatal(err)
		}
	}
}
