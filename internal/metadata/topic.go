package metadata

import (
	"encoding/json"
	"maps"
	"time"
)

// TopicConfig is one topic of the broker (J TopicConfig). The JSON form is
// Java's, in topics.json and in REGISTER_BROKER bodies.
type TopicConfig struct {
	TopicName      string `json:"topicName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	// Perm is a set of Perm* bits; 6 (read+write) for ordinary topics.
	Perm int `json:"perm"`
	// TopicFilterType is SingleTag or MultiTag.
	TopicFilterType string `json:"topicFilterType"`
	// TopicSysFlag carries the unit flags (1 unit, 2 unit-sub); 0 for
	// everything Go clients create.
	TopicSysFlag int  `json:"topicSysFlag"`
	Order        bool `json:"order"`
	// Attributes are RocketMQ 5 topic attributes ("+message.type" …).
	// Treat as read-only in values returned by Topics.
	Attributes map[string]string `json:"attributes"`
}

// NewTopicConfig returns a TopicConfig with Java's defaults: 16 read and 16
// write queues, perm read+write, SINGLE_TAG.
func NewTopicConfig(name string) TopicConfig {
	return TopicConfig{
		TopicName:       name,
		ReadQueueNums:   DefaultQueueNums,
		WriteQueueNums:  DefaultQueueNums,
		Perm:            PermRead | PermWrite,
		TopicFilterType: SingleTag,
		Attributes:      map[string]string{},
	}
}

// QueueNums returns the larger of the read and write queue counts: a queue
// id must be below it (J: a send with queueId ≥ max(read, write) is
// refused).
func (tc TopicConfig) QueueNums() int { return max(tc.ReadQueueNums, tc.WriteQueueNums) }

type topicConfigJSON TopicConfig // TopicConfig without its methods

// MarshalJSON writes Attributes as {} when nil, as Java does.
func (tc TopicConfig) MarshalJSON() ([]byte, error) {
	if tc.Attributes == nil {
		tc.Attributes = map[string]string{}
	}
	return json.Marshal(topicConfigJSON(tc))
}

// UnmarshalJSON gives fields missing from the JSON Java's defaults.
func (tc *TopicConfig) UnmarshalJSON(data []byte) error {
	v := topicConfigJSON(NewTopicConfig(""))
	v.Attributes = nil
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	*tc = TopicConfig(v)
	return nil
}

// clone returns tc with its own, non-nil Attributes.
func (tc TopicConfig) clone() TopicConfig {
	if tc.Attributes == nil {
		tc.Attributes = map[string]string{}
	} else {
		tc.Attributes = maps.Clone(tc.Attributes)
	}
	return tc
}

// DataVersion identifies a state of a table (J DataVersion). The name
// server compares the broker's topic DataVersion with the last one it saw
// to decide whether to re-read the topic table.
type DataVersion struct {
	StateVersion int64 `json:"stateVersion"`
	// Timestamp is the time of the last change in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
	// Counter counts changes.
	Counter int64 `json:"counter"`
}

// next returns the version after v, stamped with now (J nextVersion).
func (v DataVersion) next(now time.Time) DataVersion {
	v.Timestamp = now.UnixMilli()
	v.Counter++
	return v
}

// TopicConfigWrapper is the topic table as RocketMQ serialises it
// (J TopicConfigSerializeWrapper): the content of topics.json and the
// "topicConfigSerializeWrapper" of a REGISTER_BROKER body.
type TopicConfigWrapper struct {
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
	DataVersion      DataVersion            `json:"dataVersion"`
}
