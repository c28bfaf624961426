package message

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestEncodePropertiesSortsAndSkipsEmpty(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"nil map", nil, ""},
		{"empty map", map[string]string{}, ""},
		{"one pair", map[string]string{"TAGS": "TagA"}, "TAGS\x01TagA\x02"},
		{"sorted by name", map[string]string{"WAIT": "true", "KEYS": "k1 k2", "TAGS": "TagA"}, "KEYS\x01k1 k2\x02TAGS\x01TagA\x02WAIT\x01true\x02"},
		{"empty name and empty value skipped", map[string]string{"": "x", "A": "", "B": "1"}, "B\x011\x02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(EncodeProperties(tc.props)); got != tc.want {
				t.Errorf("EncodeProperties = %q, want %q", got, tc.want)
			}
			if got := string(AppendProperties([]byte("pre"), tc.props)); got != "pre"+tc.want {
				t.Errorf("AppendProperties = %q, want %q", got, "pre"+tc.want)
			}
		})
	}
}

// TestDecodePropertiesJavaSkipRules follows MessageDecoder.string2messageProperties:
// pieces end at 0x02 (or the end), the name ends at the piece's first 0x01,
// and a piece is kept only if that 0x01 is neither first nor last.
func TestDecodePropertiesJavaSkipRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"one pair", "a\x01b\x02", map[string]string{"a": "b"}},
		{"no trailing separator", "a\x01b", map[string]string{"a": "b"}},
		{"two pairs", "a\x01b\x02cc\x01dd\x02", map[string]string{"a": "b", "cc": "dd"}},
		{"empty name skipped", "\x01b\x02c\x01d\x02", map[string]string{"c": "d"}},
		{"empty value skipped", "a\x01\x02c\x01d\x02", map[string]string{"c": "d"}},
		{"empty value at the end skipped", "c\x01d\x02a\x01", map[string]string{"c": "d"}},
		{"piece without 0x01 skipped", "abc\x02c\x01d\x02", map[string]string{"c": "d"}},
		{"piece of two bytes skipped", "a\x01\x02", map[string]string{}},
		{"value keeps further 0x01", "a\x01b\x01c\x02", map[string]string{"a": "b\x01c"}},
		{"leading 0x01 hides a later one", "\x01a\x01b\x02", map[string]string{}},
		{"empty pieces skipped", "\x02\x02a\x01b\x02\x02\x02", map[string]string{"a": "b"}},
		{"repeated name keeps the last value", "a\x01b\x02a\x01c\x02", map[string]string{"a": "c"}},
		{"0x01 only in a later piece", "ab\x02c\x01d", map[string]string{"c": "d"}},
		{"odd bytes kept raw", "k\x01\x00\xff\xfe é\x02\xff\x01\x00\x02", map[string]string{"k": "\x00\xff\xfe é", "\xff": "\x00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DecodeProperties([]byte(tc.in))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeProperties(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for k, v := range tc.want {
				if pv, ok := Property([]byte(tc.in), k); !ok || pv != v {
					t.Errorf("Property(%q) = %q, %v; want %q", k, pv, ok, v)
				}
			}
		})
	}
}

func TestPropertyLookup(t *testing.T) {
	b := EncodeProperties(map[string]string{
		"KEYS":     "k1 k2",
		"KEYSX":    "other",
		"K":        "short",
		"UNIQ_KEY": "C0A8010A00002A9F0000000000001234",
		"V":        "a\x01b",
	})
	b = append(b, "\x01orphan\x02"...) // skipped by the Java reader
	tests := []struct {
		name   string
		lookup string
		want   string
		ok     bool
	}{
		{"exact", "KEYS", "k1 k2", true},
		{"longer name sharing a prefix", "KEYSX", "other", true},
		{"name that is a prefix of others", "K", "short", true},
		{"prefix of a name but not a name", "KEY", "", false},
		{"name longer than any", "KEYSXY", "", false},
		{"value with 0x01", "V", "a\x01b", true},
		{"name holding 0x01 never matches", "V\x01a", "", false},
		{"empty name never matches", "", "", false},
		{"value is not a name", "short", "", false},
		{"missing", "TAGS", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Property(b, tc.lookup)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Property(%q) = %q, %v; want %q, %v", tc.lookup, got, ok, tc.want, tc.ok)
			}
			mv, mok := DecodeProperties(b)[tc.lookup]
			if mv != got || mok != ok {
				t.Errorf("DecodeProperties disagrees: %q, %v", mv, mok)
			}
		})
	}
	if v, ok := Property([]byte("a\x01first\x02a\x01last\x02"), "a"); v != "last" || !ok {
		t.Errorf("repeated name: Property = %q, %v; want the last value as the Java reader", v, ok)
	}
	if v, ok := Property(nil, "a"); v != "" || ok {
		t.Errorf("Property(nil) = %q, %v", v, ok)
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	tests := []map[string]string{
		{},
		{PropertyKeys: "a b c", PropertyTags: "TagA", PropertyWaitStoreMsg: "false", PropertyDelayLevel: "3"},
		{PropertyRealTopic: "%RETRY%group", PropertyRealQueueID: "0", PropertyClusterName: "DefaultCluster"},
		{"utf8": "中文 😀", "nul": "\x00", "high": "\xff\xfe", "soh": "a\x01b\x01", "space": " "},
		{"long": strings.Repeat("v", 30000)},
	}
	for _, props := range tests {
		b := EncodeProperties(props)
		if got := DecodeProperties(b); !reflect.DeepEqual(got, props) {
			t.Errorf("DecodeProperties(EncodeProperties(%q)) = %q", props, got)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"k1", []string{"k1"}},
		{"k1 k2", []string{"k1", "k2"}},
		{"  k1   k2 ", []string{"k1", "k2"}},
	} {
		if got := Keys(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Keys(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if KeySeparator != " " {
		t.Errorf("KeySeparator = %q", KeySeparator)
	}
}
