package config

import (
	"errors"
	"io"
	"time"
)

// Namesrv is a name server's configuration (RocketMQ's NamesrvConfig and
// NettyServerConfig, the keys Quiver uses).
type Namesrv struct {
	BindAddress string // bindAddress, "0.0.0.0"
	ListenPort  int    // listenPort, 9876
	// KVConfigPath is the file of the KV config store (kvConfigPath,
	// ~/namesrv/kvConfig.json).
	KVConfigPath string
	// ScanNotActiveBrokerInterval is how often brokers that stopped
	// registering are looked for (scanNotActiveBrokerInterval, ms, 5 s).
	ScanNotActiveBrokerInterval time.Duration
	// ServerChannelMaxIdleTime closes idle connections
	// (serverChannelMaxIdleTimeSeconds, s, 120 s).
	ServerChannelMaxIdleTime time.Duration
	// OrderMessageEnable adds the order-topic KV config to routes
	// (orderMessageEnable, false).
	OrderMessageEnable bool
	ClusterTest        bool // clusterTest, false
	// EnableAllTopicList and EnableTopicList allow the topic-list requests
	// (enableAllTopicList, enableTopicList; true).
	EnableAllTopicList bool
	EnableTopicList    bool
	// DeleteTopicWithBrokerRegistration drops a topic from routes when a
	// broker's registration no longer lists it
	// (deleteTopicWithBrokerRegistration, false).
	DeleteTopicWithBrokerRegistration bool
	// NotifyMinBrokerIDChanged tells brokers when the smallest broker id of
	// their set changes (notifyMinBrokerIdChanged, false).
	NotifyMinBrokerIDChanged bool
}

// DefaultNamesrv returns RocketMQ's name server defaults, KVConfigPath
// under this user's home directory.
func DefaultNamesrv() Namesrv { return defaultNamesrv(lookupHost()) }

func defaultNamesrv(h host) Namesrv {
	return Namesrv{
		BindAddress:                 "0.0.0.0",
		ListenPort:                  9876,
		KVConfigPath:                h.under("namesrv", "kvConfig.json"),
		ScanNotActiveBrokerInterval: 5 * time.Second,
		ServerChannelMaxIdleTime:    120 * time.Second,
		EnableAllTopicList:          true,
		EnableTopicList:             true,
	}
}

func (n *Namesrv) fields() map[string]field {
	return map[string]field{
		"bindAddress":                       hostField(&n.BindAddress, false),
		"listenPort":                        intField(&n.ListenPort, 1, 65535),
		"kvConfigPath":                      nonEmptyField(&n.KVConfigPath),
		"scanNotActiveBrokerInterval":       durationField(&n.ScanNotActiveBrokerInterval, time.Millisecond, 1, 3_600_000),
		"serverChannelMaxIdleTimeSeconds":   durationField(&n.ServerChannelMaxIdleTime, time.Second, 1, 86_400),
		"orderMessageEnable":                boolField(&n.OrderMessageEnable),
		"clusterTest":                       boolField(&n.ClusterTest),
		"enableAllTopicList":                boolField(&n.EnableAllTopicList),
		"enableTopicList":                   boolField(&n.EnableTopicList),
		"deleteTopicWithBrokerRegistration": boolField(&n.DeleteTopicWithBrokerRegistration),
		"notifyMinBrokerIdChanged":          boolField(&n.NotifyMinBrokerIDChanged),
	}
}

// ParseNamesrv reads a namesrv.conf over DefaultNamesrv, with ParseBroker's
// rules for warnings and errors.
func ParseNamesrv(r io.Reader, source string) (Namesrv, []Warning, error) {
	return parseNamesrv(r, source, DefaultNamesrv())
}

func parseNamesrv(r io.Reader, source string, n Namesrv) (Namesrv, []Warning, error) {
	props, err := ParseProperties(r, source)
	if err != nil {
		return Namesrv{}, nil, err
	}
	warns, err := apply(props, source, n.fields())
	if err != nil {
		return Namesrv{}, warns, err
	}
	return n, warns, nil
}

// Validate checks every setting by its key's rules; errors are *Error
// values wrapping ErrInvalidValue, joined.
func (n Namesrv) Validate() error { return errors.Join(check(n.fields())...) }
