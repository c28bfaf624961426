package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// BrokerRole is a broker's replication role (brokerRole).
type BrokerRole string

// Broker roles.
const (
	AsyncMaster BrokerRole = "ASYNC_MASTER" // acknowledges before slaves copy
	SyncMaster  BrokerRole = "SYNC_MASTER"  // waits for a slave's copy
	Slave       BrokerRole = "SLAVE"
)

// IsMaster reports whether r is one of the master roles.
func (r BrokerRole) IsMaster() bool { return r == AsyncMaster || r == SyncMaster }

// FlushDiskType says when an append is acknowledged (flushDiskType).
type FlushDiskType string

// Flush disk types.
const (
	AsyncFlush FlushDiskType = "ASYNC_FLUSH" // once in the page cache
	SyncFlush  FlushDiskType = "SYNC_FLUSH"  // once fsync'ed
)

// DefaultMessageDelayLevel is RocketMQ's messageDelayLevel.
const DefaultMessageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// Broker is a broker's configuration (RocketMQ's BrokerConfig,
// NettyServerConfig and MessageStoreConfig, the keys Quiver uses). Each
// field names its key; durations name the unit the key is written in.
type Broker struct {
	// Identity and network.

	BrokerClusterName string     // brokerClusterName, "DefaultCluster"
	BrokerName        string     // brokerName: the host name's first label, else "broker-a"
	BrokerID          int64      // brokerId: 0 for a master, > 0 for a slave
	BrokerRole        BrokerRole // brokerRole, ASYNC_MASTER
	// NamesrvAddrs are the name servers (namesrvAddr, "h1:9876;h2:9876");
	// empty: none, the broker registers nowhere.
	NamesrvAddrs []string
	BindAddress  string // bindAddress, "0.0.0.0"
	ListenPort   int    // listenPort, 10911
	// BrokerIP1 is the address advertised to name servers and clients
	// (brokerIP1): by default the first non-loopback IPv4 address, else
	// 127.0.0.1.
	BrokerIP1 string
	// BrokerIP2 is the address slaves replicate from (brokerIP2); empty
	// means BrokerIP1 (see HAAddr).
	BrokerIP2 string
	// HAListenPort is the replication port (haListenPort); 0 means
	// ListenPort+1 (see HAPort).
	HAListenPort int
	// BrokerPermission is the broker's perm bits (brokerPermission, 6 =
	// read+write); topics are registered with their perm ANDed with it.
	BrokerPermission int
	// RegisterNameServerPeriod is the re-registration interval
	// (registerNameServerPeriod, ms, 30 s).
	RegisterNameServerPeriod time.Duration
	// RegisterBrokerTimeout bounds one registration
	// (registerBrokerTimeoutMills, ms, 24 s).
	RegisterBrokerTimeout time.Duration

	// Store.

	StorePathRootDir string // storePathRootDir, ~/store
	// StorePathCommitLog is the commit-log directory (storePathCommitLog);
	// empty means <StorePathRootDir>/commitlog (see CommitLogDir).
	StorePathCommitLog         string
	MappedFileSizeCommitLog    int           // mappedFileSizeCommitLog, bytes, 1 GiB
	MappedFileSizeConsumeQueue int           // mappedFileSizeConsumeQueue, bytes, 6,000,000 (a multiple of 20)
	MaxHashSlotNum             int           // maxHashSlotNum, 5,000,000
	MaxIndexNum                int           // maxIndexNum, 20,000,000
	FlushDiskType              FlushDiskType // flushDiskType, ASYNC_FLUSH
	FlushIntervalCommitLog     time.Duration // flushIntervalCommitLog, ms, 500 ms
	FlushIntervalConsumeQueue  time.Duration // flushIntervalConsumeQueue, ms, 1 s
	SyncFlushTimeout           time.Duration // syncFlushTimeout, ms, 5 s
	MaxMessageSize             int           // maxMessageSize, bytes, 4 MiB
	FileReservedTime           time.Duration // fileReservedTime, hours, 72 h
	DeleteWhen                 string        // deleteWhen, hours of the day, "04" or "04;05"
	DiskMaxUsedSpaceRatio      int           // diskMaxUsedSpaceRatio, percent, 75
	CleanFileForciblyEnable    bool          // cleanFileForciblyEnable, true

	// Topics and groups.

	AutoCreateTopicEnable       bool   // autoCreateTopicEnable, false (RocketMQ: true)
	AutoCreateSubscriptionGroup bool   // autoCreateSubscriptionGroup, true
	DefaultTopicQueueNums       int    // defaultTopicQueueNums, 8 (TBW102's queues)
	TraceTopicEnable            bool   // traceTopicEnable, false
	MsgTraceTopicName           string // msgTraceTopicName, "RMQ_SYS_TRACE_TOPIC"
	ReviveQueueNum              int    // reviveQueueNum, 8

	// Consumers.

	LongPollingEnable              bool          // longPollingEnable, true
	ShortPollingTime               time.Duration // shortPollingTimeMills, ms, 1 s
	NotifyConsumerIdsChangedEnable bool          // notifyConsumerIdsChangedEnable, true
	ChannelExpiredTimeout          time.Duration // channelExpiredTimeout, ms, 120 s
	FlushConsumerOffsetInterval    time.Duration // flushConsumerOffsetInterval, ms, 5 s
	EnablePropertyFilter           bool          // enablePropertyFilter (SQL92), false
	FilterSupportRetry             bool          // filterSupportRetry, false
	SlaveReadEnable                bool          // slaveReadEnable, false
	OffsetCheckInSlave             bool          // offsetCheckInSlave, false

	// Delay and timer messages.

	MessageDelayLevel        []time.Duration // messageDelayLevel, DefaultMessageDelayLevel
	FlushDelayOffsetInterval time.Duration   // flushDelayOffsetInterval, ms, 10 s
	TimerWheelEnable         bool            // timerWheelEnable, true
	TimerMaxDelay            time.Duration   // timerMaxDelaySec, s, 40 days (RocketMQ: 3), at most 1 year
	TimerPrecision           time.Duration   // timerPrecisionMs, ms, 1 s, at least 100 ms
	TimerRollWindowSlot      int64           // timerRollWindowSlot, slots; 0 = 2 days' worth
	TimerFlushInterval       time.Duration   // timerFlushIntervalMs, ms, 1 s
	RecallMessageEnable      bool            // recallMessageEnable, true (RocketMQ: false)

	// Transactions.

	RejectTransactionMessage bool          // rejectTransactionMessage, false
	TransactionTimeout       time.Duration // transactionTimeOut, ms, 6 s
	TransactionCheckMax      int           // transactionCheckMax, 15
	TransactionCheckInterval time.Duration // transactionCheckInterval, ms, 30 s
	TransactionOpMsgMaxSize  int           // transactionOpMsgMaxSize, 4096

	// Request/reply.

	StoreReplyMessageEnable bool // storeReplyMessageEnable, true
}

// DefaultBroker returns RocketMQ's defaults (with autoCreateTopicEnable
// off), taking brokerName, brokerIP1 and storePathRootDir from this host.
func DefaultBroker() Broker { return defaultBroker(lookupHost()) }

func defaultBroker(h host) Broker {
	delays, _ := ParseDelayLevels(DefaultMessageDelayLevel)
	return Broker{
		BrokerClusterName:        "DefaultCluster",
		BrokerName:               h.brokerName(),
		BrokerRole:               AsyncMaster,
		BindAddress:              "0.0.0.0",
		ListenPort:               10911,
		BrokerIP1:                h.ip(),
		BrokerPermission:         6,
		RegisterNameServerPeriod: 30 * time.Second,
		RegisterBrokerTimeout:    24 * time.Second,

		StorePathRootDir:           h.under("store"),
		MappedFileSizeCommitLog:    1 << 30,
		MappedFileSizeConsumeQueue: 300_000 * 20,
		MaxHashSlotNum:             5_000_000,
		MaxIndexNum:                20_000_000,
		FlushDiskType:              AsyncFlush,
		FlushIntervalCommitLog:     500 * time.Millisecond,
		FlushIntervalConsumeQueue:  time.Second,
		SyncFlushTimeout:           5 * time.Second,
		MaxMessageSize:             4 << 20,
		FileReservedTime:           72 * time.Hour,
		DeleteWhen:                 "04",
		DiskMaxUsedSpaceRatio:      75,
		CleanFileForciblyEnable:    true,

		AutoCreateSubscriptionGroup: true,
		DefaultTopicQueueNums:       8,
		MsgTraceTopicName:           "RMQ_SYS_TRACE_TOPIC",
		ReviveQueueNum:              8,

		LongPollingEnable:              true,
		ShortPollingTime:               time.Second,
		NotifyConsumerIdsChangedEnable: true,
		ChannelExpiredTimeout:          120 * time.Second,
		FlushConsumerOffsetInterval:    5 * time.Second,

		MessageDelayLevel:        delays,
		FlushDelayOffsetInterval: 10 * time.Second,
		TimerWheelEnable:         true,
		TimerMaxDelay:            40 * 24 * time.Hour,
		TimerPrecision:           time.Second,
		TimerFlushInterval:       time.Second,
		RecallMessageEnable:      true,

		TransactionTimeout:       6 * time.Second,
		TransactionCheckMax:      15,
		TransactionCheckInterval: 30 * time.Second,
		TransactionOpMsgMaxSize:  4096,

		StoreReplyMessageEnable: true,
	}
}

const (
	maxInt32 = 1<<31 - 1
	day      = 24 * time.Hour
)

// fields maps every key ParseBroker knows to its field of b.
func (b *Broker) fields() map[string]field {
	ms := time.Millisecond
	return map[string]field{
		"brokerClusterName":          nameField(&b.BrokerClusterName),
		"brokerName":                 nameField(&b.BrokerName),
		"brokerId":                   int64Field(&b.BrokerID, 0, 1<<62),
		"brokerRole":                 enumField(&b.BrokerRole, AsyncMaster, SyncMaster, Slave),
		"namesrvAddr":                addrListField(&b.NamesrvAddrs),
		"bindAddress":                hostField(&b.BindAddress, false),
		"listenPort":                 intField(&b.ListenPort, 1, 65535),
		"brokerIP1":                  hostField(&b.BrokerIP1, false),
		"brokerIP2":                  hostField(&b.BrokerIP2, true),
		"haListenPort":               intField(&b.HAListenPort, 0, 65535),
		"brokerPermission":           intField(&b.BrokerPermission, 0, 15),
		"registerNameServerPeriod":   durationField(&b.RegisterNameServerPeriod, ms, 1000, 3_600_000),
		"registerBrokerTimeoutMills": durationField(&b.RegisterBrokerTimeout, ms, 1, 3_600_000),

		"storePathRootDir":           nonEmptyField(&b.StorePathRootDir),
		"storePathCommitLog":         stringField(&b.StorePathCommitLog),
		"mappedFileSizeCommitLog":    intField(&b.MappedFileSizeCommitLog, 64<<10, maxInt32),
		"mappedFileSizeConsumeQueue": intField(&b.MappedFileSizeConsumeQueue, 20, maxInt32),
		"maxHashSlotNum":             intField(&b.MaxHashSlotNum, 1, maxInt32),
		"maxIndexNum":                intField(&b.MaxIndexNum, 1, maxInt32),
		"flushDiskType":              enumField(&b.FlushDiskType, AsyncFlush, SyncFlush),
		"flushIntervalCommitLog":     durationField(&b.FlushIntervalCommitLog, ms, 1, 3_600_000),
		"flushIntervalConsumeQueue":  durationField(&b.FlushIntervalConsumeQueue, ms, 1, 3_600_000),
		"syncFlushTimeout":           durationField(&b.SyncFlushTimeout, ms, 1, 3_600_000),
		"maxMessageSize":             intField(&b.MaxMessageSize, 1, maxInt32),
		"fileReservedTime":           durationField(&b.FileReservedTime, time.Hour, 0, 100*365*24),
		"deleteWhen":                 deleteWhenField(&b.DeleteWhen),
		"diskMaxUsedSpaceRatio":      intField(&b.DiskMaxUsedSpaceRatio, 10, 95),
		"cleanFileForciblyEnable":    boolField(&b.CleanFileForciblyEnable),

		"autoCreateTopicEnable":       boolField(&b.AutoCreateTopicEnable),
		"autoCreateSubscriptionGroup": boolField(&b.AutoCreateSubscriptionGroup),
		"defaultTopicQueueNums":       intField(&b.DefaultTopicQueueNums, 1, 65535),
		"traceTopicEnable":            boolField(&b.TraceTopicEnable),
		"msgTraceTopicName":           nameField(&b.MsgTraceTopicName),
		"reviveQueueNum":              intField(&b.ReviveQueueNum, 1, 65535),

		"longPollingEnable":              boolField(&b.LongPollingEnable),
		"shortPollingTimeMills":          durationField(&b.ShortPollingTime, ms, 1, 3_600_000),
		"notifyConsumerIdsChangedEnable": boolField(&b.NotifyConsumerIdsChangedEnable),
		"channelExpiredTimeout":          durationField(&b.ChannelExpiredTimeout, ms, 1000, 86_400_000),
		"flushConsumerOffsetInterval":    durationField(&b.FlushConsumerOffsetInterval, ms, 1, 3_600_000),
		"enablePropertyFilter":           boolField(&b.EnablePropertyFilter),
		"filterSupportRetry":             boolField(&b.FilterSupportRetry),
		"slaveReadEnable":                boolField(&b.SlaveReadEnable),
		"offsetCheckInSlave":             boolField(&b.OffsetCheckInSlave),

		"messageDelayLevel":        delayLevelsField(&b.MessageDelayLevel),
		"flushDelayOffsetInterval": durationField(&b.FlushDelayOffsetInterval, ms, 1, 3_600_000),
		"timerWheelEnable":         boolField(&b.TimerWheelEnable),
		"timerMaxDelaySec":         durationField(&b.TimerMaxDelay, time.Second, 1, int64(365*day/time.Second)),
		"timerPrecisionMs":         durationField(&b.TimerPrecision, ms, 100, 60_000),
		"timerRollWindowSlot":      int64Field(&b.TimerRollWindowSlot, 0, 1<<30),
		"timerFlushIntervalMs":     durationField(&b.TimerFlushInterval, ms, 10, 3_600_000),
		"recallMessageEnable":      boolField(&b.RecallMessageEnable),

		"rejectTransactionMessage": boolField(&b.RejectTransactionMessage),
		"transactionTimeOut":       durationField(&b.TransactionTimeout, ms, 1, 86_400_000),
		"transactionCheckMax":      intField(&b.TransactionCheckMax, 1, maxInt32),
		"transactionCheckInterval": durationField(&b.TransactionCheckInterval, ms, 1, 86_400_000),
		"transactionOpMsgMaxSize":  intField(&b.TransactionOpMsgMaxSize, 1, maxInt32),

		"storeReplyMessageEnable": boolField(&b.StoreReplyMessageEnable),
	}
}

// ParseBroker reads a broker.conf over DefaultBroker. Unknown and repeated
// keys come back as warnings; values that do not fit their key are
// reported together as *Error values (joined) wrapping ErrInvalidValue, a
// malformed escape as one wrapping ErrSyntax. A master's brokerId is forced
// to 0 with a warning, as RocketMQ's BrokerStartup does. ParseBroker checks
// each value alone; call Validate once flags are applied.
func ParseBroker(r io.Reader, source string) (Broker, []Warning, error) {
	return parseBroker(r, source, DefaultBroker())
}

func parseBroker(r io.Reader, source string, b Broker) (Broker, []Warning, error) {
	props, err := ParseProperties(r, source)
	if err != nil {
		return Broker{}, nil, err
	}
	warns, err := apply(props, source, b.fields())
	if err != nil {
		return Broker{}, warns, err
	}
	if b.BrokerRole.IsMaster() && b.BrokerID != 0 {
		line := 0
		for _, p := range props {
			if p.Key == "brokerId" {
				line = p.Line
			}
		}
		warns = append(warns, Warning{Source: source, Line: line, Key: "brokerId",
			Msg: fmt.Sprintf("%d ignored: a %s is broker 0", b.BrokerID, b.BrokerRole)})
		b.BrokerID = 0
	}
	return b, warns, nil
}

// Validate checks every setting by its key's rules and the settings that
// must agree: a slave needs brokerId > 0 and a master 0; a message must fit
// a commit-log segment; a consume-queue segment holds whole 20-byte units;
// the replication port differs from the listen port; the timer precision
// divides a second or a whole number of seconds. Errors are *Error values
// wrapping ErrInvalidValue, joined.
func (b Broker) Validate() error {
	errs := check(b.fields())
	switch {
	case b.BrokerRole == Slave && b.BrokerID <= 0:
		errs = append(errs, invalid("brokerId", "a SLAVE needs brokerId > 0, got %d", b.BrokerID))
	case b.BrokerRole.IsMaster() && b.BrokerID != 0:
		errs = append(errs, invalid("brokerId", "a %s is broker 0, got %d", b.BrokerRole, b.BrokerID))
	}
	if b.MaxMessageSize+64<<10 > b.MappedFileSizeCommitLog {
		errs = append(errs, invalid("maxMessageSize", "%d plus 64 KiB of headers does not fit a %d-byte commit-log segment (mappedFileSizeCommitLog)",
			b.MaxMessageSize, b.MappedFileSizeCommitLog))
	}
	if b.MappedFileSizeConsumeQueue%20 != 0 {
		errs = append(errs, invalid("mappedFileSizeConsumeQueue", "%d is not a multiple of the 20-byte unit", b.MappedFileSizeConsumeQueue))
	}
	if b.HAPort() == b.ListenPort {
		errs = append(errs, invalid("haListenPort", "%d is the listen port", b.HAPort()))
	}
	if p := b.TimerPrecision; p > 0 && time.Second%p != 0 && p%time.Second != 0 {
		errs = append(errs, invalid("timerPrecisionMs", "%v neither divides nor is a multiple of a second", p))
	}
	return errors.Join(errs...)
}

// CommitLogDir returns storePathCommitLog, or <storePathRootDir>/commitlog.
func (b Broker) CommitLogDir() string {
	if b.StorePathCommitLog != "" {
		return b.StorePathCommitLog
	}
	return filepath.Join(b.StorePathRootDir, "commitlog")
}

// ConfigDir returns <storePathRootDir>/config, where topics.json,
// subscriptionGroup.json and consumerOffset.json live.
func (b Broker) ConfigDir() string { return filepath.Join(b.StorePathRootDir, "config") }

// Addr returns brokerIP1:listenPort, the address registered with the name
// servers and used by clients.
func (b Broker) Addr() string { return net.JoinHostPort(b.BrokerIP1, strconv.Itoa(b.ListenPort)) }

// HAPort returns haListenPort, or listenPort+1 when it is 0.
func (b Broker) HAPort() int {
	if b.HAListenPort != 0 {
		return b.HAListenPort
	}
	return b.ListenPort + 1
}

// HAAddr returns brokerIP2:HAPort, brokerIP2 defaulting to brokerIP1: the
// address slaves replicate from.
func (b Broker) HAAddr() string {
	ip := b.BrokerIP2
	if ip == "" {
		ip = b.BrokerIP1
	}
	return net.JoinHostPort(ip, strconv.Itoa(b.HAPort()))
}
