package metadata

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// TopicsFile is the name of the topic table in the config directory.
const TopicsFile = "topics.json"

// Defaults of TopicDefaults' zero fields.
const (
	DefaultTopicQueueNums  = 8 // defaultTopicQueueNums
	DefaultReviveQueueNums = 8 // reviveQueueNum
)

// TopicDefaults configure the topics a broker creates by itself. Zero
// fields take the defaults named next to them; RocketMQ's broker config key
// is given in parentheses.
type TopicDefaults struct {
	// QueueNums is TBW102's queue count (defaultTopicQueueNums; 8 if 0).
	QueueNums int
	// AutoCreate lets sends to unknown topics create them from TBW102,
	// which is then created at start with perm 7 (autoCreateTopicEnable).
	AutoCreate bool
	// ClusterName and BrokerName name the cluster and broker topics
	// (brokerClusterName, brokerName). Both are required.
	ClusterName string
	BrokerName  string
	// ReviveQueueNums is the queue count of the POP revive topic
	// (reviveQueueNum; 8 if 0).
	ReviveQueueNums int
	// TraceTopic, when set, is created at start with one queue
	// (msgTraceTopicName when traceTopicEnable, normally TopicTrace).
	TraceTopic string
	// TimerTopic creates rmq_sys_wheel_timer at start (timerWheelEnable).
	TimerTopic bool
	// Now stamps DataVersions; nil means time.Now.
	Now func() time.Time
}

// Topics is the broker's topic table, persisted in topics.json. See the
// package comment for its rules; all methods are safe for concurrent use.
type Topics struct {
	fs     vfs.FS
	path   string
	def    TopicDefaults
	system map[string]bool // names created at start; immutable
	versioned[TopicConfig]
}

// OpenTopics loads dir/topics.json (or its backup), adds the system topics
// it lacks and writes the file back if anything was added. dir is created
// if missing.
func OpenTopics(fs vfs.FS, dir string, def TopicDefaults) (*Topics, error) {
	if def.ClusterName == "" || def.BrokerName == "" {
		return nil, errors.New("metadata: TopicDefaults needs ClusterName and BrokerName")
	}
	if def.QueueNums <= 0 {
		def.QueueNums = DefaultTopicQueueNums
	}
	if def.ReviveQueueNums <= 0 {
		def.ReviveQueueNums = DefaultReviveQueueNums
	}
	if def.Now == nil {
		def.Now = time.Now
	}
	if err := jsonfile.EnsureDir(fs, dir); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	t := &Topics{
		fs:        fs,
		path:      filepath.Join(dir, TopicsFile),
		def:       def,
		versioned: versioned[TopicConfig]{table: map[string]TopicConfig{}},
	}
	var w TopicConfigWrapper
	from, err := jsonfile.Read(fs, t.path, func(b []byte) error {
		w = TopicConfigWrapper{}
		return jsonfile.Unmarshal(b, &w)
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: load topics: %w", err)
	}
	if from == "" {
		t.version = DataVersion{Timestamp: def.Now().UnixMilli()}
	} else {
		t.version = w.DataVersion
		for name, tc := range w.TopicConfigTable {
			if tc.TopicName == "" {
				tc.TopicName = name
			}
			t.table[name] = tc.clone()
		}
	}

	sys := def.systemTopics()
	t.system = make(map[string]bool, len(sys)+8)
	for _, name := range []string{TopicAutoCreate, TopicSchedule, TopicBenchmark, TopicTransHalf,
		TopicTrace, TopicTransOpHalf, TopicTransCheckMaxTime, TopicSelfTest, TopicOffsetMoved,
		TopicRocksDBOffset} {
		t.system[name] = true
	}
	for _, tc := range sys {
		t.system[tc.TopicName] = true
	}

	err = t.update(func(tab map[string]TopicConfig) bool {
		changed := from != t.path // write a fresh file, or the backup we fell back to, at once
		for _, tc := range sys {
			if _, ok := tab[tc.TopicName]; !ok {
				tab[tc.TopicName] = tc
				changed = true
			}
		}
		if tmpl, ok := tab[TopicAutoCreate]; ok && Inherited(tmpl.Perm) != def.AutoCreate {
			tmpl.Perm ^= PermInherit
			tab[TopicAutoCreate] = tmpl
			changed = true
		}
		return changed
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// systemTopics lists the topics a broker creates at start
// (J TopicConfigManager.init), in Java's order.
func (d TopicDefaults) systemTopics() []TopicConfig {
	mk := func(name string, queues, perm int) TopicConfig {
		tc := NewTopicConfig(name)
		tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm = queues, queues, perm
		return tc
	}
	const rw, rwx = PermRead | PermWrite, PermRead | PermWrite | PermInherit
	list := []TopicConfig{mk(TopicSelfTest, 1, rw)}
	if d.AutoCreate {
		list = append(list, mk(TopicAutoCreate, d.QueueNums, rwx))
	}
	list = append(list,
		mk(TopicBenchmark, BenchmarkQueueNums, rw),
		mk(d.ClusterName, DefaultQueueNums, rwx), // clusterTopicEnable
		mk(d.BrokerName, 1, rwx),                 // brokerTopicEnable
		mk(TopicOffsetMoved, 1, rw),
		mk(TopicSchedule, ScheduleQueueNums, rw),
	)
	if d.TraceTopic != "" {
		list = append(list, mk(d.TraceTopic, 1, rw))
	}
	list = append(list,
		mk(ReplyTopic(d.ClusterName), 1, rw),
		mk(ReviveTopic(d.ClusterName), d.ReviveQueueNums, rw),
		mk(SyncBrokerMemberTopic(d.BrokerName), 1, PermInherit),
		mk(TopicTransHalf, 1, rw),
		mk(TopicTransOpHalf, 1, rw),
	)
	if d.TimerTopic {
		list = append(list, mk(TopicTimer, 1, rw))
	}
	return list
}

// update runs fn on a copy of the table and persists and installs the
// result if fn changed it (group-committed, see versioned).
func (t *Topics) update(fn func(tab map[string]TopicConfig) (changed bool)) error {
	return t.versioned.update(t.def.Now(), func(tab map[string]TopicConfig, ver DataVersion) error {
		data, err := jsonfile.Marshal(TopicConfigWrapper{TopicConfigTable: tab, DataVersion: ver})
		if err == nil {
			err = jsonfile.Write(t.fs, t.path, data)
		}
		if err != nil {
			return fmt.Errorf("metadata: persist topics: %w", err)
		}
		return nil
	}, fn)
}

// Get returns the config of a topic.
func (t *Topics) Get(name string) (TopicConfig, bool) { return t.get(name) }

// All returns every topic, sorted by name.
func (t *Topics) All() []TopicConfig {
	return t.all(func(tc TopicConfig) string { return tc.TopicName })
}

// DataVersion returns the version of the current table.
func (t *Topics) DataVersion() DataVersion { return t.dataVersion() }

// SerializeWrapper returns the table and its version as one consistent
// snapshot, in the shape REGISTER_BROKER carries as
// "topicConfigSerializeWrapper" (namesrv.md §7). The map is the caller's;
// the configs' Attributes are shared and read-only. The broker ANDs perms
// with brokerPermission itself when it is not read-write.
func (t *Topics) SerializeWrapper() TopicConfigWrapper {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return TopicConfigWrapper{TopicConfigTable: maps.Clone(t.table), DataVersion: t.version}
}

// IsSystem reports whether name is a system topic
// (J TopicValidator.isSystemTopic): a fixed RocketMQ name, a topic this
// broker creates at start (cluster and broker names included), or a name
// starting with rmq_sys_. Admin requests refuse to create or delete them.
func (t *Topics) IsSystem(name string) bool {
	return t.system[name] || strings.HasPrefix(name, SystemTopicPrefix)
}

// checkConfig checks what Put stores.
func checkConfig(tc *TopicConfig) error {
	if err := checkTopicName(tc.TopicName); err != nil {
		return err
	}
	if tc.ReadQueueNums < 0 || tc.WriteQueueNums < 0 {
		return fmt.Errorf("%w: %s: negative queue count (read %d, write %d)", ErrInvalidTopic,
			tc.TopicName, tc.ReadQueueNums, tc.WriteQueueNums)
	}
	if tc.Perm < 0 || tc.Perm > PermPriority|PermRead|PermWrite|PermInherit {
		return fmt.Errorf("%w: %s: perm %d out of range", ErrInvalidTopic, tc.TopicName, tc.Perm)
	}
	switch tc.TopicFilterType {
	case "":
		tc.TopicFilterType = SingleTag
	case SingleTag, MultiTag:
	default:
		return fmt.Errorf("%w: %s: topicFilterType %q", ErrInvalidTopic, tc.TopicName, tc.TopicFilterType)
	}
	return nil
}

// Put creates or replaces a topic (UPDATE_AND_CREATE_TOPIC) and writes the
// file. An empty TopicFilterType means SINGLE_TAG. It fails with
// ErrInvalidTopic for a bad name, negative queue counts, a perm outside
// 0-15 or an unknown filter type. Put does not refuse system topics; admin
// processors check IsSystem first.
func (t *Topics) Put(tc TopicConfig) error {
	if err := checkConfig(&tc); err != nil {
		return err
	}
	tc = tc.clone()
	return t.update(func(tab map[string]TopicConfig) bool {
		tab[tc.TopicName] = tc
		return true
	})
}

// Delete removes a topic and writes the file. It fails with
// ErrTopicNotExist if there is no such topic. Consume queues and offsets
// of the topic are the caller's to remove.
func (t *Topics) Delete(name string) error {
	found, err := t.remove(t.update, name)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrTopicNotExist, name)
	}
	return nil
}

// CreateIfAbsent stores tc unless a topic of that name exists, and returns
// the topic's config and whether it was created; a creation is written to
// the file and the broker should register it with the name servers at once.
// It fails with ErrInvalidTopic as Put does.
func (t *Topics) CreateIfAbsent(tc TopicConfig) (TopicConfig, bool, error) {
	if cur, ok := t.Get(tc.TopicName); ok {
		return cur, false, nil
	}
	if err := checkConfig(&tc); err != nil {
		return TopicConfig{}, false, err
	}
	tc = tc.clone()
	var out TopicConfig
	created := false
	err := t.update(func(tab map[string]TopicConfig) bool {
		if cur, ok := tab[tc.TopicName]; ok {
			out = cur
			return false
		}
		tab[tc.TopicName], out, created = tc, tc, true
		return true
	})
	if err != nil {
		return TopicConfig{}, false, err
	}
	return out, created, nil
}

// CreateOnSend returns the config of topic, creating it when a producer
// sends to a topic the broker does not have
// (J createTopicInSendMessageMethod, with TBW102 as the default topic, which
// is what every client sends in the defaultTopic header). The new topic
// copies TBW102: min(queueNums, TBW102's write queues) queues (TBW102's
// count when queueNums ≤ 0), TBW102's perm without PermInherit, its filter
// type. When auto-creation is off or TBW102 is missing or lacks
// PermInherit, a %RETRY% topic is still created with one read-write queue
// and anything else fails with ErrTopicNotExist.
//
// created tells the broker to register the topic with the name servers at
// once. A topic that does not exist yet is checked with ValidateTopic first
// (ErrInvalidTopic, ErrTopicNotAllowed); existing topics are returned
// without checks, so the send processor runs ValidateTopic itself.
func (t *Topics) CreateOnSend(topic string, queueNums int) (tc TopicConfig, created bool, err error) {
	if cur, ok := t.Get(topic); ok {
		return cur, false, nil
	}
	if err := ValidateTopic(topic); err != nil {
		return TopicConfig{}, false, err
	}
	err = t.update(func(tab map[string]TopicConfig) bool {
		if cur, ok := tab[topic]; ok {
			tc = cur
			return false
		}
		tmpl, ok := tab[TopicAutoCreate]
		switch {
		case t.def.AutoCreate && ok && Inherited(tmpl.Perm):
			n := tmpl.WriteQueueNums
			if queueNums > 0 {
				n = min(queueNums, n)
			}
			tc = NewTopicConfig(topic)
			tc.ReadQueueNums, tc.WriteQueueNums = n, n
			tc.Perm = tmpl.Perm &^ PermInherit
			tc.TopicFilterType = tmpl.TopicFilterType
		case IsRetryTopic(topic):
			tc = NewTopicConfig(topic)
			tc.ReadQueueNums, tc.WriteQueueNums = 1, 1
		default:
			return false
		}
		tab[topic], created = tc, true
		return true
	})
	switch {
	case err != nil:
		return TopicConfig{}, false, err
	case tc.TopicName == "":
		return TopicConfig{}, false, fmt.Errorf("%w: %s (auto-creation is off)", ErrTopicNotExist, topic)
	}
	return tc, created, nil
}

// CreateRetryTopic returns %RETRY%<group>, creating it with queueNums
// read-write queues (the group's retryQueueNums; at least 1) if needed
// (J createTopicInSendMessageBackMethod). order sets the topic's order flag,
// also on an existing topic: the heartbeat passes whether the group
// subscribes to an order topic, a send-back passes false, as in Java. It
// fails with ErrInvalidGroup for a bad group name.
func (t *Topics) CreateRetryTopic(group string, queueNums int, order bool) (TopicConfig, bool, error) {
	if err := ValidateGroup(group); err != nil {
		return TopicConfig{}, false, err
	}
	return t.createBackTopic(RetryTopic(group), max(queueNums, 1), order)
}

// CreateDLQTopic returns %DLQ%<group>, creating it with one read-write
// queue if needed (J DLQ_NUMS_PER_GROUP). It fails with ErrInvalidGroup for
// a bad group name.
func (t *Topics) CreateDLQTopic(group string) (TopicConfig, bool, error) {
	if err := ValidateGroup(group); err != nil {
		return TopicConfig{}, false, err
	}
	return t.createBackTopic(DLQTopic(group), DLQQueueNums, false)
}

func (t *Topics) createBackTopic(name string, queueNums int, order bool) (tc TopicConfig, created bool, err error) {
	if cur, ok := t.Get(name); ok && cur.Order == order {
		return cur, false, nil
	}
	err = t.update(func(tab map[string]TopicConfig) bool {
		if cur, ok := tab[name]; ok {
			tc = cur
			if cur.Order == order {
				return false
			}
			tc.Order = order
		} else {
			tc = NewTopicConfig(name)
			tc.ReadQueueNums, tc.WriteQueueNums, tc.Order = queueNums, queueNums, order
			created = true
		}
		tab[name] = tc
		return true
	})
	if err != nil {
		return TopicConfig{}, false, err
	}
	return tc, created, nil
}
