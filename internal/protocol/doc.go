// Package protocol holds RocketMQ's Remoting wire format: the RemotingCommand
// frame and its JSON and ROCKETMQ (binary) headers, the request and response
// code tables, and the flag bits. It is pure: no sockets, no goroutines, no
// logging; internal/remoting moves frames over TCP.
//
// # Frame (frozen; big-endian)
//
//	+--------------+---------------------------+------------+-----------+
//	| int32 LENGTH | int32 HDRWORD             | header     | body      |
//	| = 4 + H + B  | byte 0: serialize type    | (H bytes)  | (B bytes) |
//	|              | bytes 1-3: H (24 bits)    |            |           |
//	+--------------+---------------------------+------------+-----------+
//
// Serialize type 0 is a JSON header:
//
//	{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"T"}}
//
// where every extFields value is a JSON string (the Go client drops a frame
// with a number there). Type 1 is the binary header: code int16, language
// byte, version int16, opaque int32, flag int32, remark (int32 length +
// UTF-8), extFields (int32 total length, then per entry int16 key length,
// key, int32 value length, value).
//
// Flag bit 0 marks a response, bit 1 a one-way request. A response carries
// its request's opaque.
//
// docs/format/remoting.md is the full description. In short: encoding
// appends to the caller's buffer and writes JSON as the Go client does
// (remark always present, extFields keys sorted, every value a string).
// Decoding is lenient where peers differ (quoted numbers, a language code
// instead of a name, numbers in extFields kept as their text) and strict
// about structure: a malformed frame is an error wrapping ErrFrame, never a
// panic. JSON headers are read by a small hand-written parser for the shapes
// clients send, falling back to encoding/json for anything else; fuzz tests
// keep the two in agreement.
//
// Concurrency: functions are pure; a Command may be read by many goroutines
// but not changed while another reads it.
package protocol
