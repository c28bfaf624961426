// Package index is the message index of the store: a hash index from message
// keys to commit-log offsets, kept in files byte-compatible with Apache
// RocketMQ's index files (store/index/IndexFile.java), so a Quiver broker can
// read a RocketMQ store's index directory and the other way round.
//
// It sits in the store layer, below the store that owns it, and uses only
// internal/vfs for disk access and internal/message for Java's string hash.
// The store's dispatcher calls Put for every key of every message it
// dispatches ("<topic>#<UNIQ_KEY>" and "<topic>#<each KEYS token>"); query
// handlers call Query.
//
// # File format
//
// The index directory holds files named by their local creation time,
// yyyyMMddHHmmssSSS (for example 20240131235959123); names of one directory
// strictly increase in creation order. Every file has the same fixed size,
// preallocated at creation and accessed through a shared memory mapping:
//
//	+--------------------+ 0
//	| header (40 bytes)  |
//	+--------------------+ 40
//	| slot 0             |  SlotCount slots of 4 bytes
//	| ...                |
//	| slot SlotCount-1   |
//	+--------------------+ 40 + SlotCount*4
//	| entry 0 (unused)   |  MaxEntries entries of 20 bytes
//	| entry 1            |
//	| ...                |
//	| entry MaxEntries-1 |
//	+--------------------+ 40 + SlotCount*4 + MaxEntries*20
//
// With RocketMQ's defaults (5,000,000 slots, 20,000,000 entries) a file is
// 420,000,040 bytes. All integers are big-endian and signed.
//
// The header:
//
//	 0                   8                   16                  24
//	+-------------------+-------------------+-------------------+
//	| beginTimestamp    | endTimestamp      | beginPhyOffset    |
//	| int64, Unix ms    | int64, Unix ms    | int64             |
//	+-------------------+---------+---------+-------------------+
//	| endPhyOffset      | hashSlot| index   |
//	| int64             | Count   | Count   |
//	|                   | int32   | int32   |
//	+-------------------+---------+---------+
//	24                  32        36        40
//
// indexCount is the number of the next entry to write: a new file has 1,
// entries 1..indexCount-1 are in use, and entry 0 never is; a reader treats
// 0 or less as 1, and a file is full when indexCount reaches MaxEntries.
// hashSlotCount, despite its name, counts puts (indexCount-1); readers ignore
// it. The begin fields are those of the first entry (of the previous file's
// end while the file is empty), the end fields those of the last.
//
// A slot holds the number of the newest entry whose key hashes to it, 0 if
// none. An entry:
//
//	 0         4                   12        16        20
//	+---------+-------------------+---------+---------+
//	| keyHash | phyOffset         | timeDiff| prevIdx |
//	| int32   | int64             | int32   | int32   |
//	+---------+-------------------+---------+---------+
//
// keyHash is KeyHash(key): the absolute value of Java's String.hashCode of
// the key, 0 for Integer.MIN_VALUE. The key's slot is keyHash % SlotCount.
// timeDiff is the store time in whole seconds after beginTimestamp, clamped
// to [0, MaxInt32]. prevIndex is the slot's previous value, so each slot
// heads a chain of colliding keys, newest first, ending at 0.
//
// The constants HeaderSize, SlotSize, EntrySize and the field offsets are
// frozen: changing them breaks compatibility with RocketMQ. The format is
// also described in docs/format/index.md.
//
// # Reading untrusted bytes
//
// ReadFile and FileView read a file image without trusting it: every slot
// value and prevIndex is checked against indexCount before it is followed,
// and a chain walk stops at a prevIndex that does not point to an older
// entry, so it ends in fewer than indexCount steps. No content makes a
// reader panic or loop; garbage yields wrong offsets at worst, which callers
// discard when the message's key does not match. Verify checks the
// structure; Index.Truncate restores it after a crash.
//
// # Writing, crashes and recovery
//
// Entries are appended in commit-log order. Pages of the mapping reach the
// disk in any order unless Sync is called, so after a crash a file may
// combine an old header with newer slots and entries, or the reverse. Open
// accepts such files; Truncate, called with the recovered end of the commit
// log, drops entries at or past it and rebuilds the slot table and chains
// of the newest file from its entries. Given an offset below which the
// index was synced, that leaves every file consistent: files created since
// that Sync hold only later entries and are deleted. The dispatcher then replays the
// messages from that offset on. Put skips only messages below EndPhyOffset, so a replay
// that starts earlier indexes the keys of the message at EndPhyOffset a
// second time, as RocketMQ does; queries then return its offset twice.
//
// # Concurrency
//
// Put, Truncate and DeleteBefore are called by one goroutine, the store's
// dispatcher. Query and EndPhyOffset may be called from any goroutine at
// any time, and Sync from any goroutine. An Index holds two mutexes, taken
// in this order:
//
//  1. syncMu: held by Sync for its whole run and by Truncate, DeleteBefore
//     and Close, so Sync can fsync full (sealed) files without blocking Put.
//  2. mu, a sync.RWMutex over the file list and the mapped bytes: Query,
//     EndPhyOffset and Sync (while it syncs the newest file) hold it for
//     reading; Put, Truncate, DeleteBefore and Close for writing.
//
// # Differences from RocketMQ
//
// The first entry of a file gets timeDiff 0. RocketMQ computes it against
// the begin time inherited from the previous file just before replacing
// that with the entry's own time, so its first entries can claim a later
// time than they have. Reading either is the same code.
//
// Lookups treat a slot or prevIndex equal to indexCount as empty (RocketMQ
// follows it into an unwritten entry), and Query searches every file whose
// time range touches the query's instead of stopping at the first file that
// begins before it, which matters only when the broker's clock went back.
//
// RocketMQ recovers the index by deleting files newer than the checkpoint's
// indexMsgTimestamp and re-dispatching; Quiver truncates to the commit
// log's recovered end instead (Truncate).
package index
