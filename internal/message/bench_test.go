package message

import (
	"bytes"
	"testing"
)

// benchMessage is a typical produced message: 1 KiB body, a few properties.
func benchMessage() Message {
	m := sampleMessage()
	m.Body = bytes.Repeat([]byte("0123456789abcdef"), 64)
	m.BodyCRC = BodyCRC(m.Body)
	return m
}

func BenchmarkEncode(b *testing.B) {
	m := benchMessage()
	n, err := m.RecordSize()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, n)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Encode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	m := benchMessage()
	rec := encode(b, &m)
	for _, bc := range []struct {
		name     string
		checkCRC bool
	}{{"crc", true}, {"nocrc", false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Decode(rec, bc.checkCRC); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
