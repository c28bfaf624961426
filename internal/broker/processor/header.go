package processor

import (
	"fmt"
	"strconv"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// fields reads typed ext fields with a sticky error naming the first bad
// one, so a handler checks once.
type fields struct {
	c   *protocol.Command
	err error
}

func (f *fields) str(key string) string { return f.c.Ext(key) }

func (f *fields) required(key string) string {
	v := f.c.Ext(key)
	if v == "" && f.err == nil {
		f.err = fmt.Errorf("the header field %s is missing", key)
	}
	return v
}

func (f *fields) int64(key string, def int64) int64 {
	v := f.c.Ext(key)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("the header field %s=%q is not a number", key, v)
	}
	return n
}

func (f *fields) int32(key string, def int32) int32 {
	v := f.c.Ext(key)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("the header field %s=%q is not a 32-bit number", key, v)
	}
	return int32(n)
}

func (f *fields) bool(key string) bool {
	v := f.c.Ext(key)
	if v == "" {
		return false // without ParseBool's error, an allocation
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// sendV2Names maps SendMessageRequestHeaderV2's letters to V1 names.
var sendV2Names = [...][2]string{
	{"a", "producerGroup"}, {"b", "topic"}, {"c", "defaultTopic"}, {"d", "defaultTopicQueueNums"},
	{"e", "queueId"}, {"f", "sysFlag"}, {"g", "bornTimestamp"}, {"h", "flag"}, {"i", "properties"},
	{"j", "reconsumeTimes"}, {"k", "unitMode"}, {"l", "maxReconsumeTimes"}, {"m", "batch"}, {"n", "brokerName"},
}

// sendHeader is SendMessageRequestHeader.
type sendHeader struct {
	ProducerGroup         string
	Topic                 string
	DefaultTopic          string
	DefaultTopicQueueNums int32
	QueueID               int32
	SysFlag               int32
	BornTimestamp         int64
	Flag                  int32
	Properties            string
	ReconsumeTimes        int32
	MaxReconsumeTimes     int32
	Batch                 bool
}

func decodeSendHeader(c *protocol.Command) (sendHeader, error) {
	ext := c.ExtFields
	if c.Code == protocol.SendMessageV2 || c.Code == protocol.SendBatchMessage || c.Code == protocol.SendReplyMessageV2 {
		v1 := make(map[string]string, len(ext))
		for _, p := range sendV2Names {
			if v, ok := ext[p[0]]; ok {
				v1[p[1]] = v
			}
		}
		c = &protocol.Command{ExtFields: v1}
	}
	f := fields{c: c}
	h := sendHeader{
		ProducerGroup:         f.str("producerGroup"),
		Topic:                 f.required("topic"),
		DefaultTopic:          f.str("defaultTopic"),
		DefaultTopicQueueNums: f.int32("defaultTopicQueueNums", 4),
		QueueID:               f.int32("queueId", 0),
		SysFlag:               f.int32("sysFlag", 0),
		BornTimestamp:         f.int64("bornTimestamp", 0),
		Flag:                  f.int32("flag", 0),
		Properties:            f.str("properties"),
		ReconsumeTimes:        f.int32("reconsumeTimes", 0),
		MaxReconsumeTimes:     f.int32("maxReconsumeTimes", 0),
		Batch:                 f.bool("batch"),
	}
	return h, f.err
}
