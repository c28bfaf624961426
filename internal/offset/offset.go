// Package offset keeps the committed consume offsets of consumer groups
// (RocketMQ's ConsumerOffsetManager): for each (group, topic, queue) the
// queue offset of the next message the group will consume.
//
// The table lives in memory and is written to <storeRoot>/config/
// consumerOffset.json by Persist, which the broker calls every
// flushConsumerOffsetInterval (5 s; Run does this) and at shutdown:
//
//	{
//		"offsetTable": {
//			"<topic>@<group>": {"0": 12, "1": 7}
//		}
//	}
//
// Queue ids are written as quoted keys (standard JSON); files written by a
// Java broker, whose fastjson leaves them bare ({0:12}), load as well. The
// write is atomic with a ".bak" fallback (package jsonfile), so a crash
// loses at most the commits since the last Persist, never the file.
//
// # Server-side reset
//
// Reset sets an offset and marks it pending (J assignResetOffset). While a
// reset is pending, Commit ignores the queue's client commits (they carry
// the position from before the reset) and returns false; the pull
// processor answers the next pull with the reset offset and clears the mark
// with TakeReset. Pending resets live in memory only, as in Java.
//
// # Concurrency
//
// A Store is safe for concurrent use. Commits come from every connection
// and cost a map update under one mutex. Persist copies the table under
// that mutex and encodes and writes it outside; a second mutex serialises
// Persist calls (lock order: persist before mu). Persist skips the write
// when nothing changed since the last one.
package offset

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// File is the name of the offset table in the config directory.
const File = "consumerOffset.json"

// DefaultPersistInterval is RocketMQ's flushConsumerOffsetInterval.
const DefaultPersistInterval = 5 * time.Second

// sep joins topic and group in the file's keys (J TOPIC_GROUP_SEPARATOR).
// Neither names may contain it.
const sep = "@"

type key struct{ topic, group string }

// Store is the consume offset table. See the package comment.
type Store struct {
	fs   vfs.FS
	path string

	persist sync.Mutex // serialises Persist; taken before mu

	mu        sync.Mutex
	table     map[key]map[int32]int64
	resets    map[key]map[int32]int64 // pending server-side resets
	changes   uint64                  // bumped by every change of table
	persisted uint64                  // changes as of the last successful write
}

// fileFormat is the shape of consumerOffset.json.
type fileFormat struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
}

// Open loads dir/consumerOffset.json, or its backup when the file is
// missing or unusable (the backup is then written back as the main file at
// once); dir is created if missing. A key without "@" or a queue id that is
// not a number makes a file unusable.
func Open(fs vfs.FS, dir string) (*Store, error) {
	if err := jsonfile.EnsureDir(fs, dir); err != nil {
		return nil, fmt.Errorf("offset: %w", err)
	}
	s := &Store{
		fs:     fs,
		path:   filepath.Join(dir, File),
		table:  map[key]map[int32]int64{},
		resets: map[key]map[int32]int64{},
	}
	from, err := jsonfile.Read(fs, s.path, func(b []byte) error {
		var f fileFormat
		if err := jsonfile.Unmarshal(b, &f); err != nil {
			return err
		}
		table := make(map[key]map[int32]int64, len(f.OffsetTable))
		for k, queues := range f.OffsetTable {
			topic, group, ok := strings.Cut(k, sep)
			if !ok || topic == "" || group == "" {
				return fmt.Errorf("offset: key %q is not <topic>@<group>", k)
			}
			if queues == nil {
				queues = map[int32]int64{}
			}
			table[key{topic, group}] = queues
		}
		s.table = table
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("offset: load: %w", err)
	}
	if from != "" && from != s.path {
		// Loaded from the backup: write it back as the main file now.
		s.changes = 1
		if err := s.Persist(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Commit stores a group's offset for a queue (UPDATE_CONSUMER_OFFSET, the
// commit carried by a pull). It returns false, storing nothing, while a
// server-side reset of that queue is pending (see Reset). Offsets may move
// backwards: the client is the authority, as in Java.
func (s *Store) Commit(group, topic string, queueID int32, offset int64) bool {
	k := key{topic, group}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, pending := s.resets[k][queueID]; pending {
		return false
	}
	s.setLocked(k, queueID, offset)
	return true
}

func (s *Store) setLocked(k key, queueID int32, offset int64) {
	q := s.table[k]
	if q == nil {
		q = map[int32]int64{}
		s.table[k] = q
	}
	q[queueID] = offset
	s.changes++
}

// Query returns a group's committed offset for a queue, and false when
// there is none (QUERY_CONSUMER_OFFSET then applies its "not found" rule).
func (s *Store) Query(group, topic string, queueID int32) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off, ok := s.table[key{topic, group}][queueID]
	return off, ok
}

// Table returns a copy of a group's offsets on a topic, by queue id; nil if
// there are none.
func (s *Store) Table(group, topic string) map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.table[key{topic, group}])
}

// Groups returns the groups with offsets, sorted.
func (s *Store) Groups() []string {
	return s.collect(func(k key) (string, bool) { return k.group, true })
}

// Topics returns the topics on which group has offsets, sorted.
func (s *Store) Topics(group string) []string {
	return s.collect(func(k key) (string, bool) { return k.topic, k.group == group })
}

// GroupsByTopic returns the groups with offsets on topic, sorted
// (J whichGroupByTopic).
func (s *Store) GroupsByTopic(topic string) []string {
	return s.collect(func(k key) (string, bool) { return k.group, k.topic == topic })
}

func (s *Store) collect(pick func(key) (string, bool)) []string {
	set := map[string]struct{}{}
	s.mu.Lock()
	for k := range s.table {
		if v, ok := pick(k); ok {
			set[v] = struct{}{}
		}
	}
	s.mu.Unlock()
	return slices.Sorted(maps.Keys(set))
}

// Reset sets a group's offset for a queue on the server's initiative
// (admin reset) and marks the reset pending, so that client commits of that
// queue are ignored until the pull processor takes it with TakeReset.
func (s *Store) Reset(group, topic string, queueID int32, offset int64) {
	k := key{topic, group}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resets[k]
	if r == nil {
		r = map[int32]int64{}
		s.resets[k] = r
	}
	r[queueID] = offset
	s.setLocked(k, queueID, offset)
}

// PendingReset returns the offset of a pending reset of a queue
// (J hasOffsetReset).
func (s *Store) PendingReset(group, topic string, queueID int32) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off, ok := s.resets[key{topic, group}][queueID]
	return off, ok
}

// TakeReset returns and clears a pending reset of a queue
// (J queryThenEraseResetOffset); client commits are accepted again after.
func (s *Store) TakeReset(group, topic string, queueID int32) (int64, bool) {
	k := key{topic, group}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resets[k]
	off, ok := r[queueID]
	if ok {
		delete(r, queueID)
		if len(r) == 0 {
			delete(s.resets, k)
		}
	}
	return off, ok
}

// DeleteGroup removes every offset (and pending reset) of a group
// (DELETE_SUBSCRIPTIONGROUP with cleanOffset).
func (s *Store) DeleteGroup(group string) {
	s.deleteWhere(func(k key) bool { return k.group == group })
}

// DeleteTopic removes every group's offsets on a topic (DELETE_TOPIC).
func (s *Store) DeleteTopic(topic string) {
	s.deleteWhere(func(k key) bool { return k.topic == topic })
}

func (s *Store) deleteWhere(match func(key) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.table {
		if match(k) {
			delete(s.table, k)
			s.changes++
		}
	}
	for k := range s.resets {
		if match(k) {
			delete(s.resets, k)
		}
	}
}

// Persist writes the table to the file if it changed since the last
// successful write. On error the file keeps its previous content and the
// next Persist tries again.
func (s *Store) Persist() error {
	s.persist.Lock()
	defer s.persist.Unlock()

	s.mu.Lock()
	if s.changes == s.persisted {
		s.mu.Unlock()
		return nil
	}
	changes := s.changes
	f := fileFormat{OffsetTable: make(map[string]map[int32]int64, len(s.table))}
	for k, q := range s.table {
		f.OffsetTable[k.topic+sep+k.group] = maps.Clone(q)
	}
	s.mu.Unlock()

	data, err := jsonfile.Marshal(f)
	if err == nil {
		err = jsonfile.Write(s.fs, s.path, data)
	}
	if err != nil {
		return fmt.Errorf("offset: persist: %w", err)
	}
	s.mu.Lock()
	s.persisted = changes
	s.mu.Unlock()
	return nil
}

// Run persists the table every interval (DefaultPersistInterval if ≤ 0)
// until ctx ends, then once more, and returns that last Persist's error.
// Errors on the way are logged to log (nil discards them) and retried at
// the next tick.
func (s *Store) Run(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	if interval <= 0 {
		interval = DefaultPersistInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.Persist()
		case <-tick.C:
			if err := s.Persist(); err != nil {
				log.Error("persist consumer offsets", "err", err)
			}
		}
	}
}
