package namesrv

import (
	"context"
	"fmt"
	"strconv"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// queryDataVersion serves QUERY_DATA_VERSION (322): a broker asks whether
// its topic config version differs from the one registered, and so whether
// it must register again. It also counts as a heartbeat.
func (s *Server) queryDataVersion(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "query data version", req: req}
	key := routes.BrokerKey{Cluster: h.str("clusterName"), Addr: h.str("brokerAddr")}
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	v, err := routes.DecodeDataVersion(req.Body)
	if err != nil {
		return errorResponse(req, fmt.Errorf("namesrv: query data version of %s: %w", key.Addr, err))
	}
	var (
		changed, found bool
		stored         routes.DataVersion
	)
	s.write(func(t *routes.Table) { changed, stored, found = t.QueryDataVersion(key, v, s.opts.Now()) })
	resp := ok(req, nil)
	resp.SetExt("changed", strconv.FormatBool(changed))
	if found {
		resp.Body = stored.AppendJSON(nil)
	}
	return resp
}
