package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// field binds a key to a struct field: set parses and checks a value into
// the field, get formats the field back. Validate runs every field's get
// through its set, so the per-key rules live only here.
type field struct {
	set func(string) error
	get func() string
}

// apply sets the properties on fields, returning warnings for unknown and
// repeated keys and one *Error per bad value.
func apply(props []Property, source string, fields map[string]field) ([]Warning, error) {
	var warns []Warning
	var errs []error
	seen := map[string]int{}
	for _, p := range props {
		f, ok := fields[p.Key]
		if !ok {
			warns = append(warns, Warning{Source: source, Line: p.Line, Key: p.Key, Msg: "unknown key, ignored"})
			continue
		}
		if prev, dup := seen[p.Key]; dup {
			warns = append(warns, Warning{Source: source, Line: p.Line, Key: p.Key,
				Msg: fmt.Sprintf("also set on line %d; this line wins", prev)})
		}
		seen[p.Key] = p.Line
		if err := f.set(p.Value); err != nil {
			errs = append(errs, &Error{Source: source, Line: p.Line, Key: p.Key, Kind: ErrInvalidValue,
				Msg: fmt.Sprintf("invalid value %q: %v", p.Value, err)})
		}
	}
	return warns, errors.Join(errs...)
}

// check runs every field's value through its own parser (see field).
func check(fields map[string]field) []error {
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		f := fields[key]
		v := f.get()
		if err := f.set(v); err != nil {
			errs = append(errs, &Error{Key: key, Kind: ErrInvalidValue, Msg: fmt.Sprintf("invalid value %q: %v", v, err)})
		}
	}
	return errs
}

func invalid(key, format string, args ...any) error {
	return &Error{Key: key, Kind: ErrInvalidValue, Msg: fmt.Sprintf(format, args...)}
}

func stringField(p *string) field {
	return field{
		set: func(v string) error { *p = v; return nil },
		get: func() string { return *p },
	}
}

func nonEmptyField(p *string) field {
	return field{
		set: func(v string) error {
			if v == "" {
				return errors.New("must not be empty")
			}
			*p = v
			return nil
		},
		get: func() string { return *p },
	}
}

// validName reports whether s is usable as a topic name, which the
// cluster and broker names become: [%|a-zA-Z0-9_-], 1 to 127 characters.
func validName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '%', c == '|', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func nameField(p *string) field {
	return field{
		set: func(v string) error {
			if !validName(v) {
				return errors.New("want 1-127 characters of [%|a-zA-Z0-9_-] (it names a topic)")
			}
			*p = v
			return nil
		},
		get: func() string { return *p },
	}
}

func boolField(p *bool) field {
	return field{
		set: func(v string) error {
			switch strings.ToLower(v) {
			case "true":
				*p = true
			case "false":
				*p = false
			default:
				return errors.New("want true or false")
			}
			return nil
		},
		get: func() string { return strconv.FormatBool(*p) },
	}
}

func parseInt(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errors.New("not an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range [%d, %d]", lo, hi)
	}
	return n, nil
}

func intField(p *int, lo, hi int64) field {
	return field{
		set: func(v string) error {
			n, err := parseInt(v, lo, hi)
			if err == nil {
				*p = int(n)
			}
			return err
		},
		get: func() string { return strconv.Itoa(*p) },
	}
}

func int64Field(p *int64, lo, hi int64) field {
	return field{
		set: func(v string) error {
			n, err := parseInt(v, lo, hi)
			if err == nil {
				*p = n
			}
			return err
		},
		get: func() string { return strconv.FormatInt(*p, 10) },
	}
}

// durationField reads an integer count of unit into a Duration within
// [lo, hi] units.
func durationField(p *time.Duration, unit time.Duration, lo, hi int64) field {
	return field{
		set: func(v string) error {
			n, err := parseInt(v, lo, hi)
			if err == nil {
				*p = time.Duration(n) * unit
			}
			return err
		},
		get: func() string { return strconv.FormatInt(int64(*p/unit), 10) },
	}
}

// enumField accepts one of names, in any case, and stores it upper-case.
func enumField[T ~string](p *T, names ...T) field {
	return field{
		set: func(v string) error {
			for _, n := range names {
				if strings.EqualFold(v, string(n)) {
					*p = n
					return nil
				}
			}
			s := make([]string, len(names))
			for i, n := range names {
				s[i] = string(n)
			}
			return fmt.Errorf("want one of %s", strings.Join(s, ", "))
		},
		get: func() string { return string(*p) },
	}
}

// validHost reports whether s is an IP address or a host name.
func validHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func hostField(p *string, optional bool) field {
	return field{
		set: func(v string) error {
			if v == "" && optional {
				*p = ""
				return nil
			}
			if !validHost(v) {
				return errors.New("want an IP address or a host name")
			}
			*p = v
			return nil
		},
		get: func() string { return *p },
	}
}

// checkAddr checks a host:port address.
func checkAddr(a string) error {
	h, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	if !validHost(h) {
		return fmt.Errorf("%q: bad host", a)
	}
	if _, err := parseInt(port, 1, 65535); err != nil {
		return fmt.Errorf("%q: bad port", a)
	}
	return nil
}

// addrListField reads a ';'-separated list of host:port addresses (the
// form of namesrvAddr); blanks around items and empty items are dropped.
func addrListField(p *[]string) field {
	return field{
		set: func(v string) error {
			var out []string
			for item := range strings.SplitSeq(v, ";") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				if err := checkAddr(item); err != nil {
					return err
				}
				out = append(out, item)
			}
			*p = out
			return nil
		},
		get: func() string { return strings.Join(*p, ";") },
	}
}

// deleteWhenField reads deleteWhen: hours of the day separated by ';',
// "04" or "04;05".
func deleteWhenField(p *string) field {
	return field{
		set: func(v string) error {
			for h := range strings.SplitSeq(v, ";") {
				if _, err := parseInt(strings.TrimSpace(h), 0, 23); err != nil {
					return fmt.Errorf("want hours 0-23 separated by ';' (%q: %v)", h, err)
				}
			}
			*p = v
			return nil
		},
		get: func() string { return *p },
	}
}

// ParseDelayLevels parses messageDelayLevel: blank-separated durations,
// each a positive integer and a unit s, m, h or d ("1s 5s 10s 30s 1m 2h").
// Level n (from 1) is the nth duration.
func ParseDelayLevels(v string) ([]time.Duration, error) {
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	var out []time.Duration
	for _, item := range strings.Fields(v) {
		unit, ok := units[item[len(item)-1]]
		if !ok {
			return nil, fmt.Errorf("%q: want a unit of s, m, h or d", item)
		}
		n, err := parseInt(item[:len(item)-1], 1, int64(365*24*time.Hour/unit))
		if err != nil {
			return nil, fmt.Errorf("%q: %v", item, err)
		}
		out = append(out, time.Duration(n)*unit)
	}
	if len(out) == 0 {
		return nil, errors.New("no delay levels")
	}
	return out, nil
}

// FormatDelayLevels writes levels in messageDelayLevel's form, each in the
// largest unit that divides it; parts of a second are dropped.
func FormatDelayLevels(levels []time.Duration) string {
	parts := make([]string, len(levels))
	for i, d := range levels {
		switch {
		case d >= 24*time.Hour && d%(24*time.Hour) == 0:
			parts[i] = fmt.Sprintf("%dd", d/(24*time.Hour))
		case d >= time.Hour && d%time.Hour == 0:
			parts[i] = fmt.Sprintf("%dh", d/time.Hour)
		case d >= time.Minute && d%time.Minute == 0:
			parts[i] = fmt.Sprintf("%dm", d/time.Minute)
		default:
			parts[i] = fmt.Sprintf("%ds", d/time.Second)
		}
	}
	return strings.Join(parts, " ")
}

func delayLevelsField(p *[]time.Duration) field {
	return field{
		set: func(v string) error {
			levels, err := ParseDelayLevels(v)
			if err == nil {
				*p = levels
			}
			return err
		},
		get: func() string { return FormatDelayLevels(*p) },
	}
}
