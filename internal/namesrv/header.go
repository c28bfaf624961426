package namesrv

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// header reads a request's ext fields the way RocketMQ decodes a custom
// header, with a sticky error checked once at the end.
// op names the request in error messages ("register broker").
type header struct {
	op  string
	req *protocol.Command
	err error
}

func (h *header) fail(format string, args ...any) {
	if h.err == nil {
		h.err = &requestError{op: h.op, msg: fmt.Sprintf(format, args...)}
	}
}

// requestError is a malformed header field; it matches errInvalid.
type requestError struct{ op, msg string }

func (e *requestError) Error() string        { return "namesrv: " + e.op + ": " + e.msg }
func (e *requestError) Is(target error) bool { return target == errInvalid }

// str returns a required, non-empty field.
func (h *header) str(key string) string {
	v := h.req.Ext(key)
	if v == "" {
		h.fail("missing header field %s", key)
	}
	return v
}

// opt returns an optional field ("" when absent).
func (h *header) opt(key string) string { return h.req.Ext(key) }

// int64 returns a required integer field (a Java Long).
func (h *header) int64(key string) int64 {
	v := h.str(key)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		h.fail("header field %s=%q is not an integer", key, v)
	}
	return n
}

// optInt returns an optional integer field of bitSize bits and whether it
// was present.
func (h *header) optInt(key string, bitSize int) (int64, bool) {
	v, present := h.req.ExtFields[key]
	if !present || v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, bitSize)
	if err != nil {
		h.fail("header field %s=%q is not a %d-bit integer", key, v, bitSize)
		return 0, false
	}
	return n, true
}

// optBool returns an optional boolean field, parsed as Java's
// Boolean.parseBoolean does (true only for "true", any case), and whether it
// was present.
func (h *header) optBool(key string) (value, present bool) {
	v, present := h.req.ExtFields[key]
	if !present || v == "" {
		return false, false
	}
	return strings.EqualFold(v, "true"), true
}
