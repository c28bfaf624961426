package namesrv

import (
	"context"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// getBrokerClusterInfo serves GET_BROKER_CLUSTER_INFO (106): every broker
// group and every cluster. RocketMQ always writes the legacy dialect here;
// Quiver answers clients of 4.9.4 or later (and those asking with
// acceptStandardJsonOnly) in standard JSON, which fastjson reads as well.
func (s *Server) getBrokerClusterInfo(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{req: req}
	std, _ := h.optBool("acceptStandardJsonOnly")
	var ci routes.ClusterInfo
	s.read(func(t *routes.Table) { ci = t.ClusterInfo() })
	return ok(req, routes.AppendClusterInfoJSON(nil, ci, routes.EncodingFor(req.Version, std)))
}
