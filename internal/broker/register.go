package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
)

// registerBody is RegisterBrokerBody (namesrv.md §7).
type registerBody struct {
	TopicConfigSerializeWrapper any      `json:"topicConfigSerializeWrapper"`
	FilterServerList            []string `json:"filterServerList"`
}

// registerLoop registers with every name server at start, every period,
// and whenever topics change.
func (b *Broker) registerLoop(ctx context.Context) {
	defer b.wg.Done()
	b.registerAll(ctx)
	t := time.NewTicker(b.registerPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.topicsChanged:
		}
		b.registerAll(ctx)
	}
}

func (b *Broker) registerAll(ctx context.Context) {
	body, err := json.Marshal(registerBody{TopicConfigSerializeWrapper: b.topics.SerializeWrapper(), FilterServerList: []string{}})
	if err != nil {
		b.log.Error("encode register body", "err", err)
		return
	}
	for _, addr := range b.namesrvAddrs {
		req := protocol.NewRequest(protocol.RegisterBroker, map[string]string{
			"brokerName":   b.opts.BrokerName,
			"brokerAddr":   b.addr,
			"clusterName":  b.opts.ClusterName,
			"haServerAddr": b.haAddr,
			"brokerId":     strconv.FormatInt(b.opts.BrokerID, 10),
			"compressed":   "false",
			"bodyCrc32":    strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)&0x7FFFFFFF), 10),
		})
		req.Body = body
		rctx, cancel := context.WithTimeout(ctx, 6*time.Second)
		r, err := b.client.Invoke(rctx, addr, req)
		cancel()
		switch {
		case err != nil:
			b.log.Warn("register with name server failed", "namesrv", addr, "err", err)
		case r.Code != protocol.Success:
			b.log.Warn("name server refused registration", "namesrv", addr, "code", r.Code, "remark", r.Remark)
		}
	}
}

func (b *Broker) unregisterAll() {
	for _, addr := range b.namesrvAddrs {
		req := protocol.NewRequest(protocol.UnregisterBroker, map[string]string{
			"brokerName":  b.opts.BrokerName,
			"brokerAddr":  b.addr,
			"clusterName": b.opts.ClusterName,
			"brokerId":    strconv.FormatInt(b.opts.BrokerID, 10),
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := b.client.Invoke(ctx, addr, req); err != nil {
			b.log.Warn("unregister from name server failed", "namesrv", addr, "err", fmt.Errorf("broker: %w", err))
		}
		cancel()
	}
}
