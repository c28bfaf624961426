package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Serialize types (byte 0 of the header word).
const (
	SerializeJSON     byte = 0
	SerializeRocketMQ byte = 1
)

// Flag bits.
const (
	FlagResponse int32 = 1 << 0
	FlagOneway   int32 = 1 << 1
)

// Limits.
const (
	// DefaultMaxFrame is Java's frameMaxLength (16 MiB): LENGTH above it is
	// refused and the connection closed. (Netty counts the 4 LENGTH bytes
	// too, so Java's own limit is 4 bytes lower.)
	DefaultMaxFrame = 16 << 20
	// maxHeader is the largest header the 24-bit length can describe.
	maxHeader = 1<<24 - 1
)

// Language codes (J LanguageCode).
var languages = []string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS"}

// LanguageGo is what Quiver writes as its language.
const LanguageGo = "GO"

// Version is the MQVersion ordinal Quiver puts in the commands it creates
// (V5_3_3, as the Java broker of the reference snapshot).
const Version = 479

// Errors returned by Decode and DecodeLength.
var (
	// ErrFrame: the bytes are not a valid frame (Decode, DecodeLength).
	ErrFrame = errors.New("protocol: malformed frame")
	// ErrFrameTooLarge: LENGTH exceeds the limit (DecodeLength).
	ErrFrameTooLarge = errors.New("protocol: frame too large")
)

// Command is one RemotingCommand: a request or a response.
type Command struct {
	Code      int32 // request code, or response code in a response
	Language  string
	Version   int32
	Opaque    int32
	Flag      int32
	Remark    string
	ExtFields map[string]string
	Body      []byte

	// SerializeType is the header encoding read or to write (JSON unless set).
	SerializeType byte
}

// IsResponse reports whether c is a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether c is a one-way request.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// NewRequest returns a request with the given code and ext fields.
func NewRequest(code int32, ext map[string]string) *Command {
	return &Command{Code: code, Language: LanguageGo, Version: Version, ExtFields: ext}
}

// NewResponse returns the response to req with the given code and remark.
func NewResponse(req *Command, code int32, remark string) *Command {
	return &Command{
		Code: code, Language: LanguageGo, Version: Version, Opaque: req.Opaque,
		Flag: FlagResponse, Remark: remark, SerializeType: req.SerializeType,
	}
}

// pool holds released commands, each with its ext map, empty.
var pool sync.Pool

// maxPooledExt: a bigger ext map is not kept for reuse.
const maxPooledExt = 32

// Release gives c, with its ext map, for reuse by Decode and
// AcquireResponse. The caller must hold the only reference to c and to
// its ExtFields: nothing may use either afterwards. (Body and the strings
// are not reused.)
func Release(c *Command) {
	m := c.ExtFields
	if len(m) > maxPooledExt {
		m = nil
	}
	clear(m)
	*c = Command{ExtFields: m}
	pool.Put(c)
}

// newDecoded returns a zero command and an empty map for its ext fields,
// nil when there is none to reuse.
func newDecoded() (*Command, map[string]string) {
	c, _ := pool.Get().(*Command)
	if c == nil {
		return &Command{}, nil
	}
	m := c.ExtFields
	c.ExtFields = nil
	return c, m
}

// AcquireResponse is NewResponse with a released command, when there is
// one; its ExtFields is an empty map or nil.
func AcquireResponse(req *Command, code int32, remark string) *Command {
	c, m := newDecoded()
	*c = Command{
		Code: code, Language: LanguageGo, Version: Version, Opaque: req.Opaque,
		Flag: FlagResponse, Remark: remark, SerializeType: req.SerializeType, ExtFields: m,
	}
	return c
}

// Ext returns an ext field ("" when absent).
func (c *Command) Ext(key string) string { return c.ExtFields[key] }

// SetExt sets an ext field.
func (c *Command) SetExt(key, value string) {
	if c.ExtFields == nil {
		c.ExtFields = make(map[string]string)
	}
	c.ExtFields[key] = value
}

// AppendFrame appends c as a whole frame (LENGTH included) to dst. On error
// dst is returned unchanged.
func (c *Command) AppendFrame(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // LENGTH, HDRWORD
	var err error
	switch c.SerializeType {
	case SerializeJSON:
		dst = c.appendJSONHeader(dst)
	case SerializeRocketMQ:
		dst, err = c.appendBinaryHeader(dst)
	default:
		err = fmt.Errorf("protocol: unknown serialize type %d", c.SerializeType)
	}
	if err != nil {
		return dst[:start], err
	}
	h := len(dst) - start - 8
	if h > maxHeader {
		return dst[:start], fmt.Errorf("protocol: header of %d bytes exceeds 24 bits", h)
	}
	if n := h + 4 + len(c.Body); n > math.MaxInt32 {
		return dst[:start], fmt.Errorf("protocol: frame of %d bytes exceeds int32", n)
	}
	dst = append(dst, c.Body...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.SerializeType)<<24|uint32(h))
	return dst, nil
}

// appendJSONHeader writes the header as the Go client does (field order
// code, language, version, opaque, flag, remark, extFields; remark always
// present) with extFields keys sorted and every value a JSON string. The
// bytes are those encoding/json produces for the same struct.
func (c *Command) appendJSONHeader(dst []byte) []byte {
	lang := c.Language
	if lang == "" {
		lang = LanguageGo
	}
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, `,"language":`...)
	dst = appendJSONString(dst, lang)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"remark":`...)
	dst = appendJSONString(dst, c.Remark)
	if len(c.ExtFields) > 0 {
		dst = append(dst, `,"extFields":{`...)
		var arr [16]extField
		for i, f := range sortedExt(arr[:0], c.ExtFields) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, f.k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, f.v)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

type extField struct{ k, v string }

// sortedExt appends the entries of ext to dst sorted by key: one pass over
// the map, no lookups.
func sortedExt(dst []extField, ext map[string]string) []extField {
	for k, v := range ext {
		dst = append(dst, extField{k, v})
	}
	slices.SortFunc(dst, func(a, b extField) int { return strings.Compare(a.k, b.k) })
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json does
// (HTML-safe, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func languageCode(lang string) byte {
	if i := slices.Index(languages, lang); i >= 0 {
		return byte(i)
	}
	return 9 // GO
}

// appendBinaryHeader writes the ROCKETMQ header. Like Java, it leaves out
// ext entries with an empty key or value: the reader takes a zero-length
// string for null.
func (c *Command) appendBinaryHeader(dst []byte) ([]byte, error) {
	if c.Code != int32(int16(c.Code)) || c.Version != int32(int16(c.Version)) {
		return dst, fmt.Errorf("protocol: code %d or version %d does not fit the binary header's int16", c.Code, c.Version)
	}
	be := binary.BigEndian
	dst = be.AppendUint16(dst, uint16(c.Code))
	dst = append(dst, languageCode(c.Language))
	dst = be.AppendUint16(dst, uint16(c.Version))
	dst = be.AppendUint32(dst, uint32(c.Opaque))
	dst = be.AppendUint32(dst, uint32(c.Flag))
	dst = be.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	var arr [16]extField
	for _, f := range sortedExt(arr[:0], c.ExtFields) {
		k, v := f.k, f.v
		if k == "" || v == "" {
			continue
		}
		if len(k) > math.MaxInt16 {
			return dst, fmt.Errorf("protocol: ext key of %d bytes exceeds the binary header's int16", len(k))
		}
		dst = be.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = be.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	be.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	return dst, nil
}

// DecodeLength reads the LENGTH prefix of a frame and checks it against max.
func DecodeLength(b [4]byte, max int) (int, error) {
	n := int(int32(binary.BigEndian.Uint32(b[:])))
	if n < 4 {
		return 0, fmt.Errorf("%w: length %d below the 4-byte header word", ErrFrame, n)
	}
	if n > max {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	return n, nil
}

// Decode decodes a frame without its LENGTH prefix (HDRWORD, header, body),
// the LENGTH bytes that DecodeLength accepted. Body aliases b; everything
// else is copied.
func Decode(b []byte) (*Command, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, no header word", ErrFrame, len(b))
	}
	word := binary.BigEndian.Uint32(b)
	typ, h := byte(word>>24), int(word&0xFFFFFF)
	if h > len(b)-4 {
		return nil, fmt.Errorf("%w: header length %d with %d bytes left", ErrFrame, h, len(b)-4)
	}
	hdr := b[4 : 4+h]
	var c *Command
	var err error
	switch typ {
	case SerializeJSON:
		c, err = decodeJSONHeader(hdr)
	case SerializeRocketMQ:
		c, err = decodeBinaryHeader(hdr)
	default:
		err = fmt.Errorf("%w: unknown serialize type %d", ErrFrame, typ)
	}
	if err != nil {
		return nil, err
	}
	c.SerializeType = typ
	if body := b[4+h:]; len(body) > 0 {
		c.Body = body
	}
	return c, nil
}

// jsonHeader is the JSON header as decoded: loosely, because Java, the Go
// client and hand-written tools differ. Numbers may be quoted, language may
// be a name or a LanguageCode ordinal, remark may be null or absent, and
// extFields values that are not strings (numbers, booleans, objects) are
// kept as their JSON text.
type jsonHeader struct {
	Code      json.Number                `json:"code"`
	Language  json.RawMessage            `json:"language"`
	Version   json.Number                `json:"version"`
	Opaque    json.Number                `json:"opaque"`
	Flag      json.Number                `json:"flag"`
	Remark    *string                    `json:"remark"`
	ExtFields map[string]json.RawMessage `json:"extFields"`
}

func decodeJSONHeader(b []byte) (*Command, error) {
	if c, ok := decodeJSONFast(b); ok {
		return c, nil
	}
	return decodeJSONSlow(b)
}

// decodeJSONSlow decodes with encoding/json. It defines what a JSON header
// means; decodeJSONFast must agree with it wherever it answers.
func decodeJSONSlow(b []byte) (*Command, error) {
	var raw jsonHeader
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: json header: %v", ErrFrame, err)
	}
	c := &Command{}
	var err error
	num := func(n json.Number, name string) int32 {
		if n == "" || err != nil {
			return 0
		}
		v, perr := strconv.ParseInt(string(n), 10, 32)
		if perr != nil {
			err = fmt.Errorf("%w: json header: %s %q: %v", ErrFrame, name, n, perr)
		}
		return int32(v)
	}
	c.Code = num(raw.Code, "code")
	c.Version = num(raw.Version, "version")
	c.Opaque = num(raw.Opaque, "opaque")
	c.Flag = num(raw.Flag, "flag")
	if err != nil {
		return nil, err
	}
	c.Language = decodeJSONLanguage(raw.Language)
	if raw.Remark != nil {
		c.Remark = *raw.Remark
	}
	for k, v := range raw.ExtFields {
		var s string
		switch {
		case len(v) > 0 && v[0] == '"':
			s = unquoteJSON(v)
		case string(v) == "null":
			continue
		default:
			// A number, boolean, object or array, as it was written. Inner
			// strings may hold invalid UTF-8; repair it byte by byte, as
			// the encoder would.
			s = string(v)
			if !utf8.ValidString(s) {
				s = string([]rune(s))
			}
		}
		if c.ExtFields == nil {
			c.ExtFields = make(map[string]string, len(raw.ExtFields))
		}
		c.ExtFields[k] = s
	}
	return c, nil
}

// unquoteJSON returns the text of a JSON string that json.Unmarshal has
// already validated. Strings without escapes, the usual case, are copied
// as they are.
func unquoteJSON(v []byte) string {
	inner := v[1 : len(v)-1]
	if !slices.Contains(inner, '\\') && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "" // unreachable: v was validated
	}
	return s
}

// decodeJSONLanguage accepts a name ("GO") or an ordinal (9); anything else
// is "".
func decodeJSONLanguage(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	if v[0] == '"' {
		return unquoteJSON(v)
	}
	if i, err := strconv.Atoi(string(v)); err == nil && i >= 0 && i < len(languages) {
		return languages[i]
	}
	return ""
}

func decodeBinaryHeader(b []byte) (*Command, error) {
	r := reader{b: b}
	c, spare := newDecoded()
	c.Code = int32(int16(r.u16()))
	lang := int(r.u8())
	if lang < len(languages) {
		c.Language = languages[lang]
	} else {
		c.Language = "OTHER"
	}
	c.Version = int32(int16(r.u16()))
	c.Opaque = int32(r.u32())
	c.Flag = int32(r.u32())
	remark := r.take(int(int32(r.u32())))
	extAt := r.off
	ext := r.take(int(int32(r.u32())))
	if r.bad {
		return nil, fmt.Errorf("%w: binary header overruns its %d bytes", ErrFrame, len(b))
	}
	// One copy of the remark and ext fields as a string; the values are
	// its substrings rather than an allocation each.
	s := string(b[extAt-len(remark) : extAt+4+len(ext)])
	c.Remark = s[:len(remark)]
	s = s[len(remark)+4:] // ext, as a string
	// Java reads a key length as a signed int16 and a zero-length key or
	// value as null; entries with a null are skipped here.
	er := reader{b: ext}
	for er.off < len(ext) {
		k := er.take(int(int16(er.u16())))
		ko := er.off - len(k)
		v := er.take(int(int32(er.u32())))
		vo := er.off - len(v)
		if er.bad {
			return nil, fmt.Errorf("%w: binary ext fields overrun their %d bytes", ErrFrame, len(ext))
		}
		if len(k) > 0 && len(v) > 0 {
			if c.ExtFields == nil && spare != nil {
				c.ExtFields = spare
			} else if c.ExtFields == nil {
				c.ExtFields = make(map[string]string, min(16, 1+len(ext)/16))
			}
			c.ExtFields[s[ko:ko+len(k)]] = s[vo : vo+len(v)]
		}
	}
	if !utf8.ValidString(c.Remark) {
		c.Remark = strings.ToValidUTF8(c.Remark, "\uFFFD")
	}
	return c, nil
}

type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() byte {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}
