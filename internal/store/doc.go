// Package store is Quiver's message store: RocketMQ's CommitLog, ConsumeQueue
// and Index, with group-committed sync flush, crash recovery and retention.
//
// # Data path
//
// Put appends on the caller's goroutine, one at a time (a combiner: the put
// that finds none appending appends for all queued puts, put.go): it
// assigns the queue offset and store timestamp and encodes the record
// straight into the mapped segment (a memory copy, no system call). No
// appender goroutine: a hand-off and its answer would cost two wake-ups per
// message, more than the copy. Under ASYNC_FLUSH the put is acknowledged at
// once and a flusher syncs on an interval; under SYNC_FLUSH a put waits for
// an fdatasync past its record, led by the first waiting put that finds none
// running, which covers every put appended before it began (group commit,
// see put.go).
//
// The dispatcher tails the commit log up to the confirm offset (the write
// offset under ASYNC_FLUSH, the flushed offset under SYNC_FLUSH, so only
// durable messages become readable) and writes a consume-queue unit and the
// index keys for each record. A checkpoint loop makes consume queues and the
// index durable, then records the commit-log offset up to which all of them
// are (the safe offset).
//
// # Recovery
//
// The abort file exists while the store runs; finding it at start means the
// last run crashed. Either way recovery truncates consume queues and the
// index to the safe offset, then scans the commit log from there, checking
// lengths and body CRCs, re-dispatching every valid record. The first invalid
// record ends the log (a torn tail), unless a valid record follows it: then it
// is a damaged record in the middle, reported as a *commitlog.CorruptionError
// and skipped. Bytes past the end are cleared so they can never come back.
// Reads check every record's CRC and never return a damaged one.
//
// # Concurrency and lock order
//
// Put, Get and the lookups are safe for concurrent use. Goroutines: flusher,
// dispatcher, checkpointer, cleaner; all stop in Close. Lock order:
// Store.mu (topic/queue table) before a segment queue's lock.
package store
