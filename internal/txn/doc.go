// Package txn holds RocketMQ transactional messages on the broker: half
// (prepared) messages, their commit or rollback (END_TRANSACTION), and the
// check-back service that asks producers about transactions left open
// (CHECK_TRANSACTION_STATE). It sits in the domain layer: it uses the store
// and the offset table, and reaches producers only through the Checker
// interface, which the broker's processor implements over Remoting.
//
// # Half messages
//
// A single SEND_MESSAGE whose property TRAN_MSG is "true" is stored by ToHalf
// as an ordinary record of RMQ_SYS_TRANS_HALF_TOPIC queue 0, consumed by
// nobody: the real topic and queue go into REAL_TOPIC and REAL_QID, UNIQ_KEY
// is copied into __transactionId__, and the transaction bits of the sysflag
// are cleared (so the store gives it a queue offset and dispatches it). The
// send reply carries the half's offset msg id and half-queue offset; the
// producer hands both back in END_TRANSACTION.
//
// # Ending a transaction
//
// Service.End reads the half by commit-log offset, checks it against the
// request (producer group, queue offset, commit-log offset, and the
// CHECK_IMMUNITY_TIME_IN_SECONDS deadline for requests not answering a
// check), and then
//
//   - commit: stores a copy in the real topic and queue with REAL_TOPIC,
//     REAL_QID and TRAN_MSG removed, the COMMIT transaction type and
//     preparedTransactionOffset = the half's commit-log offset (born data
//     kept), then writes an op record;
//   - rollback: writes the op record only.
//
// An op record marks halves as done. Its layout (frozen):
//
//	topic  RMQ_SYS_TRANS_OP_HALF_TOPIC, queue = the half's queue
//	TAGS   "d"
//	body   ASCII decimal half-queue offsets, each followed by ','
//	       e.g. "17,18,"
//
// # Check-back
//
// Service.Run runs a round every CheckInterval. For each half queue it
// resumes at the progress offsets kept as consumer offsets of the system
// group CID_RMQ_SYS_TRANS on the half queue and its op queue (package
// offset persists them, so a restart resumes where the last round stopped;
// the halves themselves are in the store). It reads the op records from the
// op progress offset to learn which halves are done, then walks the halves
// in queue order:
//
//   - done: skipped;
//   - TRANSACTION_CHECK_TIMES ≥ CheckMax, or born longer ago than
//     FileReservedTime: moved to TRANS_CHECK_MAX_TIME_TOPIC queue 0 and
//     skipped (discarded);
//   - stored after the round began, or born less than Timeout ago (or, with
//     CHECK_IMMUNITY_TIME_IN_SECONDS, less than that): the round stops on
//     this queue (immune halves are instead re-appended carrying their
//     original queue offset in TRAN_PREPARED_QUEUE_OFFSET, as RocketMQ
//     does);
//   - otherwise: a copy with TRANSACTION_CHECK_TIMES + 1 is appended to the
//     half queue and CHECK_TRANSACTION_STATE is sent for the copy to one live
//     producer of the half's PGROUP. The producer answers with
//     END_TRANSACTION naming the copy; an unknown answer leaves the copy to be
//     checked again in a later round.
//
// At the end of a round the half progress moves to where the walk stopped
// and the op progress past the leading op records read at the start of the
// round whose halves all lie behind it. A round on one queue stops after
// MaxRoundTime. As in RocketMQ, delivery is at least once: a commit whose op
// record is lost in a crash is checked again and may be committed twice.
//
// # Concurrency
//
// A Service is safe for concurrent use: End runs on the processor's workers
// while Run checks in its own goroutine; they share only the store and the
// offset table, which are safe for concurrent use. The pure functions
// (ToHalf, CommitMessage, OpMessage, ParseOpBody, CheckCopy, CheckBody) do
// no I/O.
package txn
