// Package config reads RocketMQ's configuration files (broker.conf,
// namesrv.conf: Java properties) into typed structs with RocketMQ's
// defaults. It sits just below cmd/quiver, next to the roles: cmd reads a
// file with ParseBroker or ParseNamesrv, applies flags, calls Validate and
// hands the struct to a role; the roles and everything below them never
// read files, flags or the environment themselves, and nothing below the
// roles imports this package.
//
// # Syntax
//
// ParseProperties follows java.util.Properties.load, which RocketMQ uses:
// "key=value", "key:value" or "key value"; lines whose first non-blank
// character is '#' or '!' are comments; a line ending in an odd number of
// backslashes continues on the next (whose leading blanks are dropped);
// \t \n \r \f \uXXXX and \<any> escapes. Unlike Java, values are trimmed at
// both ends (RocketMQ trims strings but fails silently on "8 " for a
// number) and the input is UTF-8, not ISO 8859-1.
//
// # Keys and values
//
// Keys are case-sensitive and named as RocketMQ names them (the Java
// setter's property: "listenPort", "brokerIP1"). A key Quiver does not know
// is not an error, since Java configs carry many tuning keys that have no
// meaning here: it comes back as a Warning for the caller to log, as does a
// key given twice (the last wins, as in Java). A value that does not fit its
// key (not a number, out of range, not one of an enum's names) is an *Error
// naming the file, line and key and wrapping ErrInvalidValue; RocketMQ
// ignores such values silently and keeps the default, which hides typos.
// All bad values of a file are reported at once.
//
// Durations are typed: a key in milliseconds ("flushIntervalCommitLog",
// "…Mills", "…Millis"), seconds or hours ("fileReservedTime") becomes a
// time.Duration; the field comments name each key's unit.
//
// Values derived from other keys (storePathCommitLog from
// storePathRootDir, haListenPort from listenPort, brokerIP2 from brokerIP1)
// stay empty unless set and are resolved by accessor methods
// (Broker.CommitLogDir, Broker.HAPort, Broker.HAAddr), so that flags
// applied after parsing are honoured.
//
// Nothing here is safe to mutate concurrently; the structs are plain
// values.
package config
