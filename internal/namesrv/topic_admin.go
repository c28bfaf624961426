package namesrv

import (
	"context"
	"fmt"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// deleteTopic serves DELETE_TOPIC_IN_NAMESRV (216): removes a topic's
// route, or with clusterName only that cluster's part of it.
func (s *Server) deleteTopic(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "delete topic", req: req}
	topic, cluster := h.str("topic"), h.opt("clusterName")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var removed bool
	s.write(func(t *routes.Table) { removed = t.DeleteTopic(topic, cluster) })
	if removed {
		s.log.Info("topic deleted", "topic", topic, "cluster", cluster)
	}
	return ok(req, nil)
}

// registerTopic serves REGISTER_TOPIC_IN_NAMESRV (217): the queue data of
// the TopicRouteData body become the topic's route. As in RocketMQ, queue
// data naming an unknown broker is dropped (logged) and the answer is still
// SUCCESS.
func (s *Server) registerTopic(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "register topic", req: req}
	topic := h.str("topic")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	r, err := routes.DecodeTopicRouteData(req.Body)
	if err != nil {
		return errorResponse(req, fmt.Errorf("namesrv: register topic %s: %w", topic, err))
	}
	if len(r.QueueDatas) == 0 {
		return ok(req, nil)
	}
	s.write(func(t *routes.Table) { err = t.RegisterTopic(topic, r.QueueDatas) })
	if err != nil {
		s.log.Warn("topic registration dropped", "topic", topic, "err", err)
	}
	return ok(req, nil)
}
