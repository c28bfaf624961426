package namesrv

import (
	"context"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// putKVConfig serves PUT_KV_CONFIG (100).
func (s *Server) putKVConfig(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "put kv config", req: req}
	ns, key, value := h.str("namespace"), h.str("key"), h.opt("value")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	s.write(func(t *routes.Table) { t.PutKV(ns, key, value) })
	return ok(req, nil)
}

// getKVConfig serves GET_KV_CONFIG (101): ext value, or QUERY_NOT_FOUND.
func (s *Server) getKVConfig(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "get kv config", req: req}
	ns, key := h.str("namespace"), h.str("key")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var (
		value string
		found bool
	)
	s.read(func(t *routes.Table) { value, found = t.KV(ns, key) })
	if !found {
		return protocol.NewResponse(req, protocol.QueryNotFound, "No config item, Namespace: "+ns+" Key: "+key)
	}
	resp := ok(req, nil)
	resp.SetExt("value", value)
	return resp
}

// deleteKVConfig serves DELETE_KV_CONFIG (102).
func (s *Server) deleteKVConfig(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "delete kv config", req: req}
	ns, key := h.str("namespace"), h.str("key")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	s.write(func(t *routes.Table) { t.DeleteKV(ns, key) })
	return ok(req, nil)
}

// getKVListByNamespace serves GET_KVLIST_BY_NAMESPACE (219): a KVTable
// body, or QUERY_NOT_FOUND for a namespace never written.
func (s *Server) getKVListByNamespace(_ context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "get kv list", req: req}
	ns := h.str("namespace")
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	var (
		table map[string]string
		found bool
	)
	s.read(func(t *routes.Table) { table, found = t.KVList(ns) })
	if !found {
		return protocol.NewResponse(req, protocol.QueryNotFound, "No config item, Namespace: "+ns)
	}
	return ok(req, routes.AppendKVTableJSON(nil, table))
}
