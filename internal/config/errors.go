package config

import (
	"errors"
	"fmt"
)

// Errors of this package; the returned errors are *Error values that wrap
// one of these (test with errors.Is, read the location with
// errors.AsType[*Error]).
var (
	// ErrSyntax is wrapped by ParseProperties, ParseBroker and ParseNamesrv
	// for text that is not a properties file (a malformed \uXXXX escape) or
	// cannot be read.
	ErrSyntax = errors.New("config: syntax error")
	// ErrInvalidValue is wrapped by ParseBroker and ParseNamesrv for a value
	// that does not fit its key, and by Broker.Validate and
	// Namesrv.Validate for settings that are invalid alone or together.
	ErrInvalidValue = errors.New("config: invalid value")
)

// Error is a bad line or setting. Source and Line are empty for errors
// found by Validate, Key for syntax errors.
type Error struct {
	Source string // file name as given to the parser
	Line   int    // 1-based line where the property starts
	Key    string
	// Kind is ErrSyntax or ErrInvalidValue.
	Kind error
	// Msg says what is wrong, e.g. `invalid value "x": not an integer`.
	Msg string
}

func (e *Error) Error() string {
	s := "config: "
	if e.Source != "" || e.Line > 0 {
		s += fmt.Sprintf("%s:%d: ", e.Source, e.Line)
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Warning is a problem that does not stop a file from loading: an unknown
// key (ignored) or a key given twice (the last wins). The caller logs it.
type Warning struct {
	Source string
	Line   int
	Key    string
	Msg    string
}

func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", w.Source, w.Line, w.Key, w.Msg)
}
