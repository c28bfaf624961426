package index

import (
	"errors"
	"fmt"
)

// Errors. Each line says which calls return it; test with errors.Is.
var (
	// ErrClosed: every method of an Index called after Close.
	ErrClosed = errors.New("index: closed")
	// ErrBadSize: Open, for a file whose size is not FileSize of the
	// options (the error names the file); ReadFile, for an image of the
	// wrong length.
	ErrBadSize = errors.New("index: file has the wrong size")
	// ErrBadName: Open, for an entry of the directory whose name is not a
	// yyyyMMddHHmmssSSS time (the error names it).
	ErrBadName = errors.New("index: unexpected file name")
	// ErrCorrupt: ReadFile and FileView.Verify, always inside a
	// *CorruptionError that says where.
	ErrCorrupt = errors.New("index: corrupt file")
	// ErrInvalidOptions: Options.Validate, Open and ReadFile, for a
	// geometry out of range.
	ErrInvalidOptions = errors.New("index: invalid options")
	// ErrNegativeOffset: Put and Truncate, for a negative commit-log
	// offset.
	ErrNegativeOffset = errors.New("index: negative physical offset")
)

// CorruptionError says where a file image breaks the format's rules. It
// wraps ErrCorrupt.
type CorruptionError struct {
	// Offset is the byte offset in the file of the offending field.
	Offset int64
	// Reason describes the problem.
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("index: corrupt file at byte %d: %s", e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptionError) Unwrap() error { return ErrCorrupt }

func corruptf(off int64, format string, args ...any) error {
	return &CorruptionError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}
