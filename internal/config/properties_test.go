package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Property
	}{
		{"equals", "a=1", []Property{{"a", "1", 1}}},
		{"colon", "a:1", []Property{{"a", "1", 1}}},
		{"blank separator", "a 1", []Property{{"a", "1", 1}}},
		{"tab separator", "a\t1", []Property{{"a", "1", 1}}},
		{"blanks around separator", "  a  =  1  ", []Property{{"a", "1", 1}}},
		{"blank then equals", "a = = 1", []Property{{"a", "= 1", 1}}},
		{"second separator is value", "a=b=c", []Property{{"a", "b=c", 1}}},
		{"empty value", "a=\nb\n", []Property{{"a", "", 1}, {"b", "", 2}}},
		{"comments and blank lines", "# c\n! c\n   # indented\n\n \t \na=1\n", []Property{{"a", "1", 6}}},
		{"hash inside a value", "a=1 # not a comment", []Property{{"a", "1 # not a comment", 1}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", []Property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"continuation", "a=1,\\\n    2,\\\n\t3\nb=4", []Property{{"a", "1,2,3", 1}, {"b", "4", 4}}},
		{"even backslashes do not continue", "a=x\\\\\nb=2", []Property{{"a", `x\`, 1}, {"b", "2", 2}}},
		{"continued into a hash", "a=1\\\n#2", []Property{{"a", "1#2", 1}}},
		{"comment does not continue", "# c \\\na=1", []Property{{"a", "1", 2}}},
		{"continuation at EOF", "a=1\\", []Property{{"a", "1", 1}}},
		{"escapes", `a=x\t\n\r\f\u0041\\\x`, []Property{{"a", "x\t\n\r\fA\\x", 1}}},
		{"escaped blanks are trimmed too", `a=\t x \n`, []Property{{"a", "x", 1}}},
		{"surrogate pair", `a=\uD83D\uDE00`, []Property{{"a", "😀", 1}}},
		{"escaped separators in key", `a\=b\:c\ d=1`, []Property{{"a=b:c d", "1", 1}}},
		{"utf-8", "path=/données/store", []Property{{"path", "/données/store", 1}}},
		{"duplicates kept", "a=1\na=2", []Property{{"a", "1", 1}, {"a", "2", 2}}},
		{"empty key", "=1", []Property{{"", "1", 1}}},
		{"empty input", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in), "x.conf")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesMalformedEscape(t *testing.T) {
	for _, in := range []string{"a=1\nb=\\u12", "a=1\nb=\\u12G4", "a=1\n\\uZZZZ=1"} {
		_, err := ParseProperties(strings.NewReader(in), "x.conf")
		e, ok := errors.AsType[*Error](err)
		if !errors.Is(err, ErrSyntax) || !ok || e.Line != 2 || e.Source != "x.conf" {
			t.Errorf("%q: %v", in, err)
		}
		if !strings.HasPrefix(err.Error(), "config: x.conf:2: ") {
			t.Errorf("%q: message %q", in, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestParsePropertiesReadError(t *testing.T) {
	if _, err := ParseProperties(failingReader{}, "x.conf"); !errors.Is(err, ErrSyntax) {
		t.Errorf("err = %v", err)
	}
}

// encodeProperties writes props so that ParseProperties reads them back.
func encodeProperties(props []Property) string {
	esc := func(s string, key bool) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			switch r := s[i]; r {
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\f':
				b.WriteString(`\f`)
			case '=', ':', ' ', '#', '!':
				if key || i == 0 {
					b.WriteByte('\\')
				}
				b.WriteByte(r)
			default:
				b.WriteByte(r)
			}
		}
		return b.String()
	}
	var b strings.Builder
	for _, p := range props {
		fmt.Fprintf(&b, "%s=%s\n", esc(p.Key, true), esc(p.Value, false))
	}
	return b.String()
}

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\ndeleteWhen = 04\n" +
			"fileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = ASYNC_FLUSH\n",
		"# comment\n! other\nkey value\\\n   continued\r\nk2:v2\rk3=\\u0041\\uD83D\\uDE00",
		"a\\=b=c\\\\\n\\",
		"namesrvAddr=127.0.0.1:9876;10.0.0.2:9876",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ParseProperties(strings.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error not ErrSyntax: %v", err)
			}
			return
		}
		lines := strings.Count(in, "\n") + strings.Count(in, "\r") + 1
		for _, p := range props {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("line %d of %d", p.Line, lines)
			}
		}
		// What we parsed, written back, parses to the same properties.
		again, err := ParseProperties(strings.NewReader(encodeProperties(props)), "again")
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(again) != len(props) {
			t.Fatalf("re-parse: %d properties, want %d", len(again), len(props))
		}
		for i := range props {
			if again[i].Key != props[i].Key || again[i].Value != props[i].Value {
				t.Fatalf("re-parse: %+v, want %+v", again[i], props[i])
			}
		}
		// ParseBroker and ParseNamesrv never panic and report only our errors.
		if _, _, err := parseBroker(strings.NewReader(in), "fuzz", testBroker()); err != nil {
			if !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseBroker: %v", err)
			}
		}
		if _, _, err := parseNamesrv(strings.NewReader(in), "fuzz", defaultNamesrv(testHost())); err != nil {
			if !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseNamesrv: %v", err)
			}
		}
	})
}
