// Package pop is the broker side of RocketMQ 5.x pop consumption: the
// broker picks the queues, hands out messages with an invisible time, the
// consumer acknowledges each one, and what is not acknowledged in time is
// delivered again. It sits in the domain layer, on top of internal/store,
// internal/offset and internal/metadata; the processor package decodes the
// Remoting requests (POP_MESSAGE, ACK_MESSAGE, BATCH_ACK_MESSAGE,
// CHANGE_MESSAGE_INVISIBLETIME, NOTIFICATION) and calls a Service.
//
// # Wire formats (frozen, Java's)
//
// The receipt handle ("extraInfo", property POP_CK) is ExtraInfo's
// space-separated string; the offset-info headers of a pop response are
// built by AppendStartOffsetInfo, AppendMsgOffsetInfo and
// AppendOrderCountInfo; checkpoints and acks are JSON bodies (CheckPoint,
// AckMsg) of records in rmq_sys_REVIVE_LOG_<cluster> tagged "ck", "ack"
// and "bAck", with Java's UNIQ_KEYs. Pop retry topics are
// %RETRY%<group>_<topic> (V1, Java's default); their messages are returned
// under the original topic with POP_CK set.
//
// # Non-FIFO pops: checkpoints
//
// A pop of one queue reads from the queue's cursor and stores one
// checkpoint (start offset, pop time, invisible time, the offsets taken) in
// one of the revive queues, round robin, before answering. An ack is an
// "ack" record in the same revive queue; ChangeInvisibleTime stores a new
// one-message checkpoint (pop time now) and an ack of the old one in one
// batch. Unlike Java, the records are not sent through the timer wheel:
// they are stored at once, and the Book keeps in memory every checkpoint
// in flight with its ack bits, ordered by revive time. When a
// checkpoint's time comes, Run re-puts its unacked messages into the retry
// topic (queue 0, reconsumeTimes + 1, 1ST_POP_TIME), or into %DLQ%<group>
// once a message was delivered retryMaxTimes + 1 times (17 by default), and
// writes a "bAck" record for them so a restart does not revive them again.
//
// The Book also keeps the ranges each queue was popped in. The consume
// offset of the group moves past a range once every message in it is
// acked or revived (Java moves it at pop time); the next pop starts after
// the last range (the cursor). A checkpoint record is needed until its
// range is committed: the revive progress of a revive queue (stored as the
// consume offset of CID_RMQ_SYS_REVIVE_GROUP on it, written with the other
// offsets) is its first record still needed.
//
// # Restarts
//
// Open reads every revive queue from its progress: checkpoints, then acks
// and batch acks set their bits; the ranges and cursors are rebuilt from
// the checkpoints found (a checkpoint's record is kept until its range is
// committed, so none is missing), and revive times already past revive at
// once. An acked message is thus never delivered again after a restart; a
// message popped in the last moments before a crash may be (at least
// once).
//
// # FIFO pops
//
// A FIFO pop (order=true) writes no checkpoint (reviveQid 999): the
// OrderBook keeps, per queue and group, the messages in flight (pop time,
// next visible time, delivery count, message group) and the offsets done
// out of order, and is saved in config/popOrderInfo.json. Beyond RocketMQ,
// which blocks a whole queue while any message of it is in flight, a pop
// holds back only the messages whose message group (__SHARDINGKEY) has an
// earlier message in flight and invisible; other groups of the queue go on.
// A message whose invisible time passed is delivered again with its count
// raised (orderCountInfo); after retryMaxTimes + 1 deliveries it goes to
// the DLQ instead and stops blocking its group. The consume offset is the
// first offset not done.
//
// # Concurrency
//
// A Service is safe for concurrent use. A pop holds its queue's mutex
// (TryLock: a queue another pop is reading is skipped, as in Java); FIFO
// acks and changes wait for it. Lock order: queue mutex, then settling
// (read: a Book change and the commits it yields; write: Persist), then the
// revive-queue mutex (checkpoint puts), then OrderBook, then Book. Run
// owns the revives.
package pop
