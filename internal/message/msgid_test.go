package message

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOffsetMsgID(t *testing.T) {
	tests := []struct {
		name   string
		host   netip.AddrPort
		offset int64
		want   string
		parsed netip.AddrPort // host ParseOffsetMsgID returns; zero: host
	}{
		{"store.md example", hostStore4, 0x1234, "0A00000100002A9F0000000000001234", netip.AddrPort{}},
		{"large offset", netip.MustParseAddrPort("192.168.0.255:65535"), 1<<62 + 0xABCDEF,
			"C0A800FF0000FFFF4000000000ABCDEF", netip.AddrPort{}},
		{"negative offset", netip.MustParseAddrPort("1.2.3.4:0"), -1, "01020304" + "00000000" + "FFFFFFFFFFFFFFFF", netip.AddrPort{}},
		{"ipv6", netip.MustParseAddrPort("[2001:db8::1]:10911"), 0x1234,
			"20010DB8000000000000000000000001" + "00002A9F" + "0000000000001234", netip.AddrPort{}},
		{"ipv4-mapped gives the ipv4 form", hostMapped, 7, "C0A8010A0000D4310000000000000007", hostBorn4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := OffsetMsgID(tc.host, tc.offset)
			if id != tc.want {
				t.Fatalf("OffsetMsgID = %s, want %s", id, tc.want)
			}
			want := tc.parsed
			if !want.IsValid() {
				want = tc.host
			}
			for _, s := range []string{id, strings.ToLower(id)} {
				host, off, err := ParseOffsetMsgID(s)
				if err != nil || host != want || off != tc.offset {
					t.Errorf("ParseOffsetMsgID(%s) = %v, %#x, %v; want %v, %#x", s, host, off, err, want, tc.offset)
				}
			}
		})
	}
}

func TestParseOffsetMsgIDRejects(t *testing.T) {
	for _, id := range []string{
		"",
		"0A00000100002A9F000000000000123",       // 31 chars
		"0A00000100002A9F00000000000012345",     // 33 chars
		"0A00000100002A9F000000000000123G",      // not hex
		"0A00000100010000" + "0000000000001234", // port 65536
		"0A000001FFFFFFFF" + "0000000000001234", // port -1
		"C0A8010A00002A9F0000000000001234C0A8010A00002A9F000000", // 54 chars
		"7F000001" + "00000050" + "00000000000000" + "0",         // odd length
	} {
		if host, off, err := ParseOffsetMsgID(id); err == nil {
			t.Errorf("ParseOffsetMsgID(%q) = %v, %d; want an error", id, host, off)
		} else if !strings.HasPrefix(err.Error(), "message: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}
