package bench

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The gRPC side of the load generator: a thin client of
// apache.rocketmq.v2.MessagingService (the generated stubs the Go v5 SDK
// ships), not the SDK. Like the SDK it asks the proxy for the topic's route
// (QueryRoute), then sends one message per SendMessage call to the
// endpoints of the next writable queue, round-robin; unlike it, it sends no
// Telemetry settings or heartbeats and never retries: a call that fails or
// answers a status other than OK is a failed send, counted in
// Result.Errors. It speaks plaintext (the proxy tells TLS from plaintext by
// the first byte).

// ErrGRPCStatus: the proxy answered a status other than OK.
var ErrGRPCStatus = errors.New("bench: gRPC proxy answered")

// grpcClientVersion is what the client announces (x-mq-client-version).
const grpcClientVersion = "5.0.1-quiver-bench"

// statusError wraps a non-OK apis status.
func statusError(rpc string, s *pb.Status) error {
	return fmt.Errorf("%w %s to %s: %s", ErrGRPCStatus, s.GetCode(), rpc, s.GetMessage())
}

// CheckProxyAddr reports an address that is not HOST:PORT.
func CheckProxyAddr(addr string) error {
	if addr == "" {
		return errors.New("bench: the gRPC proxy address is required (--proxy HOST:PORT)")
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bench: gRPC proxy address %q: %w", addr, err)
	}
	if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("bench: gRPC proxy address %q: bad port", addr)
	}
	return nil
}

// grpcConn is one HTTP/2 connection to a proxy, with the headers a client
// sends on every call.
type grpcConn struct {
	addr string
	cc   *grpc.ClientConn
	c    pb.MessagingServiceClient
	ep   *pb.Endpoints // the address dialled, as QueryRoute wants it
	md   metadata.MD
}

var clientSeq atomic.Int64

// dialProxy prepares a connection to addr (grpc connects on first use).
func dialProxy(addr string) (*grpcConn, error) {
	if err := CheckProxyAddr(addr); err != nil {
		return nil, err
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("bench: gRPC proxy %s: %w", addr, err)
	}
	h, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	scheme := pb.AddressScheme_DOMAIN_NAME
	if ip := net.ParseIP(h); ip != nil {
		scheme = pb.AddressScheme_IPv4
		if ip.To4() == nil {
			scheme = pb.AddressScheme_IPv6
		}
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s@%d#quiver-bench#%d", host, os.Getpid(), clientSeq.Add(1))
	return &grpcConn{
		addr: addr, cc: cc, c: pb.NewMessagingServiceClient(cc),
		ep: &pb.Endpoints{Scheme: scheme, Addresses: []*pb.Address{{Host: h, Port: int32(port)}}},
		md: metadata.Pairs("x-mq-language", "GO", "x-mq-protocol", "v2", "x-mq-client-version", grpcClientVersion, "x-mq-client-id", id),
	}, nil
}

func (g *grpcConn) close() { g.cc.Close() }

// ctx adds the client's headers to ctx.
func (g *grpcConn) ctx(ctx context.Context) context.Context {
	return metadata.NewOutgoingContext(ctx, g.md)
}

// routeTimeout bounds a QueryRoute, which is also how an unreachable proxy
// shows up.
const routeTimeout = 10 * time.Second

// queues asks the proxy for topic's route and returns its writable (or
// readable) queues.
func (g *grpcConn) queues(ctx context.Context, topic string, write bool) ([]*pb.MessageQueue, error) {
	ctx, cancel := context.WithTimeout(ctx, routeTimeout)
	defer cancel()
	r, err := g.c.QueryRoute(g.ctx(ctx), &pb.QueryRouteRequest{Topic: &pb.Resource{Name: topic}, Endpoints: g.ep})
	if err != nil {
		return nil, fmt.Errorf("bench: gRPC proxy %s: route of %s: %w", g.addr, topic, err)
	}
	if r.GetStatus().GetCode() != pb.Code_OK {
		return nil, fmt.Errorf("bench: gRPC proxy %s: route of %s: %w", g.addr, topic, statusError("QueryRoute", r.GetStatus()))
	}
	want, kind := pb.Permission_READ, "readable"
	if write {
		want, kind = pb.Permission_WRITE, "writable"
	}
	var qs []*pb.MessageQueue
	for _, q := range r.GetMessageQueues() {
		if p := q.GetPermission(); p == want || p == pb.Permission_READ_WRITE {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%w: %s has no %s queue at the gRPC proxy %s", ErrNoRoute, topic, kind, g.addr)
	}
	return qs, nil
}

// msgIDs makes message ids as the v5 SDKs do (version "01", then a host
// part, the pid, seconds since 2021 and a counter, upper-case hex).
type msgIDs struct {
	prefix string
	epoch  time.Time
	seq    atomic.Uint32
}

func newMsgIDs() *msgIDs {
	var b [8]byte
	copy(b[:4], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(b[4:], uint16(time.Now().UnixNano()))
	binary.BigEndian.PutUint16(b[6:], uint16(os.Getpid()))
	return &msgIDs{prefix: "01" + strings.ToUpper(hex.EncodeToString(b[:])), epoch: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (m *msgIDs) next(now time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], uint32(now.Sub(m.epoch)/time.Second))
	binary.BigEndian.PutUint32(b[4:], m.seq.Add(1))
	return m.prefix + strings.ToUpper(hex.EncodeToString(b[:]))
}

// grpcProducer is one producer: its own connection, the route, and Window
// goroutines each with one SendMessage in flight, so that at most Window
// sends are unacknowledged (unary gRPC calls block; a goroutine per slot is
// the window).
type grpcProducer struct {
	conn   *grpcConn
	queues []*pb.MessageQueue
	rr     atomic.Uint64
	rec    *recorder
}

// ProduceGRPC runs cfg's producers against tgt.Topic through the gRPC
// proxy at proxy (see Config; Batch, Group and CommitEvery do not apply)
// and reports acked msg/s and send→ack latency measured by the client.
// The topic must exist (Prepare creates it over Remoting).
func ProduceGRPC(ctx context.Context, cfg Config, proxy string, tgt *Target) (Result, error) {
	cfg.fill()
	m := newMeter(cfg.Name, cfg.Size, cfg.Progress)
	prods, err := dialProducers(ctx, cfg, proxy, tgt.Topic, m)
	defer closeProducers(prods)
	if err != nil {
		return Result{}, err
	}
	m.begin()
	sch := newSchedule(cfg, m.start)
	st := runProducers(ctx, cfg, tgt.Topic, prods, sch)
	h, n, el := m.end()
	r := Result{Workload: cfg.Name, Topic: tgt.Topic, Errors: st.errs, Producers: cfg.Producers, Window: cfg.Window, Transport: TransportGRPC, FirstError: st.sample}
	r.setRate(n, el, cfg.Size)
	r.setLatency(h)
	if cfg.Rate > 0 {
		late := sch.late.Load()
		r.RateTarget, r.LateSends = cfg.Rate, &late
	}
	if st.fatal == nil && ctx.Err() != nil {
		st.fatal = ctx.Err()
	}
	return r, st.fatal
}

// dialProducers makes cfg.Producers producers, each with its own connection
// and the route asked on it (which also connects it before a clock starts).
func dialProducers(ctx context.Context, cfg Config, proxy, topic string, m *meter) ([]*grpcProducer, error) {
	var prods []*grpcProducer
	for range cfg.Producers {
		c, err := dialProxy(proxy)
		if err != nil {
			return prods, err
		}
		p := &grpcProducer{conn: c, rec: m.recorder()}
		prods = append(prods, p)
		if p.queues, err = c.queues(ctx, topic, true); err != nil {
			return prods, err
		}
	}
	return prods, nil
}

func closeProducers(prods []*grpcProducer) {
	for _, p := range prods {
		p.conn.close()
	}
}

// sendStats is how a gRPC run's sends went.
type sendStats struct {
	errs   int64  // failed sends
	sample string // the first failure
	fatal  error  // what ended the run early
}

// runProducers sends from Window goroutines per producer until sch ends.
func runProducers(ctx context.Context, cfg Config, topic string, prods []*grpcProducer, sch *schedule) sendStats {
	// Calls still unanswered drainTimeout after the schedule's end fail.
	rctx, cancel := context.WithDeadline(ctx, sch.deadline.Add(drainTimeout))
	defer cancel()
	eb := &errorBudget{what: "send", cancel: cancel}
	var wg sync.WaitGroup
	ids := newMsgIDs()
	host, _ := os.Hostname()
	for _, p := range prods {
		for range cfg.Window {
			wg.Go(func() { p.run(rctx, cfg, topic, host, sch, ids, eb.fail, &eb.fatal) })
		}
	}
	wg.Wait()
	return eb.stats()
}

// errorBudget counts a run's failures and keeps the first; past
// maxSendErrors it ends the run (cancel) with an error naming what failed.
type errorBudget struct {
	what   string // "send", "receive or ack"
	cancel context.CancelFunc
	count  atomic.Int64
	fatal  atomic.Bool // the run was ended
	mu     sync.Mutex
	st     sendStats
}

func (b *errorBudget) fail(err error) {
	n := b.count.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st.sample == "" {
		b.st.sample = err.Error()
	}
	if n > maxSendErrors && b.st.fatal == nil {
		b.st.fatal = fmt.Errorf("bench: too many %s errors, last: %w", b.what, err)
		b.fatal.Store(true)
		b.cancel()
	}
}

// stats returns what failed, once the run is over.
func (b *errorBudget) stats() sendStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.errs = b.count.Load()
	return st
}

// run is one slot of the window: take the next message, send it, wait for
// the answer, until the schedule ends.
func (p *grpcProducer) run(ctx context.Context, cfg Config, topic, host string, sch *schedule, ids *msgIDs, failed func(error), fatal *atomic.Bool) {
	body := payload(cfg.Size)
	res := &pb.Resource{Name: topic}
	cctx := p.conn.ctx(ctx)
	stamp := (sch.stamp || sch.interval > 0) && len(body) >= 16
	for ctx.Err() == nil {
		_, due, ok := sch.take()
		if !ok || ctx.Err() != nil {
			return
		}
		q := p.queues[p.rr.Add(1)%uint64(len(p.queues))]
		now := time.Now()
		if stamp {
			binary.LittleEndian.PutUint64(body, uint64(due.UnixNano()))
			binary.LittleEndian.PutUint64(body[8:], uint64(now.UnixNano()))
		}
		req := &pb.SendMessageRequest{Messages: []*pb.Message{{
			Topic: res, Body: body,
			SystemProperties: &pb.SystemProperties{
				MessageId: ids.next(now), BornTimestamp: timestamppb.New(now), BornHost: host,
				BodyEncoding: pb.Encoding_IDENTITY, MessageType: pb.MessageType_NORMAL, QueueId: q.GetId(),
			},
		}}}
		resp, err := p.conn.c.SendMessage(cctx, req)
		lat := time.Since(due)
		if err == nil {
			err = checkSend(resp)
		}
		if err != nil {
			if fatal.Load() {
				return
			}
			failed(fmt.Errorf("bench: gRPC send: %w", err))
			continue
		}
		p.rec.record(lat)
	}
}

// checkSend accepts a response only when it and its one entry are OK.
func checkSend(resp *pb.SendMessageResponse) error {
	if s := resp.GetStatus(); s.GetCode() != pb.Code_OK {
		return statusError("SendMessage", s)
	}
	es := resp.GetEntries()
	if len(es) != 1 {
		return fmt.Errorf("%w %d entries to SendMessage of one message", ErrGRPCStatus, len(es))
	}
	if s := es[0].GetStatus(); s.GetCode() != pb.Code_OK {
		return statusError("SendMessage", s)
	}
	return nil
}
