package namesrv

import (
	"context"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// registerBroker serves REGISTER_BROKER (103): a broker's full or
// incremental registration. The answer carries the master's address and HA
// address for a slave, and the ORDER_TOPIC_CONFIG KV list as its body.
func (s *Server) registerBroker(_ context.Context, c *remoting.Conn, req *protocol.Command) *protocol.Command {
	h := header{op: "register broker", req: req}
	r := routes.RegisterBrokerRequest{
		Cluster:      h.str("clusterName"),
		BrokerName:   h.str("brokerName"),
		BrokerAddr:   h.str("brokerAddr"),
		BrokerID:     h.int64("brokerId"),
		HAServerAddr: h.opt("haServerAddr"),
		ZoneName:     h.opt("__ZONE_NAME"),
	}
	if ms, set := h.optInt("heartbeatTimeoutMillis", 64); set && ms > 0 {
		r.HeartbeatTimeout = time.Duration(min(ms, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	}
	if v, set := h.optBool("enableActingMaster"); set {
		r.EnableActingMaster = &v
	}
	compressed, _ := h.optBool("compressed")
	crc, _ := h.optInt("bodyCrc32", 32)
	if h.err != nil {
		return errorResponse(req, h.err)
	}
	if crc != 0 && crc != int64(bodyCRC32(req.Body)) {
		return errorResponse(req, errCRC)
	}
	if compressed {
		return errorResponse(req, &requestError{op: "register broker " + r.BrokerAddr,
			msg: "compressed body not supported (set compressedRegister=false on the broker)"})
	}
	body, err := routes.DecodeRegisterBrokerBody(req.Body)
	if err != nil {
		return errorResponse(req, fmt.Errorf("namesrv: register broker %s: %w", r.BrokerAddr, err))
	}
	r.Body = body

	var (
		res       routes.RegisterBrokerResult
		orderConf map[string]string
		hasOrder  bool
	)
	s.write(func(t *routes.Table) {
		res, err = t.RegisterBroker(r, s.opts.Now())
		if err == nil && !res.Ignored {
			s.owners[routes.BrokerKey{Cluster: r.Cluster, Addr: r.BrokerAddr}] = c
		}
		orderConf, hasOrder = t.KVList(routes.NamespaceOrderTopicConfig)
	})
	if err != nil {
		s.log.Warn("broker registration refused", "broker", r.BrokerName, "id", r.BrokerID, "addr", r.BrokerAddr, "err", err)
		return errorResponse(req, err)
	}
	switch {
	case res.Ignored:
		s.log.Warn("broker registration ignored: another address holds its id with a newer state version",
			"cluster", r.Cluster, "broker", r.BrokerName, "id", r.BrokerID, "addr", r.BrokerAddr)
	case res.New:
		s.log.Info("broker registered", "cluster", r.Cluster, "broker", r.BrokerName, "id", r.BrokerID,
			"addr", r.BrokerAddr, "ha", r.HAServerAddr, "topics", len(body.TopicConfigTable))
	}

	resp := ok(req, nil)
	if res.HAServerAddr != "" {
		resp.SetExt("haServerAddr", res.HAServerAddr)
	}
	if res.MasterAddr != "" {
		resp.SetExt("masterAddr", res.MasterAddr)
	}
	if hasOrder {
		resp.Body = routes.AppendKVTableJSON(nil, orderConf)
	}
	return resp
}

// bodyCRC32 is UtilAll.crc32: CRC-32 (IEEE) with the sign bit cleared.
func bodyCRC32(b []byte) int32 {
	return int32(crc32.ChecksumIEEE(b) & 0x7FFFFFFF)
}
