package namesrv

import (
	"context"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// unregisterBroker serves UNREGISTER_BROKER (104), sent by a broker
// shutting down. The broker is gone when the answer leaves.
func (s *Server) unregisterBroker(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "unregister broker", req: req}
	r := routes.UnregisterBrokerRequest{
		Cluster:    h.str("clusterName"),
		BrokerName: h.str("brokerName"),
		BrokerAddr: h.str("brokerAddr"),
		BrokerID:   h.int64("brokerId"),
	}
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var known bool
	s.write(func(t *routes.Table) {
		known = t.UnregisterBroker(r)
		delete(s.owners, r.Key())
	})
	if known {
		s.log.Info("broker unregistered", "cluster", r.Cluster, "broker", r.BrokerName, "id", r.BrokerID, "addr", r.BrokerAddr)
	}
	return ok(req, nil)
}
