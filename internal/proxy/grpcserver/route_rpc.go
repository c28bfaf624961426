package grpcserver

import (
	"context"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/proto"
)

// acceptAll: topics carry no message.type attribute here, so every queue
// accepts the four types (as a MIXED topic).
var acceptAll = []pb.MessageType{pb.MessageType_NORMAL, pb.MessageType_FIFO, pb.MessageType_DELAY, pb.MessageType_TRANSACTION}

func permission(perm int32) pb.Permission {
	switch {
	case perm&permRead != 0 && perm&permWrite != 0:
		return pb.Permission_READ_WRITE
	case perm&permRead != 0:
		return pb.Permission_READ
	case perm&permWrite != 0:
		return pb.Permission_WRITE
	}
	return pb.Permission_NONE
}

// selfEndpoints is where clients reach the proxy: the endpoints they
// dialled (useEndpointPortFromRequest), which every broker of a route
// "is".
func selfEndpoints(e *pb.Endpoints) *pb.Endpoints {
	if e == nil || len(e.GetAddresses()) == 0 {
		return &pb.Endpoints{Scheme: pb.AddressScheme_IPv4, Addresses: []*pb.Address{{Host: "127.0.0.1", Port: 8081}}}
	}
	if e.Scheme == pb.AddressScheme_ADDRESS_SCHEME_UNSPECIFIED {
		cp := proto.Clone(e).(*pb.Endpoints)
		cp.Scheme = pb.AddressScheme_IPv4
		return cp
	}
	return e
}

// QueryRoute returns, per broker, queues 0..n-1 (read-only ones first, then
// write-only, then read-write, as RouteActivity numbers them), each naming
// the proxy as the broker's endpoint.
func (s *Service) QueryRoute(ctx context.Context, req *pb.QueryRouteRequest) (*pb.QueryRouteResponse, error) {
	if e := checkTopic(req.GetTopic()); e != nil {
		return &pb.QueryRouteResponse{Status: e}, nil
	}
	r, err := s.routes.get(ctx, req.GetTopic().GetName(), true)
	if err != nil {
		return &pb.QueryRouteResponse{Status: errStatus(err)}, nil
	}
	ep := selfEndpoints(req.GetEndpoints())
	var mqs []*pb.MessageQueue
	for _, q := range r.queues {
		if r.brokers[q.BrokerName] == "" {
			continue
		}
		b := &pb.Broker{Name: q.BrokerName, Id: 0, Endpoints: ep}
		add := func(id int32, p pb.Permission) {
			mqs = append(mqs, &pb.MessageQueue{Topic: req.GetTopic(), Id: id, Permission: p, Broker: b, AcceptMessageTypes: acceptAll})
		}
		rw := min(q.ReadQueueNums, q.WriteQueueNums)
		id := int32(0)
		if q.Perm&(permRead|permWrite) == 0 {
			n := max(q.ReadQueueNums, q.WriteQueueNums, 1)
			for i := int32(0); i < n; i++ {
				add(id, pb.Permission_NONE)
				id++
			}
			continue
		}
		for i := int32(0); i < q.ReadQueueNums-rw; i++ {
			add(id, permission(q.Perm&permRead))
			id++
		}
		for i := int32(0); i < q.WriteQueueNums-rw; i++ {
			add(id, permission(q.Perm&permWrite))
			id++
		}
		for i := int32(0); i < rw; i++ {
			add(id, permission(q.Perm))
			id++
		}
	}
	if len(mqs) == 0 {
		return &pb.QueryRouteResponse{Status: st(pb.Code_TOPIC_NOT_FOUND, "topic "+r.topic+" has no queue")}, nil
	}
	return &pb.QueryRouteResponse{Status: ok(), MessageQueues: mqs}, nil
}

// QueryAssignment gives a push consumer one assignment per readable broker
// (queue id -1: pop from all its queues), or one per queue for an orderly
// group.
func (s *Service) QueryAssignment(ctx context.Context, req *pb.QueryAssignmentRequest) (*pb.QueryAssignmentResponse, error) {
	if e := checkTopic(req.GetTopic()); e != nil {
		return &pb.QueryAssignmentResponse{Status: e}, nil
	}
	if e := checkGroup(req.GetGroup()); e != nil {
		return &pb.QueryAssignmentResponse{Status: e}, nil
	}
	r, err := s.routes.get(ctx, req.GetTopic().GetName(), true)
	if err != nil {
		return &pb.QueryAssignmentResponse{Status: errStatus(err)}, nil
	}
	orderly := s.groups.get(ctx, req.GetGroup().GetName()).Orderly
	ep := selfEndpoints(req.GetEndpoints())
	var as []*pb.Assignment
	for _, q := range r.queues {
		if q.Perm&permRead == 0 || q.ReadQueueNums <= 0 || r.brokers[q.BrokerName] == "" {
			continue
		}
		b := &pb.Broker{Name: q.BrokerName, Id: 0, Endpoints: ep}
		if !orderly {
			as = append(as, &pb.Assignment{MessageQueue: &pb.MessageQueue{
				Topic: req.GetTopic(), Id: -1, Permission: permission(q.Perm), Broker: b, AcceptMessageTypes: acceptAll,
			}})
			continue
		}
		for i := int32(0); i < q.ReadQueueNums; i++ {
			as = append(as, &pb.Assignment{MessageQueue: &pb.MessageQueue{
				Topic: req.GetTopic(), Id: i, Permission: permission(q.Perm), Broker: b, AcceptMessageTypes: acceptAll,
			}})
		}
	}
	if len(as) == 0 {
		return &pb.QueryAssignmentResponse{Status: st(pb.Code_FORBIDDEN, "no readable queue")}, nil
	}
	return &pb.QueryAssignmentResponse{Status: ok(), Assignments: as}, nil
}
