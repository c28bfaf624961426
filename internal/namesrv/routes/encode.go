package routes

import (
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Encoding is the JSON dialect of a response body.
type Encoding uint8

const (
	// LegacyJSON writes broker id maps with bare numeric keys,
	// {0:"10.0.0.1:10911"}, as fastjson does by default. It is not valid
	// JSON; RocketMQ's Java name server answers it to clients older than
	// 4.9.4, the Go client v2.1.2 among them.
	LegacyJSON Encoding = iota
	// StandardJSON quotes every key: {"0":"10.0.0.1:10911"}.
	StandardJSON
)

// VersionStandardJSON is the client version (MQVersion ordinal of V4_9_4)
// from which routes are answered in StandardJSON.
const VersionStandardJSON = 401

// EncodingFor returns the dialect RocketMQ answers a route request in: a
// client of version VersionStandardJSON or later, or one that sent
// acceptStandardJsonOnly=true, gets StandardJSON; older clients get
// LegacyJSON.
func EncodingFor(version int32, acceptStandardJSONOnly bool) Encoding {
	if version >= VersionStandardJSON || acceptStandardJSONOnly {
		return StandardJSON
	}
	return LegacyJSON
}

// AppendTopicRouteJSON appends r as a TopicRouteData body:
//
//	{"brokerDatas":[…],"filterServerTable":{…},"queueDatas":[…]}
//
// with "orderTopicConf" between the last two when set.
func AppendTopicRouteJSON(dst []byte, r TopicRouteData, enc Encoding) []byte {
	dst = append(dst, `{"brokerDatas":[`...)
	for i, bd := range r.BrokerDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendBrokerData(dst, bd, enc)
	}
	dst = append(dst, `],"filterServerTable":{`...)
	for i, addr := range slices.Sorted(maps.Keys(r.FilterServerTable)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, addr)
		dst = append(dst, ':')
		dst = appendStrings(dst, r.FilterServerTable[addr])
	}
	dst = append(dst, '}')
	if r.OrderTopicConf != "" {
		dst = append(dst, `,"orderTopicConf":`...)
		dst = appendString(dst, r.OrderTopicConf)
	}
	dst = append(dst, `,"queueDatas":[`...)
	for i, qd := range r.QueueDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQueueData(dst, qd)
	}
	return append(dst, "]}"...)
}

// AppendClusterInfoJSON appends ci as a ClusterInfo body:
//
//	{"brokerAddrTable":{"<brokerName>":{BrokerData}},"clusterAddrTable":{"<cluster>":["<brokerName>"]}}
func AppendClusterInfoJSON(dst []byte, ci ClusterInfo, enc Encoding) []byte {
	dst = append(dst, `{"brokerAddrTable":{`...)
	for i, name := range slices.Sorted(maps.Keys(ci.BrokerAddrTable)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		dst = appendBrokerData(dst, ci.BrokerAddrTable[name], enc)
	}
	dst = append(dst, `},"clusterAddrTable":{`...)
	for i, c := range slices.Sorted(maps.Keys(ci.ClusterAddrTable)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, c)
		dst = append(dst, ':')
		dst = appendStrings(dst, slices.Sorted(slices.Values(ci.ClusterAddrTable[c])))
	}
	return append(dst, "}}"...)
}

// AppendTopicListJSON appends a TopicList body, {"topicList":[…]}, with
// "brokerAddr" first when it is not empty.
func AppendTopicListJSON(dst []byte, topics []string, brokerAddr string) []byte {
	dst = append(dst, '{')
	if brokerAddr != "" {
		dst = append(dst, `"brokerAddr":`...)
		dst = appendString(dst, brokerAddr)
		dst = append(dst, ',')
	}
	dst = append(dst, `"topicList":`...)
	dst = appendStrings(dst, topics)
	return append(dst, '}')
}

// AppendKVTableJSON appends a KVTable body, {"table":{"<key>":"<value>"}}.
func AppendKVTableJSON(dst []byte, table map[string]string) []byte {
	dst = append(dst, `{"table":`...)
	dst = appendStringMap(dst, table)
	return append(dst, '}')
}

// AppendJSON appends v as {"counter":…,"stateVersion":…,"timestamp":…}.
func (v DataVersion) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"counter":`...)
	dst = strconv.AppendInt(dst, v.Counter, 10)
	dst = append(dst, `,"stateVersion":`...)
	dst = strconv.AppendInt(dst, v.StateVersion, 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, v.Timestamp, 10)
	return append(dst, '}')
}

// AppendJSON appends b as a broker sends it (compressed=false):
//
//	{"filterServerList":[…],"topicConfigSerializeWrapper":{"dataVersion":{…},"topicConfigTable":{"<topic>":{TopicConfig}}}}
func (b RegisterBrokerBody) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"filterServerList":`...)
	dst = appendStrings(dst, b.FilterServerList)
	dst = append(dst, `,"topicConfigSerializeWrapper":{"dataVersion":`...)
	dst = b.DataVersion.AppendJSON(dst)
	dst = append(dst, `,"topicConfigTable":{`...)
	for i, name := range slices.Sorted(maps.Keys(b.TopicConfigTable)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		dst = b.TopicConfigTable[name].AppendJSON(dst)
	}
	return append(dst, "}}}"...)
}

// AppendJSON appends c as a TopicConfig object, fields sorted by name.
func (c TopicConfig) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"attributes":`...)
	dst = appendStringMap(dst, c.Attributes)
	dst = append(dst, `,"order":`...)
	dst = strconv.AppendBool(dst, c.Order)
	dst = append(dst, `,"perm":`...)
	dst = strconv.AppendInt(dst, int64(c.Perm), 10)
	dst = append(dst, `,"readQueueNums":`...)
	dst = strconv.AppendInt(dst, int64(c.ReadQueueNums), 10)
	dst = append(dst, `,"topicFilterType":`...)
	dst = appendString(dst, c.TopicFilterType)
	dst = append(dst, `,"topicName":`...)
	dst = appendString(dst, c.TopicName)
	dst = append(dst, `,"topicSysFlag":`...)
	dst = strconv.AppendInt(dst, int64(c.TopicSysFlag), 10)
	dst = append(dst, `,"writeQueueNums":`...)
	dst = strconv.AppendInt(dst, int64(c.WriteQueueNums), 10)
	return append(dst, '}')
}

// appendBrokerData appends bd; "brokerAddrs" is always present (the Go
// client's parser slices it without checking).
func appendBrokerData(dst []byte, bd BrokerData, enc Encoding) []byte {
	dst = append(dst, `{"brokerAddrs":{`...)
	for i, id := range slices.Sorted(maps.Keys(bd.Addrs)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		if enc == StandardJSON {
			dst = append(dst, '"')
		}
		dst = strconv.AppendInt(dst, id, 10)
		if enc == StandardJSON {
			dst = append(dst, '"')
		}
		dst = append(dst, ':')
		dst = appendString(dst, bd.Addrs[id])
	}
	dst = append(dst, `},"brokerName":`...)
	dst = appendString(dst, bd.BrokerName)
	dst = append(dst, `,"cluster":`...)
	dst = appendString(dst, bd.Cluster)
	dst = append(dst, `,"enableActingMaster":`...)
	dst = strconv.AppendBool(dst, bd.EnableActingMaster)
	if bd.ZoneName != "" {
		dst = append(dst, `,"zoneName":`...)
		dst = appendString(dst, bd.ZoneName)
	}
	return append(dst, '}')
}

func appendQueueData(dst []byte, qd QueueData) []byte {
	dst = append(dst, `{"brokerName":`...)
	dst = appendString(dst, qd.BrokerName)
	dst = append(dst, `,"perm":`...)
	dst = strconv.AppendInt(dst, int64(qd.Perm), 10)
	dst = append(dst, `,"readQueueNums":`...)
	dst = strconv.AppendInt(dst, int64(qd.ReadQueueNums), 10)
	dst = append(dst, `,"topicSysFlag":`...)
	dst = strconv.AppendInt(dst, int64(qd.TopicSysFlag), 10)
	dst = append(dst, `,"writeQueueNums":`...)
	dst = strconv.AppendInt(dst, int64(qd.WriteQueueNums), 10)
	return append(dst, '}')
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

func appendStringMap(dst []byte, m map[string]string) []byte {
	dst = append(dst, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does; nothing else is HTML-escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
