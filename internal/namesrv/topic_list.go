package namesrv

import (
	"context"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// getAllTopicList serves GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206): every
// topic with a route.
func (s *Server) getAllTopicList(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	var topics []string
	s.read(func(t *routes.Table) { topics = t.TopicList() })
	return ok(req, routes.AppendTopicListJSON(nil, topics, ""))
}

// getTopicsByCluster serves GET_TOPICS_BY_CLUSTER (224): the topics hosted
// by the broker groups of one cluster.
func (s *Server) getTopicsByCluster(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "get topics by cluster", req: req}
	cluster := h.str("cluster")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var topics []string
	s.read(func(t *routes.Table) { topics = t.TopicsByCluster(cluster) })
	return ok(req, routes.AppendTopicListJSON(nil, topics, ""))
}

// getSystemTopicList serves GET_SYSTEM_TOPIC_LIST_FROM_NS (304): cluster
// and broker names (brokers create topics of those names) and one broker
// address to ask for the rest.
func (s *Server) getSystemTopicList(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	var (
		topics []string
		addr   string
	)
	s.read(func(t *routes.Table) { topics, addr = t.SystemTopicList() })
	return ok(req, routes.AppendTopicListJSON(nil, topics, addr))
}
