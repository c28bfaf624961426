// Package timer delivers messages at any chosen time: RocketMQ 5.x's timer
// messages (TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS) on a time
// wheel and a timer log on disk, with RocketMQ 5.3.2's recall, plus what
// RocketMQ lacks: reschedule, status, delays up to a year, and delivery at
// the exact millisecond rather than at the end of a precision slot. It sits
// in the domain layer, on top of internal/store.
//
// # Put time
//
// Rules.Transform is the broker's put hook (HookUtils): a message due in
// the future is stored in Topic (rmq_sys_wheel_timer) queue 0 with
// REAL_TOPIC, REAL_QID, TIMER_OUT_MS (the start of its slot, as RocketMQ
// rounds it) and TIMER_DELIVER_MS (its exact time, also when the client
// gave a relative delay). A delay beyond MaxDelay (40 days by default,
// timerMaxDelaySec) is ErrIllegal; a time already past is stored as an
// ordinary message.
//
// # On disk
//
// Slot s holds the timers due in (s·P, (s+1)·P], P = PrecisionMs. The
// wheel file (Dir/timerwheel) has 2·W slots of 32 bytes, W being the roll
// window in slots; slot s lives at s mod 2W and names s, so an entry from
// an older lap reads as empty. An entry is the head of a chain through the
// timer log (Dir/timerlog/, 72-byte CRC'd units appended in segments):
// each unit names its timer record's commit-log offset, its exact deliver
// time, its epoch, the hash of "<topic>+<uniqKey>", its slot and the
// previous unit of that slot. A timer further out than W slots is linked
// W−1 slots ahead with the roll flag; when that slot is reached the record
// is stored again in Topic (TIMER_ROLL_TIMES + 1) and enqueued anew, so any
// delay works, and the record also outlives the commit log's retention.
//
// # One goroutine
//
// Run reads Topic's queue from the checkpointed offset and links a unit
// per record (enqueue); it reads ("gathers") slot s when its time is a
// little ahead (min(P/2, 200 ms)), markers first, into a heap ordered by
// exact deliver time, and stores each timer in its real topic when its
// time has come: never early, and late only by the pipeline. The read slot
// R is the lowest slot not fully delivered. A record enqueued for a slot
// already gathered goes straight into the heap; one for a slot already
// done is delivered at once. Recall, Reschedule and Status run on the
// same goroutine (via a request channel), so they see one state.
//
// # Recall and reschedule
//
// A recall marker (TIMER_DEL_UNIQKEY = "<topic>+<uniqKey>", tag
// _RECALL_TAG_, as RocketMQ's RecallMessageProcessor writes it) is linked
// into the timer's slot and cancels the timers of its key in that slot
// whose epoch is at most its bound. The epoch of a timer is the Topic
// queue offset of its first record (rolled copies keep it in TIMER_EPOCH);
// a plain marker's bound is its own queue offset − 1 (everything stored
// before it), a reschedule's marker names the epoch it moves. Reschedule
// stores the timer again with the new time, then the marker, in one batch.
// Status reads the timer's records through the message index (Topic and
// its real topic, keyed by UNIQ_KEY) and the wheel's state.
//
// # Crashes
//
// Every FlushInterval the log is synced, the wheel's changed slots are
// written and synced (so the wheel only points at durable units), and a
// checkpoint {read slot, queue offset, log end, commit-log offset} is
// written once the commit log is flushed past everything it vouches for.
// Recovery links again the units after the checkpoint's log end (a slot
// already pointing at or past a unit has it), cuts a torn tail and units
// whose record did not survive, and scans the commit log written since the
// checkpoint for delivered messages (TIMER_EPOCH) so that the slots after
// the read slot deliver none twice. Units are deduplicated by epoch as
// well, so a record enqueued twice, or rolled twice, is delivered once.
// Log segments whose units all belong to done slots are deleted after a
// checkpoint.
package timer
