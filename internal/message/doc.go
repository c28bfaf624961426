// Package message holds RocketMQ's message record format: the bytes of one
// message as the commit log stores them and as PULL responses ship them.
//
// It is a pure package: no I/O, no logging, no goroutines. Encoders write into
// a caller's buffer; decoders read a byte slice through a sticky-error reader,
// never panic on bad input, and return slices that alias the input (the
// caller copies when it keeps them).
//
// # Record layout (frozen; big-endian)
//
//	+---------+-------------------------------------------------+
//	| offset  | field (IPv4 hosts; an IPv6 host adds 12 bytes)  |
//	+---------+-------------------------------------------------+
//	|  0      | TOTALSIZE        int32  whole record             |
//	|  4      | MAGICCODE        int32  V1 0xDAA320A7 / V2 ..AB  |
//	|  8      | BODYCRC          int32  crc32(body) & 0x7FFFFFFF |
//	| 12      | QUEUEID          int32                           |
//	| 16      | FLAG             int32                           |
//	| 20      | QUEUEOFFSET      int64                           |
//	| 28      | PHYSICALOFFSET   int64                           |
//	| 36      | SYSFLAG          int32                           |
//	| 40      | BORNTIMESTAMP    int64                           |
//	| 48      | BORNHOST         4+4 (v6: 16+4)                  |
//	| 56      | STORETIMESTAMP   int64                           |
//	| 64      | STOREHOST        4+4 (v6: 16+4)                  |
//	| 72      | RECONSUMETIMES   int32                           |
//	| 76      | PREPARED TX OFF  int64                           |
//	| 84      | BODYLENGTH int32 | BODY                          |
//	|         | TOPICLENGTH int8 (V1) or int16 (V2) | TOPIC      |
//	|         | PROPERTIESLENGTH int16 | PROPERTIES              |
//	+---------+-------------------------------------------------+
//
// V1 records carry a one-byte topic length; the 4.x Go client can only decode
// V1, so records are written as V1 unless the topic is longer than 127 bytes.
// A segment that cannot hold the next record ends with an 8-byte BLANK marker:
// [int32 bytes left in segment][int32 0xCBD43194].
//
// Decode accepts only records a RocketMQ writer can produce (see Decode), and
// every record it accepts encodes back to the same bytes.
//
// Properties are "name\x01value\x02" pairs (see EncodeProperties). docs/format/
// commitlog.md has the same layout with the rules around it.
package message
