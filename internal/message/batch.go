package message

import "fmt"

// BatchItem is one message of a SEND_BATCH_MESSAGE body. Body and
// Properties alias the decoded bytes.
type BatchItem struct {
	Flag       int32
	Body       []byte
	Properties []byte
}

// DecodeBatch splits a SEND_BATCH_MESSAGE body into its messages. Each is
//
//	int32 TOTALSIZE | int32 MAGIC | int32 BODYCRC | int32 FLAG |
//	int32 BODYLEN | body | int16 PROPLEN | properties
//
// (the clients write 0 for MAGIC and BODYCRC). Any inconsistency gives an
// error wrapping ErrCorrupt.
func DecodeBatch(b []byte) ([]BatchItem, error) {
	var items []BatchItem
	for off := 0; off < len(b); {
		r := reader{b: b[off:]}
		total := int(r.i32())
		r.i32() // magic
		r.i32() // body crc
		flag := r.i32()
		body := r.take(int(r.i32()))
		props := r.take(r.u16())
		if r.err != nil {
			return nil, fmt.Errorf("%w: batch message %d at byte %d: %w", ErrCorrupt, len(items), off, r.err)
		}
		if total != r.off {
			return nil, fmt.Errorf("%w: batch message %d at byte %d: declared size %d, fields end at %d", ErrCorrupt, len(items), off, total, r.off)
		}
		items = append(items, BatchItem{Flag: flag, Body: body, Properties: props})
		off += total
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrCorrupt)
	}
	return items, nil
}

// AppendBatchItem appends one message in the SEND_BATCH_MESSAGE layout.
func AppendBatchItem(dst []byte, it BatchItem) []byte {
	total := 20 + len(it.Body) + 2 + len(it.Properties)
	dst = be32(dst, int32(total))
	dst = be32(dst, 0)
	dst = be32(dst, 0)
	dst = be32(dst, it.Flag)
	dst = be32(dst, int32(len(it.Body)))
	dst = append(dst, it.Body...)
	dst = append(dst, byte(len(it.Properties)>>8), byte(len(it.Properties)))
	return append(dst, it.Properties...)
}

func be32(dst []byte, v int32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
