package message

import (
	"bytes"
	"errors"
	"testing"
)

func TestBatchRoundTrip(t *testing.T) {
	items := []BatchItem{
		{Flag: 1, Body: []byte("hello"), Properties: EncodeProperties(map[string]string{"KEYS": "k1"})},
		{Flag: 0, Body: []byte{}, Properties: nil},
		{Flag: -7, Body: bytes.Repeat([]byte{0xAB}, 5000), Properties: []byte("a\x01b\x02")},
	}
	var b []byte
	for _, it := range items {
		b = AppendBatchItem(b, it)
	}
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(items) {
		t.Fatalf("%d items, want %d", len(got), len(items))
	}
	for i := range items {
		if got[i].Flag != items[i].Flag || !bytes.Equal(got[i].Body, items[i].Body) || !bytes.Equal(got[i].Properties, items[i].Properties) {
			t.Fatalf("item %d: %+v, want %+v", i, got[i], items[i])
		}
	}
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(bytes.Clone(b), 0, 0, 0)} {
		if _, err := DecodeBatch(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeBatch(%d bytes) = %v, want ErrCorrupt", len(bad), err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatchItem(AppendBatchItem(nil, BatchItem{Body: []byte("x")}), BatchItem{Flag: 3, Properties: []byte("a\x01b\x02")}))
	f.Add([]byte{0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := DecodeBatch(b)
		if err != nil {
			return
		}
		var re []byte
		for _, it := range items {
			re = AppendBatchItem(re, BatchItem{Flag: it.Flag, Body: it.Body, Properties: it.Properties})
		}
		// Magic and CRC words are ignored on decode; compare the rest.
		if len(re) != len(b) {
			t.Fatalf("re-encoded %d bytes from %d", len(re), len(b))
		}
	})
}
