package protocol

import (
	"testing"
)

// Benchmarks use a SEND_MESSAGE_V2 request with 12 ext fields and a 1 KiB
// body, its response, and a PULL_MESSAGE request.
func BenchmarkEncode(b *testing.B) {
	for _, st := range []struct {
		name string
		typ  byte
	}{{"json", SerializeJSON}, {"rocketmq", SerializeRocketMQ}} {
		for i, c := range typicalCommands() {
			c.SerializeType = st.typ
			b.Run(st.name+"/"+[]string{"send", "sendresp", "pull"}[i], func(b *testing.B) {
				buf := make([]byte, 0, 4096)
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if buf, err = c.AppendFrame(buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, st := range []struct {
		name string
		typ  byte
	}{{"json", SerializeJSON}, {"rocketmq", SerializeRocketMQ}} {
		for i, c := range typicalCommands() {
			c.SerializeType = st.typ
			frame, err := c.AppendFrame(nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(st.name+"/"+[]string{"send", "sendresp", "pull"}[i], func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(frame)))
				for b.Loop() {
					if _, err := Decode(frame[4:]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecodeReleased decodes into released commands, as a server does
// for its HandleQuick routes.
func BenchmarkDecodeReleased(b *testing.B) {
	for _, st := range []struct {
		name string
		typ  byte
	}{{"json", SerializeJSON}, {"rocketmq", SerializeRocketMQ}} {
		c := typicalCommands()[0]
		c.SerializeType = st.typ
		frame, err := c.AppendFrame(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(st.name+"/send", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				c, err := Decode(frame[4:])
				if err != nil {
					b.Fatal(err)
				}
				Release(c)
			}
		})
	}
}
