package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/broker/processor"
	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata"
	"github.com/quiver-mq/quiver/internal/offset"
	"github.com/quiver-mq/quiver/internal/pop"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/schedule"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/timer"
	"github.com/quiver-mq/quiver/internal/txn"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// Options configure a Broker. RocketMQ's broker.conf key is named next to
// each field; cmd/quiver maps the file onto them.
type Options struct {
	ClusterName string // brokerClusterName
	BrokerName  string // brokerName
	BrokerID    int64  // brokerId (0 = master)
	// NamesrvAddrs are the name servers to register with (namesrvAddr).
	NamesrvAddrs []string
	// ListenAddr is where to accept clients (":" + listenPort; use
	// "127.0.0.1:0" for a free port).
	ListenAddr string
	// AdvertiseIP is the address clients are told (brokerIP1); empty means
	// the listener's IP, or 127.0.0.1 for a wildcard listener.
	AdvertiseIP string
	// Store configures the message store (storePathRootDir, flushDiskType,
	// mappedFileSizeCommitLog, fileReservedTime, …).
	Store store.Options
	// AutoCreateTopic lets sends create unknown topics (autoCreateTopicEnable).
	AutoCreateTopic bool
	// AutoCreateSubscriptionGroup creates groups on first use
	// (autoCreateSubscriptionGroup).
	AutoCreateSubscriptionGroup bool
	// DefaultTopicQueueNums is the queue count of TBW102 and auto-created
	// topics (defaultTopicQueueNums).
	DefaultTopicQueueNums int
	// LongPolling holds empty pulls up to their suspend time
	// (longPollingEnable); otherwise for ShortPollingTime (shortPollingTimeMills).
	LongPolling      bool
	ShortPollingTime time.Duration
	// RegisterPeriod is registerNameServerPeriod (30 s).
	RegisterPeriod time.Duration
	// NotifyConsumerIDsChanged is notifyConsumerIdsChangedEnable.
	NotifyConsumerIDsChanged bool
	// Permission is brokerPermission (6 = read and write).
	Permission int
	// Transaction check-back (package txn; zero takes RocketMQ's default):
	// transactionCheckInterval (30 s), transactionTimeOut (6 s),
	// transactionCheckMax (15).
	TransactionCheckInterval time.Duration
	TransactionTimeout       time.Duration
	TransactionCheckMax      int
	// DelayLevels are the 18 delay levels (messageDelayLevel); nil means
	// RocketMQ's "1s 5s 10s 30s 1m … 2h".
	DelayLevels []time.Duration
	// FlushDelayOffsetInterval is flushDelayOffsetInterval (10 s).
	FlushDelayOffsetInterval time.Duration
	// EnablePropertyFilter allows SQL92 subscriptions (enablePropertyFilter).
	EnablePropertyFilter bool
	// LockMaxLive is how long an orderly consumer's queue lock lasts without
	// renewal (rocketmq.broker.rebalance.lockMaxLiveTime, 60 s).
	LockMaxLive time.Duration
	// Timer messages (package timer; zero takes its default):
	// timerWheelEnable (true), timerPrecisionMs (1000), timerMaxDelaySec
	// (40 days), timerRollWindowSlot × timerPrecisionMs (2 days),
	// timerFlushIntervalMs (1 s), recallMessageEnable (true).
	TimerWheelDisabled    bool
	TimerPrecisionMs      int64
	TimerMaxDelay         time.Duration
	TimerRollWindow       time.Duration
	TimerFlushInterval    time.Duration
	RecallMessageDisabled bool
	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns RocketMQ's broker defaults with the store at dir.
func DefaultOptions(dir string) Options {
	return Options{
		ClusterName: "DefaultCluster", BrokerName: "broker-a", ListenAddr: ":10911",
		Store: store.DefaultOptions(dir), AutoCreateSubscriptionGroup: true,
		DefaultTopicQueueNums: 8, LongPolling: true, ShortPollingTime: time.Second,
		RegisterPeriod: 30 * time.Second, NotifyConsumerIDsChanged: true, Permission: 6,
	}
}

// Broker is one running broker.
type Broker struct {
	opts           Options
	log            *slog.Logger
	store          *store.Store
	topics         *metadata.Topics
	groups         *metadata.Groups
	offsets        *offset.Store
	longPoll       *processor.LongPoll
	popPoll        *processor.PopPoll
	pop            *pop.Service
	proc           *processor.Processor
	srv            *remoting.Server
	client         *remoting.Client
	namesrvAddrs   []string
	addr, haAddr   string
	registerPeriod time.Duration
	topicsChanged  chan struct{}
	levels         []time.Duration
	sched          *schedule.Service
	timers         *timer.Service
	timerNotify    atomic.Pointer[timer.Service]
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	closeOnce      sync.Once
}

// New opens the broker's store and metadata (recovering after a crash) and
// prepares its server; Start begins serving.
func New(opts Options) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Store.FS == nil {
		opts.Store.FS = vfs.Default
	}
	if opts.RegisterPeriod <= 0 {
		opts.RegisterPeriod = 30 * time.Second
	}
	if opts.DefaultTopicQueueNums <= 0 {
		opts.DefaultTopicQueueNums = 8
	}
	if opts.Permission == 0 {
		opts.Permission = 6
	}
	b := &Broker{
		opts: opts, log: opts.Logger.With("broker", opts.BrokerName),
		namesrvAddrs: opts.NamesrvAddrs, registerPeriod: opts.RegisterPeriod,
		topicsChanged: make(chan struct{}, 1),
	}
	b.longPoll = processor.NewLongPoll()
	b.popPoll = processor.NewPopPoll()
	so := opts.Store
	so.Logger = b.log
	so.OnDispatch = func(topic string, queueID int32, off int64) {
		b.longPoll.Notify(topic, queueID, off)
		b.popPoll.Notify(topic, queueID, off)
		if t := b.timerNotify.Load(); t != nil {
			t.Notify(topic, queueID, off)
		}
	}
	b.levels = opts.DelayLevels
	if b.levels == nil {
		b.levels, _ = schedule.ParseLevels(schedule.DefaultLevels)
	}
	so.TagsCode = schedule.TagsCodeFunc(b.levels)
	var err error
	if b.store, err = store.Open(so); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	cfgDir := filepath.Join(so.Dir, "config")
	if err := so.FS.MkdirAll(cfgDir, 0o755); err != nil {
		b.store.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if b.topics, err = metadata.OpenTopics(so.FS, cfgDir, metadata.TopicDefaults{
		QueueNums: opts.DefaultTopicQueueNums, AutoCreate: opts.AutoCreateTopic,
		ClusterName: opts.ClusterName, BrokerName: opts.BrokerName,
	}); err != nil {
		b.store.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if b.groups, err = metadata.OpenGroups(so.FS, cfgDir, opts.AutoCreateSubscriptionGroup); err != nil {
		b.store.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if b.offsets, err = offset.Open(so.FS, cfgDir); err != nil {
		b.store.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if b.sched, err = schedule.New(b.store, schedule.Options{
		Levels: b.levels, Dir: cfgDir, FS: so.FS, Logger: b.log, Now: so.Now,
		FlushInterval: opts.FlushDelayOffsetInterval,
	}); err != nil {
		b.store.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if b.timers, err = timer.Open(b.store, timer.Options{
		Dir: so.Dir, FS: so.FS, Disabled: opts.TimerWheelDisabled, PrecisionMs: opts.TimerPrecisionMs,
		MaxDelay: opts.TimerMaxDelay, RollWindow: opts.TimerRollWindow, FlushInterval: opts.TimerFlushInterval,
		Now: so.Now, Logger: b.log,
	}); err != nil {
		b.store.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.timerNotify.Store(b.timers)
	return b, nil
}

// Start listens and begins serving and registering. It returns the bound
// address.
func (b *Broker) Start() (net.Addr, error) {
	clients := processor.NewClients(b.opts.NotifyConsumerIDsChanged, nil)
	tx, err := txn.New(txn.Options{
		BrokerName: b.opts.BrokerName, CheckInterval: b.opts.TransactionCheckInterval,
		Timeout: b.opts.TransactionTimeout, CheckMax: b.opts.TransactionCheckMax,
		FileReservedTime: b.opts.Store.FileReservedTime, PutHook: b.putHookLogged, Logger: b.log,
	}, b.store, b.offsets, processor.NewTransactionChecker(clients))
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.srv = remoting.NewServer(remoting.ServerOptions{
		Logger:  b.log,
		OnClose: clients.ConnClosed,
		// A frame holds at most a message body plus headers and properties.
		MaxFrame: max(b.opts.Store.MaxMessageSize, 4<<20) + 2<<20,
	})
	ln, err := b.srv.Listen(b.opts.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	tcp := ln.(*net.TCPAddr)
	ip := b.opts.AdvertiseIP
	if ip == "" {
		if a, ok := netip.AddrFromSlice(tcp.IP); ok && !a.Unmap().IsUnspecified() {
			ip = a.Unmap().String()
		} else {
			ip = "127.0.0.1"
		}
	}
	b.addr = net.JoinHostPort(ip, strconv.Itoa(tcp.Port))
	b.haAddr = net.JoinHostPort(ip, strconv.Itoa(tcp.Port+1))
	host, _ := netip.ParseAddrPort(b.addr)
	topicsChanged := func() {
		select {
		case b.topicsChanged <- struct{}{}:
		default:
		}
	}
	if b.pop, err = pop.Open(b.store, b.topics, b.groups, b.offsets, pop.Options{
		ClusterName: b.opts.ClusterName, BrokerName: b.opts.BrokerName, StoreHost: host,
		Dir: filepath.Join(b.opts.Store.Dir, "config"), FS: b.opts.Store.FS, TopicsChanged: topicsChanged,
		Wake: func(topic string, q int32) { b.popPoll.Notify(topic, q, 0) }, Now: b.opts.Store.Now, Logger: b.log,
	}); err != nil {
		b.srv.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.proc = processor.New(processor.Config{
		ClusterName: b.opts.ClusterName, BrokerName: b.opts.BrokerName, BrokerID: b.opts.BrokerID,
		StoreHost: host, AutoCreateTopic: b.opts.AutoCreateTopic,
		DefaultTopicQueueNums: b.opts.DefaultTopicQueueNums, MaxMessageSize: b.opts.Store.MaxMessageSize,
		LongPolling: b.opts.LongPolling, ShortPollingTime: b.opts.ShortPollingTime, Permission: b.opts.Permission,
		EnablePropertyFilter: b.opts.EnablePropertyFilter, RecallMessageDisabled: b.opts.RecallMessageDisabled,
		SyncFlush: b.opts.Store.FlushDiskType == store.SyncFlush,
	}, processor.Deps{
		Store: b.store, Topics: b.topics, Groups: b.groups, Offsets: b.offsets,
		Clients: clients, Locks: processor.NewLocks(b.opts.LockMaxLive, nil), LongPoll: b.longPoll, Txn: tx, Logger: b.log,
		PutHooks: []func(*message.Message) error{b.putHook}, Timers: b.timers,
		Pop: b.pop, PopPoll: b.popPoll, TopicsChanged: topicsChanged,
	})
	b.proc.Register(b.srv)
	b.client = remoting.NewClient(remoting.ClientOptions{Logger: b.log})
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(9)
	go func() { defer b.wg.Done(); b.pop.Run(ctx) }()
	go func() { defer b.wg.Done(); b.popPoll.Run(ctx) }()
	go func() { defer b.wg.Done(); tx.Run(ctx) }()
	go func() { defer b.wg.Done(); b.timers.Run(ctx) }()
	go func() {
		defer b.wg.Done()
		if err := b.sched.Run(ctx); err != nil {
			b.log.Error("delay offsets not written", "err", err)
		}
	}()
	go func() { defer b.wg.Done(); b.longPoll.Run(ctx) }()
	go func() { defer b.wg.Done(); b.proc.Run(ctx) }()
	go func() { defer b.wg.Done(); b.offsets.Run(ctx, 5*time.Second, b.log) }()
	go b.registerLoop(ctx)
	b.log.Info("broker started", "addr", b.addr, "cluster", b.opts.ClusterName, "namesrv", b.namesrvAddrs)
	return ln, nil
}

// Addr is the address clients are told ("ip:port").
func (b *Broker) Addr() string { return b.addr }

// Store is the broker's message store.
func (b *Broker) Store() *store.Store { return b.store }

// Close unregisters from the name servers, stops serving, persists offsets
// and metadata, and closes the store cleanly.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.srv != nil {
			// A start that failed part way (say, its port was taken) has
			// a server but may have no client or goroutines yet.
			if b.client != nil {
				b.unregisterAll()
			}
			if b.cancel != nil {
				b.cancel()
			}
			b.srv.Close()
			b.wg.Wait()
			if b.client != nil {
				b.client.Close()
			}
		}
		// The schedule's progress is written after the store's final flush,
		// which may make more of it durable.
		var errs []error
		if b.pop != nil {
			errs = append(errs, b.pop.Persist()) // revive progress goes into the offsets
		}
		errs = append(errs, b.offsets.Persist(), b.store.Close(), b.sched.Persist(), b.timers.Persist(), b.timers.Close())
		err = errors.Join(errs...)
	})
	return err
}

// ConsumerIDs lists the live client ids of a consumer group.
func (b *Broker) ConsumerIDs(group string) []string { return b.proc.Clients.ConsumerIDs(group) }

// CommittedOffset is a consumer group's stored offset on a queue.
func (b *Broker) CommittedOffset(group, topic string, queueID int32) (int64, bool) {
	return b.offsets.Query(group, topic, queueID)
}

// putHook is the store put hook: a message with a delay level goes to
// SCHEDULE_TOPIC_XXXX, a timer message to the timer wheel's topic.
func (b *Broker) putHook(m *message.Message) error {
	// Most messages carry neither a delay level (DELAY) nor a timer
	// (TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS): two scans of the
	// properties rule both out before any is parsed.
	if !bytes.Contains(m.Properties, delayName) && !bytes.Contains(m.Properties, timerPrefix) {
		return nil
	}
	if schedule.Redirect(m, b.levels) {
		return nil
	}
	_, err := b.timers.Rules().Transform(m, b.now())
	return err
}

var delayName, timerPrefix = []byte("DELAY"), []byte("TIMER_")

// putHookLogged is putHook for committed transactions, which cannot refuse:
// a timer the rules refuse is stored as an ordinary message.
func (b *Broker) putHookLogged(m *message.Message) {
	if err := b.putHook(m); err != nil {
		b.log.Warn("committed transactional message stored without its timer", "topic", m.Topic, "err", err)
	}
}

func (b *Broker) now() int64 {
	if b.opts.Store.Now != nil {
		return b.opts.Store.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// PopPolling is the number of parked pops and notifications.
func (b *Broker) PopPolling() int { return b.popPoll.Held() }

// Timers is the broker's timer wheel.
func (b *Broker) Timers() *timer.Service { return b.timers }
