package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	// refused and the connection closed.
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

// Errors returned by Decode and ReadFrame.
var (
	// ErrFrame: the bytes are not a valid frame (Decode, ReadFrame).
	ErrFrame = errors.New("protocol: malformed frame")
	// ErrFrameTooLarge: LENGTH exceeds the limit (ReadFrame, DecodeLength).
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

// Ext returns an ext field ("" when absent).
func (c *Command) Ext(key string) string { return c.ExtFields[key] }

// SetExt sets an ext field.
func (c *Command) SetExt(key, value string) {
	if c.ExtFields == nil {
		c.ExtFields = make(map[string]string)
	}
	c.ExtFields[key] = value
}

// jsonHeader is the JSON header as the clients write it.
type jsonHeader struct {
	Code      int32             `json:"code"`
	Language  string            `json:"language"`
	Version   int32             `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int32             `json:"flag"`
	Remark    *string           `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
}

// AppendFrame appends c as a whole frame (LENGTH included) to dst.
func (c *Command) AppendFrame(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // LENGTH, HDRWORD
	var err error
	switch c.SerializeType {
	case SerializeJSON:
		dst, err = c.appendJSONHeader(dst)
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
	dst = append(dst, c.Body...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.SerializeType)<<24|uint32(h))
	return dst, nil
}

func (c *Command) appendJSONHeader(dst []byte) ([]byte, error) {
	lang := c.Language
	if lang == "" {
		lang = LanguageGo
	}
	h := jsonHeader{Code: c.Code, Language: lang, Version: c.Version, Opaque: c.Opaque, Flag: c.Flag, ExtFields: c.ExtFields}
	if c.Remark != "" {
		h.Remark = &c.Remark
	}
	b, err := json.Marshal(h)
	if err != nil {
		return dst, fmt.Errorf("protocol: encode json header: %w", err)
	}
	return append(dst, b...), nil
}

func languageCode(lang string) byte {
	if i := slices.Index(languages, lang); i >= 0 {
		return byte(i)
	}
	return 9 // GO
}

func (c *Command) appendBinaryHeader(dst []byte) ([]byte, error) {
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
	for _, k := range slices.Sorted(maps.Keys(c.ExtFields)) {
		v := c.ExtFields[k]
		if k == "" || len(k) > 0x7FFF {
			continue
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
// as ReadFrame returns it. Body aliases b.
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

func decodeJSONHeader(b []byte) (*Command, error) {
	// Decode loosely: values of extFields may be numbers or booleans from
	// lenient clients; they are kept as their text.
	var raw struct {
		Code      json.Number                `json:"code"`
		Language  any                        `json:"language"`
		Version   json.Number                `json:"version"`
		Opaque    json.Number                `json:"opaque"`
		Flag      json.Number                `json:"flag"`
		Remark    *string                    `json:"remark"`
		ExtFields map[string]json.RawMessage `json:"extFields"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
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
	switch l := raw.Language.(type) {
	case string:
		c.Language = l
	case json.Number:
		if i, perr := strconv.Atoi(string(l)); perr == nil && i >= 0 && i < len(languages) {
			c.Language = languages[i]
		}
	}
	if raw.Remark != nil {
		c.Remark = *raw.Remark
	}
	if len(raw.ExtFields) > 0 {
		c.ExtFields = make(map[string]string, len(raw.ExtFields))
		for k, v := range raw.ExtFields {
			var s string
			if json.Unmarshal(v, &s) == nil {
				c.ExtFields[k] = s
				continue
			}
			if string(v) == "null" {
				continue
			}
			c.ExtFields[k] = string(v)
		}
	}
	return c, nil
}

func decodeBinaryHeader(b []byte) (*Command, error) {
	r := reader{b: b}
	c := &Command{}
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
	c.Remark = string(r.take(int(int32(r.u32()))))
	extLen := int(int32(r.u32()))
	ext := r.take(extLen)
	if r.bad {
		return nil, fmt.Errorf("%w: binary header overruns its %d bytes", ErrFrame, len(b))
	}
	if len(ext) > 0 {
		c.ExtFields = make(map[string]string)
		er := reader{b: ext}
		for er.off < len(ext) && !er.bad {
			k := er.take(int(er.u16()))
			v := er.take(int(int32(er.u32())))
			if er.bad {
				return nil, fmt.Errorf("%w: binary ext fields overrun", ErrFrame)
			}
			if len(k) > 0 && len(v) > 0 {
				c.ExtFields[string(k)] = string(v)
			}
		}
	}
	if !utf8.ValidString(c.Remark) {
		c.Remark = string([]rune(c.Remark))
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
