package message

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
)

// OffsetMsgID returns the offset message id of a stored record: the store
// host's address and port and the record's commit-log offset, as uppercase
// hex (32 characters for IPv4, 56 for IPv6). An IPv4-mapped IPv6 address
// gives the IPv4 form, as Java's InetAddress does.
func OffsetMsgID(storeHost netip.AddrPort, physOffset int64) string {
	var b [28]byte
	n := putHost(b[:], storeHost, hostV6(storeHost, false))
	binary.BigEndian.PutUint64(b[n:], uint64(physOffset))
	var h [56]byte
	return string(AppendHexUpper(h[:0], b[:n+8]))
}

const hexUpper = "0123456789ABCDEF"

// AppendHexUpper appends src as uppercase hex, as the message ids are
// written.
func AppendHexUpper(dst, src []byte) []byte {
	for _, c := range src {
		dst = append(dst, hexUpper[c>>4], hexUpper[c&0xF])
	}
	return dst
}

// ParseOffsetMsgID decodes an offset message id (either case of hex). A 56-
// character id gives a 16-byte address, IPv4-mapped ones included. Ids that
// are not hex, have another length or carry a port outside 0..65535 are
// rejected.
func ParseOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	if len(id) != 32 && len(id) != 56 {
		return netip.AddrPort{}, 0, fmt.Errorf("message: offset msg id %q: length %d, want 32 or 56", id, len(id))
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("message: offset msg id %q: %w", id, err)
	}
	r := reader{b: b}
	host := r.host(len(b) == 28)
	off := r.i64()
	if r.err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("message: offset msg id %q: %w", id, r.err)
	}
	return host, off, nil
}
