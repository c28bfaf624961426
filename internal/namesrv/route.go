package namesrv

import (
	"context"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// faqSuffix is what RocketMQ appends to a TOPIC_NOT_EXIST remark
// (FAQUrl.suggestTodo(APPLY_TOPIC_URL)).
const faqSuffix = "\nSee https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details."

// getRouteInfoByTopic serves GET_ROUTEINFO_BY_TOPIC (105), the one request
// every client sends: the topic's TopicRouteData, in the JSON dialect the
// client's version calls for, or TOPIC_NOT_EXIST.
func (s *Server) getRouteInfoByTopic(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "get route", req: req}
	topic := h.str("topic")
	std, _ := h.optBool("acceptStandardJsonOnly")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var (
		r     routes.TopicRouteData
		found bool
	)
	s.read(func(t *routes.Table) { r, found = t.TopicRoute(topic) })
	if !found {
		return protocol.NewResponse(req, protocol.TopicNotExist,
			"No topic route info in name server for the topic: "+topic+faqSuffix)
	}
	return ok(req, routes.AppendTopicRouteJSON(nil, r, routes.EncodingFor(req.Version, std)))
}
