package metadata

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"time"

	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// GroupsFile is the name of the subscription group table in the config
// directory.
const GroupsFile = "subscriptionGroup.json"

// System consumer groups a broker creates at start
// (J SubscriptionGroupManager.init, MixAll).
const (
	GroupTools           = "TOOLS_CONSUMER"
	GroupFilterServer    = "FILTERSRV_CONSUMER"
	GroupSelfTest        = "SELF_TEST_C_GROUP"
	GroupOnsHTTPProxy    = "CID_ONS-HTTP-PROXY"
	GroupOnsAPIPull      = "CID_ONSAPI_PULL"
	GroupOnsAPIPerm      = "CID_ONSAPI_PERMISSION"
	GroupOnsAPIOwner     = "CID_ONSAPI_OWNER"
	GroupTransactionScan = "CID_RMQ_SYS_TRANS" // keeps the transaction check progress as offsets
)

// Defaults of SubscriptionGroupConfig (J SubscriptionGroupConfig).
const (
	DefaultRetryQueueNums       = 1
	DefaultRetryMaxTimes        = 16
	DefaultConsumeTimeoutMinute = 15
)

// SubscriptionGroupConfig is one consumer group's settings
// (J SubscriptionGroupConfig), with Java's JSON field names.
type SubscriptionGroupConfig struct {
	GroupName string `json:"groupName"`
	// ConsumeEnable false makes pulls fail with 16 NO_PERMISSION.
	ConsumeEnable        bool `json:"consumeEnable"`
	ConsumeFromMinEnable bool `json:"consumeFromMinEnable"`
	// ConsumeBroadcastEnable false refuses pulls of broadcasting consumers.
	ConsumeBroadcastEnable bool `json:"consumeBroadcastEnable"`
	ConsumeMessageOrderly  bool `json:"consumeMessageOrderly"`
	// RetryQueueNums is the queue count of %RETRY%<group>; ≤ 0 makes
	// CONSUMER_SEND_MSG_BACK a no-op.
	RetryQueueNums int `json:"retryQueueNums"`
	// RetryMaxTimes is the reconsume limit before the DLQ when the request
	// carries none.
	RetryMaxTimes int `json:"retryMaxTimes"`
	// BrokerID is the broker consumers are told to pull from (0: master).
	BrokerID int64 `json:"brokerId"`
	// WhichBrokerWhenConsumeSlowly is the broker suggested to consumers
	// that fell far behind.
	WhichBrokerWhenConsumeSlowly   int64 `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool  `json:"notifyConsumerIdsChangedEnable"`
	GroupSysFlag                   int   `json:"groupSysFlag"`
	ConsumeTimeoutMinute           int   `json:"consumeTimeoutMinute"`
	// Attributes are RocketMQ 5 group attributes. Treat as read-only in
	// values returned by Groups.
	Attributes map[string]string `json:"attributes"`
	// GroupRetryPolicy and SubscriptionDataSet are kept as Java wrote them
	// (Quiver does not interpret them) and written back unchanged.
	GroupRetryPolicy    json.RawMessage `json:"groupRetryPolicy,omitempty"`
	SubscriptionDataSet json.RawMessage `json:"subscriptionDataSet,omitempty"`
}

// NewGroupConfig returns a group with the settings RocketMQ gives an
// auto-created group: consume, consume-from-min and broadcast enabled, one
// retry queue, 16 retries, brokerId 0, whichBrokerWhenConsumeSlowly 1,
// notifications on, 15-minute consume timeout.
func NewGroupConfig(name string) SubscriptionGroupConfig {
	return SubscriptionGroupConfig{
		GroupName:                      name,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 DefaultRetryQueueNums,
		RetryMaxTimes:                  DefaultRetryMaxTimes,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
		ConsumeTimeoutMinute:           DefaultConsumeTimeoutMinute,
		Attributes:                     map[string]string{},
	}
}

type groupConfigJSON SubscriptionGroupConfig // without methods

// MarshalJSON writes Attributes as {} when nil, as Java does.
func (g SubscriptionGroupConfig) MarshalJSON() ([]byte, error) {
	if g.Attributes == nil {
		g.Attributes = map[string]string{}
	}
	return json.Marshal(groupConfigJSON(g))
}

// UnmarshalJSON gives fields missing from the JSON Java's defaults.
func (g *SubscriptionGroupConfig) UnmarshalJSON(data []byte) error {
	v := groupConfigJSON(NewGroupConfig(""))
	v.Attributes = nil
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	*g = SubscriptionGroupConfig(v)
	return nil
}

func (g SubscriptionGroupConfig) clone() SubscriptionGroupConfig {
	if g.Attributes == nil {
		g.Attributes = map[string]string{}
	} else {
		g.Attributes = maps.Clone(g.Attributes)
	}
	return g
}

// groupsFile is the shape of subscriptionGroup.json.
type groupsFile struct {
	SubscriptionGroupTable map[string]SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	// ForbiddenTable is kept as read (Quiver does not use it).
	ForbiddenTable json.RawMessage `json:"forbiddenTable,omitempty"`
	DataVersion    DataVersion     `json:"dataVersion"`
}

// Groups is the broker's subscription group table, persisted in
// subscriptionGroup.json. All methods are safe for concurrent use; the
// package comment describes locking and persistence.
type Groups struct {
	fs         vfs.FS
	path       string
	autoCreate bool
	now        func() time.Time
	forbidden  json.RawMessage // kept as read; set once at open
	versioned[SubscriptionGroupConfig]
}

// OpenGroups loads dir/subscriptionGroup.json (or its backup), adds the
// system groups it lacks and writes the file back if anything was added.
// autoCreate is the broker's autoCreateSubscriptionGroup (see Ensure).
func OpenGroups(fs vfs.FS, dir string, autoCreate bool) (*Groups, error) {
	if err := jsonfile.EnsureDir(fs, dir); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	g := &Groups{
		fs:         fs,
		path:       filepath.Join(dir, GroupsFile),
		autoCreate: autoCreate,
		now:        time.Now,
		versioned:  versioned[SubscriptionGroupConfig]{table: map[string]SubscriptionGroupConfig{}},
	}
	var f groupsFile
	from, err := jsonfile.Read(fs, g.path, func(b []byte) error {
		f = groupsFile{}
		return jsonfile.Unmarshal(b, &f)
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: load subscription groups: %w", err)
	}
	if from == "" {
		g.version = DataVersion{Timestamp: g.now().UnixMilli()}
	} else {
		g.version = f.DataVersion
		g.forbidden = f.ForbiddenTable
		for name, c := range f.SubscriptionGroupTable {
			if c.GroupName == "" {
				c.GroupName = name
			}
			g.table[name] = c.clone()
		}
	}
	err = g.update(func(tab map[string]SubscriptionGroupConfig) bool {
		changed := from != g.path // write a fresh file, or the backup we fell back to, at once
		for _, name := range []string{GroupTools, GroupFilterServer, GroupSelfTest, GroupOnsHTTPProxy,
			GroupOnsAPIPull, GroupOnsAPIPerm, GroupOnsAPIOwner, GroupTransactionScan} {
			if _, ok := tab[name]; !ok {
				tab[name] = NewGroupConfig(name)
				changed = true
			}
		}
		return changed
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// update runs fn on a copy of the table and persists and installs the
// result if fn changed it (group-committed, see versioned).
func (g *Groups) update(fn func(tab map[string]SubscriptionGroupConfig) (changed bool)) error {
	return g.versioned.update(g.now(), func(tab map[string]SubscriptionGroupConfig, ver DataVersion) error {
		data, err := jsonfile.Marshal(groupsFile{SubscriptionGroupTable: tab, ForbiddenTable: g.forbidden, DataVersion: ver})
		if err == nil {
			err = jsonfile.Write(g.fs, g.path, data)
		}
		if err != nil {
			return fmt.Errorf("metadata: persist subscription groups: %w", err)
		}
		return nil
	}, fn)
}

// Get returns the config of a group.
func (g *Groups) Get(name string) (SubscriptionGroupConfig, bool) { return g.get(name) }

// All returns every group, sorted by name.
func (g *Groups) All() []SubscriptionGroupConfig {
	return g.all(func(c SubscriptionGroupConfig) string { return c.GroupName })
}

// DataVersion returns the version of the current table.
func (g *Groups) DataVersion() DataVersion { return g.dataVersion() }

// Put creates or replaces a group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) and
// writes the file. It fails with ErrInvalidGroup for a bad name or negative
// RetryMaxTimes.
func (g *Groups) Put(c SubscriptionGroupConfig) error {
	if err := ValidateGroup(c.GroupName); err != nil {
		return err
	}
	if c.RetryMaxTimes < 0 {
		return fmt.Errorf("%w: %s: retryMaxTimes %d is negative", ErrInvalidGroup, c.GroupName, c.RetryMaxTimes)
	}
	c = c.clone()
	return g.update(func(tab map[string]SubscriptionGroupConfig) bool {
		tab[c.GroupName] = c
		return true
	})
}

// Delete removes a group and writes the file. It fails with
// ErrGroupNotExist if there is no such group. The group's offsets are the
// caller's to remove.
func (g *Groups) Delete(name string) error {
	found, err := g.remove(g.update, name)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrGroupNotExist, name)
	}
	return nil
}

// Ensure returns a group's config, creating it with NewGroupConfig's
// defaults (and writing the file) when it does not exist and
// autoCreateSubscriptionGroup is on (J findSubscriptionGroupConfig). It
// fails with ErrGroupNotExist when the group is missing and auto-creation
// is off, or when the name is invalid (the error then wraps ErrInvalidGroup
// too).
func (g *Groups) Ensure(name string) (SubscriptionGroupConfig, error) {
	if c, ok := g.Get(name); ok {
		return c, nil
	}
	if !g.autoCreate {
		return SubscriptionGroupConfig{}, fmt.Errorf("%w: %s (auto-creation is off)", ErrGroupNotExist, name)
	}
	if err := ValidateGroup(name); err != nil {
		return SubscriptionGroupConfig{}, fmt.Errorf("%w: %w", ErrGroupNotExist, err)
	}
	var out SubscriptionGroupConfig
	err := g.update(func(tab map[string]SubscriptionGroupConfig) bool {
		if c, ok := tab[name]; ok {
			out = c
			return false
		}
		out = NewGroupConfig(name)
		tab[name] = out
		return true
	})
	if err != nil {
		return SubscriptionGroupConfig{}, err
	}
	return out, nil
}
