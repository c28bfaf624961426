package processor

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata"
	"github.com/quiver-mq/quiver/internal/offset"
	"github.com/quiver-mq/quiver/internal/pop"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/timer"
	"github.com/quiver-mq/quiver/internal/txn"
)

// Config is what the handlers need to know about their broker.
type Config struct {
	ClusterName string
	BrokerName  string
	BrokerID    int64
	// StoreHost is this broker's address as clients reach it.
	StoreHost netip.AddrPort
	// AutoCreateTopic allows sends to create unknown topics (autoCreateTopicEnable).
	AutoCreateTopic bool
	// DefaultTopicQueueNums is the queue count of auto-created topics.
	DefaultTopicQueueNums int
	// MaxMessageSize bounds a message body (maxMessageSize).
	MaxMessageSize int
	// LongPolling holds pulls up to their suspend timeout (longPollingEnable);
	// otherwise for ShortPollingTime.
	LongPolling      bool
	ShortPollingTime time.Duration
	// Permission is the broker's perm (brokerPermission, 6 = read+write).
	Permission int
	// EnablePropertyFilter allows SQL92 subscriptions (enablePropertyFilter).
	EnablePropertyFilter bool
	// RecallMessageDisabled refuses RECALL_MESSAGE (recallMessageEnable=false;
	// Quiver enables recall by default).
	RecallMessageDisabled bool
	// SyncFlush: a send waits for the disk (flushDiskType=SYNC_FLUSH), so
	// sends always go through the send pool, where waits for one sync
	// overlap; otherwise a send may run on its connection's read goroutine.
	SyncFlush bool
}

// Deps are the services the handlers use.
type Deps struct {
	Store    *store.Store
	Topics   *metadata.Topics
	Groups   *metadata.Groups
	Offsets  *offset.Store
	Clients  *Clients
	Locks    *Locks
	LongPoll *LongPoll
	Txn      *txn.Service // END_TRANSACTION; nil answers it SYSTEM_ERROR
	Logger   *slog.Logger
	// Timers is the timer wheel (RECALL_MESSAGE, timer status and
	// reschedule); nil answers those SYSTEM_ERROR.
	Timers *timer.Service
	// Pop serves pop consumption and PopPoll parks pops that found nothing;
	// a nil Pop answers the pop codes SYSTEM_ERROR.
	Pop     *pop.Service
	PopPoll *PopPoll
	// PutHooks rewrite a message just before it is stored (delay levels,
	// timers, half messages); they run in order on every put, and an error
	// refuses the message.
	PutHooks []func(*message.Message) error
	// TopicsChanged is called after a topic is created or deleted, so the
	// broker re-registers with the name servers. It must not block.
	TopicsChanged func()
}

// Processor serves the broker's request codes.
type Processor struct {
	cfg Config
	Deps
	log      *slog.Logger
	started  time.Time
	uniqSeq  atomic.Int32
	sqlCache sync.Map // SQL92 expression → *filter.Expr
}

// New returns a processor.
func New(cfg Config, d Deps) *Processor {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Locks == nil {
		d.Locks = NewLocks(0, nil)
	}
	if d.TopicsChanged == nil {
		d.TopicsChanged = func() {}
	}
	if cfg.ShortPollingTime <= 0 {
		cfg.ShortPollingTime = time.Second
	}
	p := &Processor{cfg: cfg, Deps: d, log: d.Logger.With("component", "processor"), started: time.Now()}
	if d.LongPoll != nil {
		d.LongPoll.rerun = p.pullAgain
	}
	return p
}

// poolQueue is how many requests of a family may wait for a worker before
// the broker answers SYSTEM_BUSY (the client then retries elsewhere or
// later). A pool's queue is allocated whole when it is made, ~48 bytes a
// slot: Java's capacities (100,000 for pulls, acks and transactions, 50,000
// for heartbeats) took 22 MiB of a broker that otherwise idles in 20.
const poolQueue = 10000

// Register installs the handlers on srv, each family on its own pool.
func (p *Processor) Register(srv *remoting.Server) {
	// Under SYNC_FLUSH a send waits for its group commit, so the pool
	// bounds the group: as many workers as a pipelined producer keeps in
	// flight let one fdatasync answer them all (a waiting worker is a
	// parked goroutine).
	sendWorkers := 4
	if p.cfg.SyncFlush {
		sendWorkers = 256
	}
	send := srv.NewPool("send", sendWorkers, poolQueue)
	pull := srv.NewPool("pull", 8, poolQueue)
	admin := srv.NewPool("admin", 4, poolQueue)
	hb := srv.NewPool("heartbeat", 2, poolQueue)
	for code, h := range map[int32]remoting.Handler{
		protocol.SendReplyMessage:   p.reply,
		protocol.SendReplyMessageV2: p.reply,
	} {
		srv.Handle(code, send, h)
	}
	// A send takes microseconds under ASYNC_FLUSH: when nothing else waits,
	// the read goroutine runs it rather than wake a worker (one futex wake
	// less per request, which a closed-loop producer feels in every round
	// trip), and its request and response are reused (send keeps nothing
	// of them: the store copies the body before Put returns).
	handleSend := srv.HandleQuick
	if p.cfg.SyncFlush {
		handleSend = srv.Handle
	}
	for _, code := range []int32{protocol.SendMessage, protocol.SendMessageV2, protocol.SendBatchMessage} {
		handleSend(code, send, p.send)
	}
	srv.Handle(protocol.ConsumerSendMsgBack, send, p.consumerSendMsgBack)
	srv.Handle(protocol.PullMessage, pull, p.pull)
	srv.Handle(protocol.RecallMessage, send, p.recallMessage)
	// Acks have their own workers (Java's ackMessageExecutor): a pop may
	// wait briefly for a busy queue, and acks must not queue behind it.
	popPool := srv.NewPool("pop", 8, poolQueue)
	ackPool := srv.NewPool("ack", 8, poolQueue)
	for code, h := range map[int32]remoting.Handler{
		protocol.PopMessage: p.popMessage, protocol.Notification: p.notification,
	} {
		srv.Handle(code, popPool, h)
	}
	for code, h := range map[int32]remoting.Handler{
		protocol.AckMessage: p.ackMessage, protocol.BatchAckMessage: p.batchAckMessage,
		protocol.ChangeMessageInvisibleTime: p.changeInvisibleTime,
	} {
		srv.Handle(code, ackPool, h)
	}
	srv.Handle(protocol.EndTransaction, srv.NewPool("transaction", 8, poolQueue), p.endTransaction)
	for code, h := range map[int32]remoting.Handler{
		protocol.HeartBeat:              p.heartbeat,
		protocol.UnregisterClient:       p.unregisterClient,
		protocol.GetConsumerListByGroup: p.consumerList,
		protocol.CheckClientConfig:      p.checkClientConfig,
		protocol.LockBatchMQ:            p.lockBatch,
		protocol.UnlockBatchMQ:          p.unlockBatch,
	} {
		srv.Handle(code, hb, h)
	}
	for code, h := range map[int32]remoting.Handler{
		protocol.QueryConsumerOffset:           p.queryConsumerOffset,
		protocol.GetMaxOffset:                  p.getMaxOffset,
		protocol.GetMinOffset:                  p.getMinOffset,
		protocol.SearchOffsetByTimestamp:       p.searchOffsetByTimestamp,
		protocol.GetEarliestMsgStoreTime:       p.earliestMsgStoreTime,
		protocol.UpdateAndCreateTopic:          p.updateAndCreateTopic,
		protocol.DeleteTopicInBroker:           p.deleteTopic,
		protocol.GetAllTopicConfig:             p.allTopicConfig,
		protocol.UpdateAndCreateSubscription:   p.updateAndCreateGroup,
		protocol.DeleteSubscriptionGroup:       p.deleteGroup,
		protocol.GetAllSubscriptionGroupConfig: p.allGroups,
		protocol.QueryMessage:                  p.queryMessage,
		protocol.ViewMessageByID:               p.viewMessageByID,
		protocol.GetAllConsumerOffset:          p.allConsumerOffset,
		protocol.GetConsumerRunningInfo:        p.consumerRunningInfo,
		protocol.GetTopicStatsInfo:             p.topicStats,
		protocol.GetConsumeStats:               p.consumeStats,
		protocol.GetConsumerConnectionList:     p.consumerConnections,
		protocol.InvokeBrokerToResetOffset:     p.resetOffset,
		protocol.QuiverTimerStatus:             p.timerStatus,
		protocol.QuiverTimerReschedule:         p.timerReschedule,
	} {
		srv.Handle(code, admin, h)
	}
	// A consumer commits offsets as often as every message (one-way), and
	// the commit is a map update: run it on the read goroutine when nothing
	// waits. It keeps only strings of the request.
	srv.HandleQuick(protocol.UpdateConsumerOffset, admin, p.updateConsumerOffset)
}

// Run runs the long-polling service and expires silent clients until ctx
// ends.
func (p *Processor) Run(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Clients.Expire(120 * time.Second)
		}
	}
}

func resp(req *protocol.Command, code int32, remark string) *protocol.Command {
	return protocol.NewResponse(req, code, remark)
}

func success(req *protocol.Command) *protocol.Command {
	return protocol.NewResponse(req, protocol.Success, "")
}

// quickSuccess is success for the HandleQuick routes: a reused command,
// given back once written.
func quickSuccess(req *protocol.Command) *protocol.Command {
	return protocol.AcquireResponse(req, protocol.Success, "")
}
