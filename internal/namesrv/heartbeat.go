package namesrv

import (
	"context"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// brokerHeartbeat serves BROKER_HEARTBEAT (904), the light heartbeat of
// brokers in acting-master mode: it only refreshes liveness. An unknown
// broker is answered SUCCESS too; its next registration will count.
func (s *Server) brokerHeartbeat(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "broker heartbeat", req: req}
	key := routes.BrokerKey{Cluster: h.str("clusterName"), Addr: h.str("brokerAddr")}
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	s.write(func(t *routes.Table) { t.Heartbeat(key, s.opts.Now()) })
	return ok(req, nil)
}
