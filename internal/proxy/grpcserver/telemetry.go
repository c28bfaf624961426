package grpcserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// telemetryStream is one open Telemetry stream; sends are serialized.
type telemetryStream struct {
	mu     sync.Mutex
	stream pb.MessagingService_TelemetryServer
}

func (t *telemetryStream) send(cmd *pb.TelemetryCommand) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stream.Send(cmd)
}

// Telemetry keeps the client's settings and answers each Settings command
// with the full merged Settings; the server writes
// RecoverOrphanedTransactionCommands on it (checkTransactionState).
func (s *Service) Telemetry(stream pb.MessagingService_TelemetryServer) error {
	ctx := stream.Context()
	id := clientID(ctx)
	if id == "" {
		return status.Error(codes.InvalidArgument, "x-mq-client-id is required")
	}
	ts := &telemetryStream{stream: stream}
	s.clients.addStream(id, ts)
	defer func() {
		s.clients.removeStream(id, ts)
		if s.clients.settings(id) == nil {
			s.renew.dropClient(id) // the client is gone: its handles lapse
		}
	}()
	for {
		cmd, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch c := cmd.GetCommand().(type) {
		case *pb.TelemetryCommand_Settings:
			raw := c.Settings
			if raw.GetPubSub() == nil {
				return status.Error(codes.InvalidArgument, "settings carry neither publishing nor subscription")
			}
			s.clients.setSettings(id, raw)
			for _, e := range raw.GetSubscription().GetSubscriptions() {
				s.routes.get(ctx, e.GetTopic().GetName(), true) // learn the brokers
			}
			if raw.GetClientType() == pb.ClientType_PRODUCER {
				for _, t := range raw.GetPublishing().GetTopics() {
					s.routes.get(ctx, t.GetName(), true)
				}
				s.kickHeartbeat()
			}
			reply := &pb.TelemetryCommand{Status: ok(), Command: &pb.TelemetryCommand_Settings{Settings: s.merged(ctx, raw)}}
			if err := ts.send(reply); err != nil {
				return err
			}
		default:
			// Results of thread-stack and verify commands, which the
			// proxy never sends: nothing to do.
		}
	}
}

// Heartbeat answers OK for clients whose settings are known.
func (s *Service) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	id := clientID(ctx)
	if id == "" {
		return &pb.HeartbeatResponse{Status: st(pb.Code_CLIENT_ID_REQUIRED, "x-mq-client-id is required")}, nil
	}
	if s.clients.settings(id) == nil {
		return &pb.HeartbeatResponse{Status: st(pb.Code_UNRECOGNIZED_CLIENT_TYPE, "no settings received from client "+id)}, nil
	}
	if req.GetClientType() != pb.ClientType_PRODUCER && req.GetGroup() != nil {
		if e := checkGroup(req.GetGroup()); e != nil {
			return &pb.HeartbeatResponse{Status: e}, nil
		}
	}
	return &pb.HeartbeatResponse{Status: ok()}, nil
}

// NotifyClientTermination forgets the client.
func (s *Service) NotifyClientTermination(ctx context.Context, req *pb.NotifyClientTerminationRequest) (*pb.NotifyClientTerminationResponse, error) {
	id := clientID(ctx)
	if id == "" {
		return &pb.NotifyClientTerminationResponse{Status: st(pb.Code_CLIENT_ID_REQUIRED, "x-mq-client-id is required")}, nil
	}
	if !s.clients.remove(id) {
		return &pb.NotifyClientTerminationResponse{Status: st(pb.Code_UNRECOGNIZED_CLIENT_TYPE, "no settings received from client "+id)}, nil
	}
	return &pb.NotifyClientTerminationResponse{Status: ok()}, nil
}

func (s *Service) kickHeartbeat() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// heartbeatLoop registers the proxy on every broker as the producer of
// each topic its producer clients publish, so that brokers send their
// transaction checks to it.
func (s *Service) heartbeatLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.HeartbeatInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		s.heartbeat(ctx)
	}
}

func (s *Service) heartbeat(ctx context.Context) {
	topics := s.clients.producerTopics()
	if len(topics) == 0 {
		return
	}
	type group struct {
		GroupName string `json:"groupName"`
	}
	body := struct {
		ClientID        string  `json:"clientID"`
		ProducerDataSet []group `json:"producerDataSet"`
		ConsumerDataSet []any   `json:"consumerDataSet"`
	}{ClientID: s.id, ConsumerDataSet: []any{}}
	for _, t := range topics {
		body.ProducerDataSet = append(body.ProducerDataSet, group{t})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return
	}
	for _, addr := range s.routes.allBrokers() {
		req := protocol.NewRequest(protocol.HeartBeat, nil)
		req.Body = b
		resp, err := s.invoke(ctx, addr, req)
		if err != nil || resp.Code != protocol.Success {
			s.log.Warn("heartbeat to broker failed", "broker", addr, "err", err)
		}
	}
}

// checkTransactionState handles a broker's CHECK_TRANSACTION_STATE (39):
// it remembers where the half message lives and asks one producer client
// of the topic, over Telemetry, to resolve it.
func (s *Service) checkTransactionState(ctx context.Context, c *remoting.Conn, req *protocol.Command) *protocol.Command {
	m, _, err := message.Decode(req.Body, false)
	if err != nil {
		s.log.Warn("transaction check with a bad body", "err", err)
		return nil
	}
	props := message.DecodeProperties(m.Properties)
	topic := m.Topic
	if rt := props[message.PropertyRealTopic]; rt != "" {
		topic = rt
	}
	if pg := props["PGROUP"]; pg != "" {
		topic = pg // the proxy's producer group is the topic
	}
	txID := req.Ext("transactionId")
	if txID == "" {
		txID = props[message.PropertyUniqKey]
	}
	msgID := req.Ext("msgId")
	if msgID == "" {
		msgID = props[message.PropertyUniqKey]
	}
	tso, _ := strconv.ParseInt(req.Ext("tranStateTableOffset"), 10, 64)
	clo, _ := strconv.ParseInt(req.Ext("commitLogOffset"), 10, 64)
	s.txns.put(topic, txID, txnData{
		broker: c.RemoteAddr().String(), tranStateTableOffset: tso, commitLogOffset: clo,
		msgID: msgID, fromCheck: true,
	})
	pm := s.toProto(&m, props, "", deliveryInfo{})
	pm.Topic = &pb.Resource{Name: topic}
	cmd := &pb.TelemetryCommand{Status: ok(), Command: &pb.TelemetryCommand_RecoverOrphanedTransactionCommand{
		RecoverOrphanedTransactionCommand: &pb.RecoverOrphanedTransactionCommand{Message: pm, TransactionId: txID},
	}}
	for _, ts := range s.clients.producerStreams(topic) {
		if err := ts.send(cmd); err == nil {
			return nil
		}
	}
	s.log.Debug("transaction check: no producer connected", "topic", topic, "transactionId", txID)
	return nil
}
