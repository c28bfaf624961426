// Package schedule holds RocketMQ's delay levels: messages sent with
// property DELAY = n wait in SCHEDULE_TOPIC_XXXX queue n−1 for the n-th
// delay of messageDelayLevel ("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m
// 20m 30m 1h 2h") and are then stored again in the topic and queue they were
// sent to (J ScheduleMessageService, HookUtils). It sits in the domain layer,
// on top of internal/store.
//
// # Pure part
//
// ParseLevels reads messageDelayLevel. Redirect is the put hook: it turns a
// message whose DELAY is above 0 (and which is not a transaction half or
// rollback) into a schedule record, keeping its topic and queue in REAL_TOPIC
// and REAL_QID and clamping DELAY to the last level. TagsCodeFunc gives the
// store's dispatcher the consume-queue tag code RocketMQ writes for schedule
// records, their deliver time (store timestamp + delay). None of them does
// I/O.
//
// # Delivery
//
// A Service owns one goroutine, Run. For each level it keeps the queue
// offset of the first record not yet delivered, reads from there with
// store.GetMessages, and re-puts, in queue order, each record whose deliver
// time has come: body, flag, sysFlag, born time and host, reconsume times and
// properties are kept, DELAY, TIMER_DELIVER_MS and TIMER_DELAY_SEC are
// removed, WAIT=false is set (the put does not wait for a sync flush), and
// REAL_TOPIC and REAL_QID name the target. The deliver time is computed from
// the record itself (store timestamp + the level's delay), so delivery does
// not depend on the tag code in the consume queue. A record is never
// delivered before its deliver time, except that one more than a full delay
// in the future (the clock went back) is due at once, as in Java. Records of
// one level are delivered in the order they were stored, and a level waits
// for its head: delays are equal within a level, so later records are not
// due sooner.
//
// Nothing polls records. A level whose head is not yet due sleeps until that
// time; a drained level checks its queue's max offset every PollInterval
// (100 ms; a record is due a full delay after it is stored, so this is early
// enough) or when Notify says a schedule record was dispatched. Deliveries
// are batched (PutBatch). A put the store refuses for a reason that may pass
// (disk full, store closed) is retried after RetryInterval (10 s) from the
// same record: nothing is skipped. A record that can never be delivered (no
// REAL_TOPIC, a bad REAL_QID, a message the store refuses as illegal) is
// logged and dropped rather than stopping its level for ever, as Java would.
//
// # Progress and restarts
//
// Progress is written to <Dir>/delayOffset.json as RocketMQ writes it,
// {"offsetTable":{"1":12,"2":0,…}} (level → queue offset; Java's bare
// numeric keys are read too), atomically with a .bak fallback (package
// jsonfile): PersistDelay (1 s) after a delivery, every FlushInterval (10 s)
// while it changed, and when Run ends. A written offset never runs ahead of
// the commit log's flushed offset: deliveries whose re-put is not yet durable
// are left for a later write, so a crash can lose none of them.
//
// Delivery is therefore at least once. After a crash a level starts again
// from its last written offset, and redelivers the messages delivered after
// it: those of about the last PersistDelay, twice that if the store had not
// yet flushed them when the write came (1 to 2 s with the defaults; up to
// FlushInterval when PersistDelay is negative).
// After a clean stop (Run returns, the store closes, then Persist) nothing is
// redelivered. At start each offset is clamped into its queue's offsets, so a
// schedule queue that lost its unflushed tail, or was trimmed by retention,
// is resumed where it now ends or starts.
//
// # Concurrency
//
// Run is the only goroutine that reads the schedule queues and delivers.
// Offsets, Notify and Persist are safe to call from any goroutine, also
// while Run runs. Locks: persistMu (serialises Persist) before mu (the
// progress table).
package schedule
