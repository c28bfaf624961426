// Package metadata holds the broker's topic configs and subscription groups
// (RocketMQ's TopicConfigManager and SubscriptionGroupManager) and persists
// them where a Java broker does:
//
//	<storeRoot>/config/topics.json              {"topicConfigTable":{…},"dataVersion":{…}}
//	<storeRoot>/config/subscriptionGroup.json   {"subscriptionGroupTable":{…},"dataVersion":{…}}
//
// Files written by a Java broker load here and the other way round: JSON
// field names are Java's, fields a Java file carries that Quiver does not
// model (groupRetryPolicy, subscriptionDataSet, forbiddenTable) are kept and
// written back unchanged, and missing fields take Java's defaults. Each
// change is written at once through package jsonfile (tmp file, fsync,
// rename, directory fsync, ".bak" fallback on load).
//
// # Topics
//
// OpenTopics loads topics.json and adds the system topics a 5.x broker
// creates at start (TopicConfigManager.init) when the file lacks them:
// SELF_TEST_TOPIC, BenchmarkTest, the cluster-name and broker-name topics,
// OFFSET_MOVED_EVENT, SCHEDULE_TOPIC_XXXX (18 queues), <cluster>_REPLY_TOPIC,
// rmq_sys_REVIVE_LOG_<cluster>, rmq_sys_SYNC_BROKER_MEMBER_<broker>, the two
// transaction topics, and, when enabled, TBW102, the trace topic and
// rmq_sys_wheel_timer. A topic already in the file is left as it is, with
// one exception: TBW102's inherit bit follows TopicDefaults.AutoCreate, so
// that switching auto-creation off takes effect on a broker whose file still
// holds TBW102 from an earlier run.
//
// Every change (Put, Delete, a creation) bumps the DataVersion, which the
// broker sends with REGISTER_BROKER so that the name server re-reads the
// topic table only when it changed.
//
// Auto-creation follows TopicConfigManager.createTopicInSendMessageMethod:
// CreateOnSend copies TBW102 (queue count min(requested, TBW102's write
// queues), perm without the inherit bit, same filter type) when AutoCreate
// is on and TBW102 carries the inherit bit; otherwise it fails with
// ErrTopicNotExist, except for %RETRY% topics, which are created with one
// queue as Java does.
//
// # Ownership and concurrency
//
// A Topics or Groups is owned by the broker role; every method is safe for
// concurrent use. Reads take a read lock and never wait for the disk.
// Changes are serialised by a second mutex held while the file is written,
// so two changes reach the file in the order they were made. Lock order:
// Topics.write (Groups.write) before Topics.mu (Groups.mu).
//
// A change becomes visible only once its file write succeeded; a failed
// write leaves the table as it was and returns the error, so what callers
// see is what the file holds (if only the final directory fsync failed, the
// file may already hold the change; the next write settles it).
//
// Values handed out (TopicConfig, SubscriptionGroupConfig) are copies, but
// their Attributes maps are shared with the table and must be treated as
// read-only; Put stores its own copy of the map it is given.
package metadata
