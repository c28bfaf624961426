package config

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func testHost() host { return host{name: "mq-1.example.com", home: "/home/mq", ipv4: "10.0.0.9"} }

func testBroker() Broker { return defaultBroker(testHost()) }

func parse(t *testing.T, conf string) (Broker, []Warning) {
	t.Helper()
	b, warns, err := parseBroker(strings.NewReader(conf), "broker.conf", testBroker())
	if err != nil {
		t.Fatalf("parse %q: %v", conf, err)
	}
	return b, warns
}

func TestDefaultBroker(t *testing.T) {
	want := Broker{
		BrokerClusterName:        "DefaultCluster",
		BrokerName:               "mq-1",
		BrokerRole:               AsyncMaster,
		BindAddress:              "0.0.0.0",
		ListenPort:               10911,
		BrokerIP1:                "10.0.0.9",
		BrokerPermission:         6,
		RegisterNameServerPeriod: 30 * time.Second,
		RegisterBrokerTimeout:    24 * time.Second,

		StorePathRootDir:           "/home/mq/store",
		MappedFileSizeCommitLog:    1073741824,
		MappedFileSizeConsumeQueue: 6000000,
		MaxHashSlotNum:             5000000,
		MaxIndexNum:                20000000,
		FlushDiskType:              AsyncFlush,
		FlushIntervalCommitLog:     500 * time.Millisecond,
		FlushIntervalConsumeQueue:  1000 * time.Millisecond,
		SyncFlushTimeout:           5000 * time.Millisecond,
		MaxMessageSize:             4194304,
		FileReservedTime:           72 * time.Hour,
		DeleteWhen:                 "04",
		DiskMaxUsedSpaceRatio:      75,
		CleanFileForciblyEnable:    true,

		AutoCreateTopicEnable:       false,
		AutoCreateSubscriptionGroup: true,
		DefaultTopicQueueNums:       8,
		MsgTraceTopicName:           "RMQ_SYS_TRACE_TOPIC",
		ReviveQueueNum:              8,

		LongPollingEnable:              true,
		ShortPollingTime:               1000 * time.Millisecond,
		NotifyConsumerIdsChangedEnable: true,
		ChannelExpiredTimeout:          120 * time.Second,
		FlushConsumerOffsetInterval:    5 * time.Second,

		MessageDelayLevel: []time.Duration{
			time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
			time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute,
			6 * time.Minute, 7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute,
			20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
		},
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
	if got := testBroker(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\ngot  %+v\nwant %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	b := testBroker()
	if b.CommitLogDir() != "/home/mq/store/commitlog" || b.ConfigDir() != "/home/mq/store/config" ||
		b.HAPort() != 10912 || b.Addr() != "10.0.0.9:10911" || b.HAAddr() != "10.0.0.9:10912" {
		t.Errorf("derived: %s %s %d %s %s", b.CommitLogDir(), b.ConfigDir(), b.HAPort(), b.Addr(), b.HAAddr())
	}
	// The real host gives a usable broker too.
	if err := DefaultBroker().Validate(); err != nil {
		t.Errorf("DefaultBroker on this host: %v", err)
	}
}

func TestBrokerNameFromHost(t *testing.T) {
	for name, want := range map[string]string{
		"mq-1.example.com": "mq-1",
		"MQ_HOST":          "MQ_HOST",
		"host+weird":       "host-weird",
		"":                 "broker-a",
		".":                "broker-a",
		"---":              "broker-a",
		"ünïcode":          "n--code",
	} {
		if got := (host{name: name}).brokerName(); got != want {
			t.Errorf("brokerName(%q) = %q, want %q", name, got, want)
		}
	}
	if got := (host{}).ip(); got != "127.0.0.1" {
		t.Errorf("ip without interfaces = %q", got)
	}
}

// RocketMQ's distribution conf/broker.conf loads without warnings.
func TestParseDistributionBrokerConf(t *testing.T) {
	b, warns := parse(t, `# Licensed to the Apache Software Foundation (ASF) under one or more
# contributor license agreements.
brokerClusterName = DefaultCluster
brokerName = broker-a
brokerId = 0
deleteWhen = 04
fileReservedTime = 48
brokerRole = ASYNC_MASTER
flushDiskType = ASYNC_FLUSH
`)
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if b.BrokerName != "broker-a" || b.FileReservedTime != 48*time.Hour || b.BrokerRole != AsyncMaster {
		t.Errorf("%+v", b)
	}
}

// One case per kind of key; TestEveryKeyParsesItsOwnValue covers the rest.
func TestParseBrokerKeys(t *testing.T) {
	tests := []struct {
		line string
		want func(*Broker)
	}{
		{"brokerClusterName=Prod", func(b *Broker) { b.BrokerClusterName = "Prod" }},
		{"brokerName=broker-b", func(b *Broker) { b.BrokerName = "broker-b" }},
		{"brokerRole=SLAVE\nbrokerId=2", func(b *Broker) { b.BrokerRole, b.BrokerID = Slave, 2 }},
		{"brokerRole=SLAVE", func(b *Broker) { b.BrokerRole = Slave }},
		{"brokerRole=sync_master", func(b *Broker) { b.BrokerRole = SyncMaster }},
		{"namesrvAddr=10.0.0.1:9876; 10.0.0.2:9876;", func(b *Broker) { b.NamesrvAddrs = []string{"10.0.0.1:9876", "10.0.0.2:9876"} }},
		{"namesrvAddr=ns.example.com:9876", func(b *Broker) { b.NamesrvAddrs = []string{"ns.example.com:9876"} }},
		{"namesrvAddr=", func(b *Broker) { b.NamesrvAddrs = nil }},
		{"listenPort=20911", func(b *Broker) { b.ListenPort = 20911 }},
		{"brokerIP1=192.168.1.5", func(b *Broker) { b.BrokerIP1 = "192.168.1.5" }},
		{"brokerIP1=mq.example.com", func(b *Broker) { b.BrokerIP1 = "mq.example.com" }},
		{"brokerIP2=192.168.1.6", func(b *Broker) { b.BrokerIP2 = "192.168.1.6" }},
		{"haListenPort=30912", func(b *Broker) { b.HAListenPort = 30912 }},
		{"brokerPermission=4", func(b *Broker) { b.BrokerPermission = 4 }},
		{"storePathRootDir=/data/store", func(b *Broker) { b.StorePathRootDir = "/data/store" }},
		{"storePathCommitLog=/fast/commitlog", func(b *Broker) { b.StorePathCommitLog = "/fast/commitlog" }},
		{"mappedFileSizeCommitLog=104857600", func(b *Broker) { b.MappedFileSizeCommitLog = 100 << 20 }},
		{"mappedFileSizeConsumeQueue=60000", func(b *Broker) { b.MappedFileSizeConsumeQueue = 60000 }},
		{"flushDiskType=SYNC_FLUSH", func(b *Broker) { b.FlushDiskType = SyncFlush }},
		{"flushIntervalCommitLog=200", func(b *Broker) { b.FlushIntervalCommitLog = 200 * time.Millisecond }},
		{"syncFlushTimeout=+3000", func(b *Broker) { b.SyncFlushTimeout = 3 * time.Second }},
		{"fileReservedTime=0", func(b *Broker) { b.FileReservedTime = 0 }},
		{"deleteWhen=04;05", func(b *Broker) { b.DeleteWhen = "04;05" }},
		{"diskMaxUsedSpaceRatio=90", func(b *Broker) { b.DiskMaxUsedSpaceRatio = 90 }},
		{"maxMessageSize=1048576", func(b *Broker) { b.MaxMessageSize = 1 << 20 }},
		{"autoCreateTopicEnable=true", func(b *Broker) { b.AutoCreateTopicEnable = true }},
		{"autoCreateSubscriptionGroup=FALSE", func(b *Broker) { b.AutoCreateSubscriptionGroup = false }},
		{"defaultTopicQueueNums=4", func(b *Broker) { b.DefaultTopicQueueNums = 4 }},
		{"traceTopicEnable=true", func(b *Broker) { b.TraceTopicEnable = true }},
		{"msgTraceTopicName=MyTrace", func(b *Broker) { b.MsgTraceTopicName = "MyTrace" }},
		{"longPollingEnable=false", func(b *Broker) { b.LongPollingEnable = false }},
		{"shortPollingTimeMills=500", func(b *Broker) { b.ShortPollingTime = 500 * time.Millisecond }},
		{"flushConsumerOffsetInterval=1000", func(b *Broker) { b.FlushConsumerOffsetInterval = time.Second }},
		{"enablePropertyFilter=true", func(b *Broker) { b.EnablePropertyFilter = true }},
		{"messageDelayLevel=1s 1m 1h 1d", func(b *Broker) {
			b.MessageDelayLevel = []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour}
		}},
		{"timerMaxDelaySec=60", func(b *Broker) { b.TimerMaxDelay = time.Minute }},
		{"transactionTimeOut=3000", func(b *Broker) { b.TransactionTimeout = 3 * time.Second }},
		{"transactionCheckMax=5", func(b *Broker) { b.TransactionCheckMax = 5 }},
		{"transactionCheckInterval=60000", func(b *Broker) { b.TransactionCheckInterval = time.Minute }},
		{"registerNameServerPeriod=10000", func(b *Broker) { b.RegisterNameServerPeriod = 10 * time.Second }},
		{"storeReplyMessageEnable=false", func(b *Broker) { b.StoreReplyMessageEnable = false }},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, warns := parse(t, tt.line)
			want := testBroker()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if len(warns) != 0 {
				t.Errorf("warnings %v", warns)
			}
		})
	}
}

// Every key reads back what it writes, and writing a whole Broker as a
// file and reading it gives the same Broker.
func TestEveryKeyParsesItsOwnValue(t *testing.T) {
	b := testBroker()
	b.BrokerIP2, b.HAListenPort, b.StorePathCommitLog = "10.0.0.10", 10999, "/x/commitlog"
	b.NamesrvAddrs = []string{"a:1", "b:2"}
	var conf strings.Builder
	for _, key := range slices.Sorted(maps.Keys(b.fields())) {
		f := b.fields()[key]
		conf.WriteString(key + " = " + f.get() + "\n")
		got, _ := parse(t, key+"="+f.get())
		if key != "brokerIP2" && key != "haListenPort" && key != "storePathCommitLog" && key != "namesrvAddr" &&
			!reflect.DeepEqual(got, testBroker()) {
			t.Errorf("%s=%s changed the defaults: %+v", key, f.get(), got)
		}
	}
	got, _ := parse(t, conf.String())
	if !reflect.DeepEqual(got, b) {
		t.Errorf("round trip\ngot  %+v\nwant %+v", got, b)
	}
}

func TestParseBrokerInvalidValues(t *testing.T) {
	tests := []struct{ line, msg string }{
		{"listenPort=abc", "not an integer"},
		{"listenPort=0", "out of range"},
		{"listenPort=65536", "out of range"},
		{"listenPort=10911 ", ""}, // trimmed: fine
		{"brokerId=-1", "out of range"},
		{"brokerId=1.5", "not an integer"},
		{"brokerRole=MASTER", "want one of ASYNC_MASTER, SYNC_MASTER, SLAVE"},
		{"flushDiskType=FAST", "want one of ASYNC_FLUSH, SYNC_FLUSH"},
		{"autoCreateTopicEnable=yes", "want true or false"},
		{"brokerName=broker.a", "names a topic"},
		{"brokerClusterName=", "names a topic"},
		{"namesrvAddr=10.0.0.1", "not host:port"},
		{"namesrvAddr=10.0.0.1:9876;10.0.0.2:0", "bad port"},
		{"namesrvAddr=bad host:9876", "bad host"},
		{"brokerIP1=", "IP address or a host name"},
		{"brokerIP1=10.0.0.1:10911", "IP address or a host name"},
		{"mappedFileSizeCommitLog=1024", "out of range"},
		{"mappedFileSizeCommitLog=4294967296", "out of range"},
		{"diskMaxUsedSpaceRatio=99", "out of range"},
		{"deleteWhen=4am", "want hours 0-23"},
		{"deleteWhen=04;24", "want hours 0-23"},
		{"fileReservedTime=-1", "out of range"},
		{"flushIntervalCommitLog=0", "out of range"},
		{"messageDelayLevel=1s 5x", "unit of s, m, h or d"},
		{"messageDelayLevel=0s", "out of range"},
		{"messageDelayLevel=", "no delay levels"},
		{"storePathRootDir=", "must not be empty"},
		{"brokerPermission=16", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, _, err := parseBroker(strings.NewReader("# header\n"+tt.line), "conf/broker.conf", testBroker())
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			key, _, _ := strings.Cut(tt.line, "=")
			e, ok := errors.AsType[*Error](err)
			if !errors.Is(err, ErrInvalidValue) || !ok {
				t.Fatalf("err = %v", err)
			}
			if e.Source != "conf/broker.conf" || e.Line != 2 || e.Key != key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("error %+v, want line 2, key %s, %q", e, key, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "config: conf/broker.conf:2: "+key+": invalid value") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestParseBrokerReportsEveryBadValue(t *testing.T) {
	_, _, err := parseBroker(strings.NewReader("listenPort=x\nbrokerName=ok\nbrokerId=y\n"), "b.conf", testBroker())
	msg := err.Error()
	if !strings.Contains(msg, "b.conf:1: listenPort") || !strings.Contains(msg, "b.conf:3: brokerId") {
		t.Errorf("err = %v", err)
	}
}

func TestParseBrokerWarnings(t *testing.T) {
	b, warns := parse(t, "brokerName=one\nsendMessageThreadPoolNums=4\nBrokerName=x\nbrokerName=two\n")
	if b.BrokerName != "two" {
		t.Errorf("last value does not win: %q", b.BrokerName)
	}
	want := []Warning{
		{"broker.conf", 2, "sendMessageThreadPoolNums", "unknown key, ignored"},
		{"broker.conf", 3, "BrokerName", "unknown key, ignored"}, // keys are case-sensitive
		{"broker.conf", 4, "brokerName", "also set on line 1; this line wins"},
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings\ngot  %v\nwant %v", warns, want)
	}
	if s := warns[0].String(); s != "broker.conf:2: sendMessageThreadPoolNums: unknown key, ignored" {
		t.Errorf("String() = %q", s)
	}
}

// BrokerStartup makes a master broker 0.
func TestMasterBrokerIDForcedToZero(t *testing.T) {
	b, warns := parse(t, "brokerRole=SYNC_MASTER\nbrokerId=3\n")
	if b.BrokerID != 0 || len(warns) != 1 || warns[0].Key != "brokerId" || warns[0].Line != 2 {
		t.Errorf("brokerId %d, warnings %v", b.BrokerID, warns)
	}
	b, warns = parse(t, "brokerRole=SLAVE\nbrokerId=3\n")
	if b.BrokerID != 3 || len(warns) != 0 {
		t.Errorf("slave: brokerId %d, warnings %v", b.BrokerID, warns)
	}
}

func TestBrokerValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Broker)
		key    string // "" for valid
	}{
		{"defaults", func(*Broker) {}, ""},
		{"slave with id 0", func(b *Broker) { b.BrokerRole = Slave }, "brokerId"},
		{"slave with id 1", func(b *Broker) { b.BrokerRole, b.BrokerID = Slave, 1 }, ""},
		{"master with id 1", func(b *Broker) { b.BrokerID = 1 }, "brokerId"},
		{"message larger than a segment", func(b *Broker) { b.MappedFileSizeCommitLog = 4 << 20 }, "maxMessageSize"},
		{"consume queue not whole units", func(b *Broker) { b.MappedFileSizeConsumeQueue = 6000001 }, "mappedFileSizeConsumeQueue"},
		{"HA port clash", func(b *Broker) { b.HAListenPort = b.ListenPort }, "haListenPort"},
		{"HA port derived", func(b *Broker) { b.ListenPort = 20911 }, ""},
		{"bad port set by code", func(b *Broker) { b.ListenPort = 70000 }, "listenPort"},
		{"empty role", func(b *Broker) { b.BrokerRole = "" }, "brokerRole"},
		{"no delay levels", func(b *Broker) { b.MessageDelayLevel = nil }, "messageDelayLevel"},
		{"bad namesrv", func(b *Broker) { b.NamesrvAddrs = []string{"x"} }, "namesrvAddr"},
		{"timer precision", func(b *Broker) { b.TimerPrecision = 300 * time.Millisecond }, "timerPrecisionMs"},
		{"invalid broker name", func(b *Broker) { b.BrokerName = "a b" }, "brokerName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBroker()
			tt.change(&b)
			err := b.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || !errors.Is(err, ErrInvalidValue) || e.Key != tt.key {
				t.Fatalf("err = %v, want one about %s", err, tt.key)
			}
			if !strings.HasPrefix(err.Error(), "config: "+tt.key+": ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestDelayLevels(t *testing.T) {
	levels, err := ParseDelayLevels("  1s   90s 2m 1h 3d ")
	want := []time.Duration{time.Second, 90 * time.Second, 2 * time.Minute, time.Hour, 72 * time.Hour}
	if err != nil || !slices.Equal(levels, want) {
		t.Fatalf("%v, %v", levels, err)
	}
	if got := FormatDelayLevels(want); got != "1s 90s 2m 1h 3d" {
		t.Errorf("FormatDelayLevels = %q", got)
	}
	if got, _ := ParseDelayLevels(DefaultMessageDelayLevel); FormatDelayLevels(got) != DefaultMessageDelayLevel {
		t.Errorf("default does not round-trip")
	}
}
