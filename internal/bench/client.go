package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// PULL_MESSAGE sysFlag bits (PullSysFlag.java).
const (
	pullCommitOffset = 1 << 0
	pullSuspend      = 1 << 1
	pullSubscription = 1 << 2
)

// Errors returned by the lean client.
var (
	// ErrNoBroker: the name server lists no master broker (Prepare).
	ErrNoBroker = errors.New("bench: no master broker registered with the name server")
	// ErrNoRoute: the topic has no route with queues after waiting (Prepare).
	ErrNoRoute = errors.New("bench: topic has no route")
)

// CodeError is a response with a code other than the one expected.
type CodeError struct {
	Request int32
	Code    int32
	Remark  string
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("bench: request %d answered code %d: %s", e.Request, e.Code, e.Remark)
}

// expect returns a check of an Invoke's result for request code req that
// accepts the response codes given.
func expect(req int32, codes ...int32) func(*protocol.Command, error) (*protocol.Command, error) {
	return func(resp *protocol.Command, err error) (*protocol.Command, error) {
		if err != nil {
			return nil, err
		}
		if !slices.Contains(codes, resp.Code) {
			return nil, &CodeError{Request: req, Code: resp.Code, Remark: resp.Remark}
		}
		return resp, nil
	}
}

// Queue is one message queue of the topic: the master broker that holds
// it and its id there.
type Queue struct {
	Addr string
	ID   int32
	// Broker is the broker's name (pop receipt handles carry it).
	Broker string
}

// Target is a topic ready for a run: its queues, in route order.
type Target struct {
	Namesrv string
	Topic   string
	Queues  []Queue
}

// masters returns the master address of every broker the name server knows.
func masters(ctx context.Context, cl *remoting.Client, namesrv string) ([]string, error) {
	r, err := expect(protocol.GetBrokerClusterInfo, protocol.Success)(cl.Invoke(ctx, namesrv, protocol.NewRequest(protocol.GetBrokerClusterInfo, nil)))
	if err != nil {
		return nil, fmt.Errorf("bench: cluster info: %w", err)
	}
	ci, err := routes.DecodeClusterInfo(r.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: cluster info: %w", err)
	}
	var addrs []string
	for _, bd := range ci.BrokerAddrTable {
		if a, ok := bd.Addrs[0]; ok {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, ErrNoBroker
	}
	slices.Sort(addrs)
	return addrs, nil
}

// createTopic sends UPDATE_AND_CREATE_TOPIC to a broker.
func createTopic(ctx context.Context, cl *remoting.Client, addr, topic string, queues int) error {
	q := strconv.Itoa(queues)
	req := protocol.NewRequest(protocol.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": q, "writeQueueNums": q,
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
	})
	_, err := expect(protocol.UpdateAndCreateTopic, protocol.Success)(cl.Invoke(ctx, addr, req))
	return err
}

// Route asks the name server for topic's route (GET_ROUTEINFO_BY_TOPIC) and
// lists its writable queues on master brokers.
func Route(ctx context.Context, cl *remoting.Client, namesrv, topic string) ([]Queue, error) {
	r, err := expect(protocol.GetRouteInfoByTopic, protocol.Success)(cl.Invoke(ctx, namesrv, protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic})))
	if err != nil {
		return nil, err
	}
	rd, err := routes.DecodeTopicRouteData(r.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: route of %s: %w", topic, err)
	}
	addr := make(map[string]string, len(rd.BrokerDatas))
	for _, bd := range rd.BrokerDatas {
		if a, ok := bd.Addrs[0]; ok {
			addr[bd.BrokerName] = a
		}
	}
	var qs []Queue
	for _, qd := range rd.QueueDatas {
		a, ok := addr[qd.BrokerName]
		if !ok || qd.Perm&routes.PermWrite == 0 {
			continue
		}
		for i := range qd.WriteQueueNums {
			qs = append(qs, Queue{Addr: a, ID: i, Broker: qd.BrokerName})
		}
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoRoute, topic)
	}
	return qs, nil
}

// Prepare creates topic with queues queues on every master broker and waits
// until the name server routes it.
func Prepare(ctx context.Context, namesrv, topic string, queues int) (*Target, error) {
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	addrs, err := masters(ctx, cl, namesrv)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := createTopic(ctx, cl, a, topic, queues); err != nil {
			return nil, fmt.Errorf("bench: create topic %s on %s: %w", topic, a, err)
		}
	}
	deadline := time.Now().Add(35 * time.Second) // a broker registers at least every 30 s
	for {
		qs, err := Route(ctx, cl, namesrv, topic)
		if err == nil && len(qs) >= queues*len(addrs) {
			return &Target{Namesrv: namesrv, Topic: topic, Queues: qs}, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%w: %s has %d queues, want %d", ErrNoRoute, topic, len(qs), queues*len(addrs))
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sendRequest builds a SEND_MESSAGE_V2 request (one-letter header fields);
// props are the message's properties, encoded.
func sendRequest(topic string, q Queue, body []byte, props string) *protocol.Command {
	return &protocol.Command{
		Code: protocol.SendMessageV2, Language: protocol.LanguageGo, Version: protocol.Version,
		ExtFields: map[string]string{
			"a": "quiver-bench", "b": topic, "c": "TBW102", "d": "4",
			"e": strconv.Itoa(int(q.ID)), "f": "0", "g": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"h": "0", "i": props, "j": "0", "k": "false",
		},
		Body: body,
	}
}

// send sends one message and waits for the broker's ack.
func send(ctx context.Context, c *remoting.Conn, topic string, q Queue, body []byte, props string) error {
	_, err := expect(protocol.SendMessageV2, protocol.Success)(c.Invoke(ctx, sendRequest(topic, q, body, props)))
	return err
}

// pulled is one message of a PULL_MESSAGE response.
type pulled struct {
	body        []byte // aliases the response
	queueOffset int64
}

// pullResult is what one PULL_MESSAGE returned.
type pullResult struct {
	msgs  []pulled
	next  int64
	found bool
}

// pull fetches up to batch messages of q from offset. With hold > 0 the
// broker holds the request up to hold when nothing is there (long polling).
func pull(ctx context.Context, c *remoting.Conn, group, topic string, q Queue, offset int64, batch int, hold time.Duration) (pullResult, error) {
	flag := pullSubscription
	if hold > 0 {
		flag |= pullSuspend
	}
	req := protocol.NewRequest(protocol.PullMessage, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(int(q.ID)),
		"queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": strconv.Itoa(batch),
		"sysFlag": strconv.Itoa(flag), "commitOffset": "0",
		"suspendTimeoutMillis": strconv.FormatInt(hold.Milliseconds(), 10),
		"subscription":         "*", "subVersion": "0", "expressionType": "TAG",
	})
	r, err := expect(protocol.PullMessage,
		protocol.Success, protocol.PullNotFound, protocol.PullRetryImmediately, protocol.PullOffsetMoved)(c.Invoke(ctx, req))
	if err != nil {
		return pullResult{}, err
	}
	res := pullResult{next: offset}
	if s := r.Ext("nextBeginOffset"); s != "" {
		if res.next, err = strconv.ParseInt(s, 10, 64); err != nil {
			return pullResult{}, fmt.Errorf("bench: nextBeginOffset %q: %w", s, err)
		}
	}
	if r.Code != protocol.Success {
		return res, nil
	}
	res.found = true
	for b := r.Body; len(b) > 0; {
		m, n, err := message.Decode(b, false)
		if err != nil {
			return pullResult{}, fmt.Errorf("bench: pulled record: %w", err)
		}
		res.msgs = append(res.msgs, pulled{body: m.Body, queueOffset: m.QueueOffset})
		b = b[n:]
	}
	return res, nil
}

func offsetRequest(code int32, group, topic string, q Queue, off int64) *protocol.Command {
	return protocol.NewRequest(code, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(int(q.ID)),
		"commitOffset": strconv.FormatInt(off, 10),
	})
}

// commit sends UPDATE_CONSUMER_OFFSET; one-way unless wait.
func commit(ctx context.Context, c *remoting.Conn, group, topic string, q Queue, off int64, wait bool) error {
	req := offsetRequest(protocol.UpdateConsumerOffset, group, topic, q, off)
	if !wait {
		return c.InvokeOneway(ctx, req)
	}
	_, err := expect(protocol.UpdateConsumerOffset, protocol.Success)(c.Invoke(ctx, req))
	return err
}

// committed reads a group's committed offset of q (QUERY_CONSUMER_OFFSET).
func committed(ctx context.Context, c *remoting.Conn, group, topic string, q Queue) (int64, error) {
	req := offsetRequest(protocol.QueryConsumerOffset, group, topic, q, 0)
	delete(req.ExtFields, "commitOffset")
	req.SetExt("setZeroIfNotFound", "false")
	r, err := c.Invoke(ctx, req)
	if err != nil {
		return 0, err
	}
	if r.Code == protocol.QueryNotFound {
		return 0, nil
	}
	if r.Code != protocol.Success {
		return 0, &CodeError{Request: req.Code, Code: r.Code, Remark: r.Remark}
	}
	return strconv.ParseInt(r.Ext("offset"), 10, 64)
}

// RouteOf looks up topic's queues through the name server at namesrv.
func RouteOf(ctx context.Context, namesrv, topic string) ([]Queue, error) {
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	return Route(ctx, cl, namesrv, topic)
}
