package grpcserver

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// Remoting response codes the proxy maps that package protocol does not
// name (J ResponseCode).
const (
	codePollingFull    int32 = 209
	codePollingTimeout int32 = 210
)

func st(c pb.Code, msg string) *pb.Status { return &pb.Status{Code: c, Message: msg} }

func ok() *pb.Status { return st(pb.Code_OK, "OK") }

// remotingStatus maps a broker's response code (ResponseBuilder).
func remotingStatus(code int32, remark string) *pb.Status {
	switch code {
	case protocol.Success:
		return ok()
	case protocol.SystemBusy:
		return st(pb.Code_TOO_MANY_REQUESTS, remark)
	case protocol.RequestCodeNotSupported:
		return st(pb.Code_NOT_IMPLEMENTED, remark)
	case protocol.SubscriptionGroupNotExist:
		return st(pb.Code_CONSUMER_GROUP_NOT_FOUND, remark)
	case protocol.TopicNotExist:
		return st(pb.Code_TOPIC_NOT_FOUND, remark)
	case protocol.NoPermission:
		return st(pb.Code_FORBIDDEN, remark)
	}
	return st(pb.Code_INTERNAL_SERVER_ERROR, remark)
}

// errStatus maps an error of the proxy's own calls.
func errStatus(err error) *pb.Status {
	switch {
	case errors.Is(err, errTopicNotFound):
		return st(pb.Code_TOPIC_NOT_FOUND, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, remoting.ErrTimeout):
		return st(pb.Code_PROXY_TIMEOUT, err.Error())
	}
	return st(pb.Code_INTERNAL_SERVER_ERROR, err.Error())
}

var nameRE = regexp.MustCompile(`^[%|a-zA-Z0-9_-]+$`)

// systemTopic reports a topic clients may not use (TopicValidator).
func systemTopic(t string) bool {
	switch t {
	case autoCreateTopic, "SCHEDULE_TOPIC_XXXX", "BenchmarkTest", "RMQ_SYS_TRANS_HALF_TOPIC",
		"RMQ_SYS_TRACE_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC",
		"SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT":
		return true
	}
	return strings.HasPrefix(t, "rmq_sys_")
}

// checkTopic validates a topic resource (GrpcValidator.validateTopic).
func checkTopic(r *pb.Resource) *pb.Status {
	t := r.GetName()
	switch {
	case t == "":
		return st(pb.Code_ILLEGAL_TOPIC, "topic name cannot be blank")
	case len(t) > 127:
		return st(pb.Code_ILLEGAL_TOPIC, "topic name is longer than 127 characters")
	case !nameRE.MatchString(t):
		return st(pb.Code_ILLEGAL_TOPIC, "topic name "+t+" has characters outside [%|a-zA-Z0-9_-]")
	case systemTopic(t):
		return st(pb.Code_ILLEGAL_TOPIC, "topic "+t+" is a system topic")
	}
	return nil
}

// checkGroup validates a consumer group resource.
func checkGroup(r *pb.Resource) *pb.Status {
	g := r.GetName()
	switch {
	case g == "":
		return st(pb.Code_ILLEGAL_CONSUMER_GROUP, "consumer group cannot be blank")
	case len(g) > 120:
		return st(pb.Code_ILLEGAL_CONSUMER_GROUP, "consumer group is longer than 120 characters")
	case !nameRE.MatchString(g):
		return st(pb.Code_ILLEGAL_CONSUMER_GROUP, "consumer group "+g+" has characters outside [%|a-zA-Z0-9_-]")
	case strings.HasPrefix(g, "CID_RMQ_SYS_"):
		return st(pb.Code_ILLEGAL_CONSUMER_GROUP, "consumer group "+g+" is a system group")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// reservedProperties are system property keys a user property may not use.
var reservedProperties = map[string]bool{
	"KEYS": true, "TAGS": true, "WAIT": true, "DELAY": true, "RETRY_TOPIC": true, "REAL_TOPIC": true,
	"REAL_QID": true, "TRAN_MSG": true, "PGROUP": true, "MIN_OFFSET": true, "MAX_OFFSET": true,
	"BUYER_ID": true, "ORIGIN_MESSAGE_ID": true, "TRANSFER_FLAG": true, "CORRECTION_FLAG": true,
	"MQ2_FLAG": true, "RECONSUME_TIME": true, "MSG_REGION": true, "TRACE_ON": true, "UNIQ_KEY": true,
	"EXTEND_UNIQ_INFO": true, "MAX_RECONSUME_TIMES": true, "CONSUME_START_TIME": true,
	"INNER_NUM": true, "INNER_BASE": true, "CHECK_IMMUNITY_TIME_IN_SECONDS": true,
	"TRAN_PREPARED_QUEUE_OFFSET": true, "__transactionId__": true, "TRANSACTION_CHECK_TIMES": true,
	"INSTANCE_ID": true, "CORRELATION_ID": true, "REPLY_TO_CLIENT": true, "TTL": true,
	"ARRIVE_TIME": true, "PUSH_REPLY_TIME": true, "CLUSTER": true, "MSG_TYPE": true, "POP_CK": true,
	"POP_CK_OFFSET": true, "1ST_POP_TIME": true, "PROPERTY_FORWARD_QUEUE_ID": true, "REDIRECT": true,
	"INNER_MULTI_DISPATCH": true, "INNER_MULTI_QUEUE_OFFSET": true, "TIMER_DELAY_SEC": true,
	"TIMER_DELIVER_MS": true, "__BORNHOST": true, "BORN_TIMESTAMP": true, "TIMER_ENQUEUE_MS": true,
	"TIMER_DEQUEUE_MS": true, "TIMER_ROLL_TIMES": true, "TIMER_OUT_MS": true, "TIMER_DEL_UNIQKEY": true,
	"TIMER_DELAY_LEVEL": true, "TIMER_DELAY_MS": true, "__CRC32#": true, "DLQ_ORIGIN_TOPIC": true,
	"DLQ_ORIGIN_MESSAGE_ID": true,
}

// systemOnlyProperties are kept out of a delivered message's user
// properties (the reserved set; __SHARDINGKEY and TRACE_CONTEXT pass, as
// in Java).
func userProperty(k string) bool {
	return !reservedProperties[k] && !strings.HasPrefix(k, "__RMQ.TRANSIENT.")
}
