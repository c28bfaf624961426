package namesrv

import (
	"context"
	"strconv"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// wipeWritePermOfBroker serves WIPE_WRITE_PERM_OF_BROKER (205): the
// broker group stops receiving messages (before maintenance); the answer's
// wipeTopicCount says how many topics it touched.
func (s *Server) wipeWritePermOfBroker(_ context.Context, c *remoting.Conn, req *protocol.Command) *protocol.Command {
	return s.editWritePerm(c, req, "wipe write permission", "wipeTopicCount", (*routes.Table).WipeWritePerm)
}

// addWritePermOfBroker serves ADD_WRITE_PERM_OF_BROKER (327), the undo of
// 205: every topic of the group becomes read-write (addTopicCount).
func (s *Server) addWritePermOfBroker(_ context.Context, c *remoting.Conn, req *protocol.Command) *protocol.Command {
	return s.editWritePerm(c, req, "add write permission", "addTopicCount", (*routes.Table).AddWritePerm)
}

func (s *Server) editWritePerm(c *remoting.Conn, req *protocol.Command, op, countField string,
	edit func(*routes.Table, string) int) *protocol.Command {
	h := header{op: op, req: req}
	name := h.str("brokerName")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var n int
	s.write(func(t *routes.Table) { n = edit(t, name) })
	s.log.Info(op, "broker", name, countField, n, "remote", c.RemoteAddr().String())
	resp := ok(req, nil)
	resp.SetExt(countField, strconv.Itoa(n))
	return resp
}
