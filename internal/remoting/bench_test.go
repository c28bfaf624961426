package remoting

import (
	"bytes"
	"context"
	"testing"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// BenchmarkRoundTrip is one request/response over loopback with a 1 KiB
// body each way and a SEND_MESSAGE-sized header, answered inline on the
// read loop, from a pool, or as a HandleQuick route.
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []string{"inline", "pool", "quick"} {
		_, addr := startServer(b, ServerOptions{}, func(s *Server) {
			var pool *Pool
			if mode != "inline" {
				pool = s.NewPool("bench", 16, 10000)
			}
			handle := s.Handle
			if mode == "quick" {
				handle = s.HandleQuick
			}
			handle(protocol.SendMessageV2, pool, func(_ context.Context, _ *Conn, req *protocol.Command) *protocol.Command {
				resp := protocol.AcquireResponse(req, protocol.Success, "")
				resp.ExtFields = map[string]string{"msgId": "C0A8000100002A9F0000000000012345", "queueId": "3", "queueOffset": "42"}
				resp.Body = req.Body
				return resp
			})
		})
		newReq := func() *protocol.Command {
			req := protocol.NewRequest(protocol.SendMessageV2, map[string]string{
				"a": "group", "b": "TopicTest", "c": "TBW102", "d": "4", "e": "3", "f": "0",
				"g": "1700000000000", "h": "0", "i": "KEYS\x01k\x02TAGS\x01t", "j": "0", "k": "false", "m": "false",
			})
			req.Body = bytes.Repeat([]byte("x"), 1024)
			return req
		}
		ctx := context.Background()
		b.Run(mode+"/sequential", func(b *testing.B) {
			cl := startClient(b)
			b.ReportAllocs()
			b.SetBytes(2 * 1024)
			for b.Loop() {
				if _, err := cl.Invoke(ctx, addr, newReq()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/parallel", func(b *testing.B) {
			cl := startClient(b)
			b.ReportAllocs()
			b.SetBytes(2 * 1024)
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cl.Invoke(ctx, addr, newReq()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
