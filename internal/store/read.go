package store

import (
	"errors"
	"fmt"
	"sort"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/commitlog"
	"github.com/quiver-mq/quiver/internal/store/consumequeue"
)

// GetStatus says how a GetMessages call went (RocketMQ GetMessageStatus).
type GetStatus int

const (
	Found               GetStatus = iota // Records holds messages
	NoMatchedMessage                     // units were read but none matched the filter
	NoMessageInQueue                     // the queue is empty
	OffsetTooSmall                       // offset below the queue's min offset
	OffsetOverflowOne                    // offset == max offset: nothing new yet
	OffsetOverflowBadly                  // offset > max offset
	OffsetFoundNull                      // the units point at records no longer stored
)

var getStatusNames = [...]string{"FOUND", "NO_MATCHED_MESSAGE", "NO_MESSAGE_IN_QUEUE",
	"OFFSET_TOO_SMALL", "OFFSET_OVERFLOW_ONE", "OFFSET_OVERFLOW_BADLY", "OFFSET_FOUND_NULL"}

func (s GetStatus) String() string {
	if int(s) < len(getStatusNames) {
		return getStatusNames[s]
	}
	return fmt.Sprintf("GetStatus(%d)", int(s))
}

// Filter selects messages during GetMessages. Either method may be nil-safe
// by returning true. MatchTagsCode sees the consume-queue tag hash;
// MatchRecord, called only when MatchTagsCode passed, sees the stored record.
type Filter interface {
	MatchTagsCode(tagsCode int64) bool
	MatchRecord(rec []byte) bool
}

// GetResult holds messages read from one consume queue.
type GetResult struct {
	Status GetStatus
	// Records are stored records (RocketMQ V1 layout unless a topic is
	// longer than 127 bytes), CRC-checked, in queue order. They share Buf,
	// which holds exactly them, back to back: a reader that wants them
	// joined (a PULL response body) can use Buf as it is.
	Records [][]byte
	// QueueOffsets[i] is the queue offset of Records[i].
	QueueOffsets []int64
	// NextBeginOffset is where the next read should start.
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	// Corrupt lists damaged records that were skipped.
	Corrupt []*commitlog.CorruptionError
	Buf     []byte
}

// GetMessages reads up to maxMsgs messages (and about maxBytes of records)
// from a consume queue starting at offset. Damaged records are skipped and
// reported in Corrupt; they are never returned.
func (s *Store) GetMessages(topic string, queueID int32, offset int64, maxMsgs, maxBytes int, f Filter) (GetResult, error) {
	var r GetResult
	cq, err := s.consumeQueue(topic, queueID, false)
	if err != nil {
		return r, err
	}
	if cq == nil {
		r.Status = NoMessageInQueue
		return r, nil
	}
	r.MinOffset, r.MaxOffset = cq.MinOffset(), cq.MaxOffset()
	switch {
	case r.MaxOffset == 0 || r.MinOffset >= r.MaxOffset:
		r.Status, r.NextBeginOffset = NoMessageInQueue, r.MinOffset
		if offset != r.MinOffset {
			r.Status = OffsetOverflowBadly
			if offset < r.MinOffset {
				r.Status = OffsetTooSmall
			}
		}
		return r, nil
	case offset < r.MinOffset:
		r.Status, r.NextBeginOffset = OffsetTooSmall, r.MinOffset
		return r, nil
	case offset == r.MaxOffset:
		r.Status, r.NextBeginOffset = OffsetOverflowOne, offset
		return r, nil
	case offset > r.MaxOffset:
		r.Status, r.NextBeginOffset = OffsetOverflowBadly, r.MaxOffset
		return r, nil
	}
	if maxMsgs <= 0 {
		maxMsgs = 32
	}
	if maxBytes <= 0 {
		maxBytes = 256 << 10
	}
	// Scan at most this many units per call, so a filter that matches
	// nothing cannot make one call read a whole queue.
	const maxScan = 16000
	next, scanned, missing := offset, 0, 0
	minPhys := s.clog.MinOffset()
	cq.Read(offset, func(qo int64, u consumequeue.Unit) bool {
		if len(r.Records) >= maxMsgs || scanned >= maxScan || (len(r.Records) > 0 && len(r.Buf)+int(u.Size) > maxBytes) {
			return false
		}
		scanned++
		next = qo + 1
		if u.CommitLogOffset < minPhys {
			missing++
			return true
		}
		if f != nil && !f.MatchTagsCode(u.TagsCode) {
			return true
		}
		if r.Buf == nil {
			// Size Buf once for the whole read, from this record's size:
			// growing it record by record copies and allocates again.
			n := min(int64(maxMsgs), r.MaxOffset-qo)
			r.Buf = make([]byte, 0, min(n*int64(u.Size)+int64(u.Size)/4, int64(max(maxBytes, int(u.Size)))))
		}
		start := len(r.Buf)
		buf, err := s.clog.ReadRecord(r.Buf, u.CommitLogOffset)
		if err != nil {
			var ce *commitlog.CorruptionError
			if errors.As(err, &ce) {
				s.log.Error("damaged record not served", "topic", topic, "queue", queueID, "queueOffset", qo, "err", err)
				r.Corrupt = append(r.Corrupt, ce)
			} else {
				missing++
			}
			return true
		}
		if f != nil && !f.MatchRecord(buf[start:]) {
			r.Buf = buf[:start]
			return true
		}
		r.Buf = buf
		r.QueueOffsets = append(r.QueueOffsets, qo)
		r.Records = append(r.Records, buf[start:]) // re-sliced below if Buf moved
		return true
	})
	// Buf may have grown (moved) after earlier records were sliced: re-slice.
	pos := 0
	for i, rec := range r.Records {
		r.Records[i] = r.Buf[pos : pos+len(rec)]
		pos += len(rec)
	}
	r.NextBeginOffset = next
	switch {
	case len(r.Records) > 0:
		r.Status = Found
	case missing > 0 && missing == scanned:
		r.Status = OffsetFoundNull
	default:
		r.Status = NoMatchedMessage
	}
	return r, nil
}

// MaxOffset is the next queue offset to be written in a consume queue.
func (s *Store) MaxOffset(topic string, queueID int32) int64 {
	if cq, _ := s.consumeQueue(topic, queueID, false); cq != nil {
		return cq.MaxOffset()
	}
	return 0
}

// MinOffset is the first readable queue offset.
func (s *Store) MinOffset(topic string, queueID int32) int64 {
	if cq, _ := s.consumeQueue(topic, queueID, false); cq != nil {
		return cq.MinOffset()
	}
	return 0
}

// CommitLogMinOffset and CommitLogMaxOffset bound the stored bytes.
func (s *Store) CommitLogMinOffset() int64 { return s.clog.MinOffset() }

// CommitLogMaxOffset is the commit-log write offset.
func (s *Store) CommitLogMaxOffset() int64 { return s.clog.WriteOffset() }

// DispatchedOffset is how far consume queues and the index have caught up.
func (s *Store) DispatchedOffset() int64 { return s.dispatched.Load() }

// FlushedOffset is how far the commit log is known durable.
func (s *Store) FlushedOffset() int64 { return s.flushed.Load() }

// ReadRecord returns a copy of the CRC-checked record at a commit-log offset.
func (s *Store) ReadRecord(physOffset int64) ([]byte, error) {
	return s.clog.ReadRecord(nil, physOffset)
}

// LookMessage decodes the record at a commit-log offset (VIEW_MESSAGE_BY_ID).
func (s *Store) LookMessage(physOffset int64) (message.Message, error) {
	rec, err := s.clog.ReadRecord(nil, physOffset)
	if err != nil {
		return message.Message{}, err
	}
	m, _, err := message.Decode(rec, false)
	return m, err
}

// MessageByOffsetID finds a message by its offset message id.
func (s *Store) MessageByOffsetID(id string) (message.Message, error) {
	_, off, err := message.ParseOffsetMsgID(id)
	if err != nil {
		return message.Message{}, err
	}
	return s.LookMessage(off)
}

// storeTimeAt returns the store timestamp of the message at a queue offset.
func (s *Store) storeTimeAt(cq *consumequeue.Queue, qo int64) (int64, bool) {
	u, ok := cq.Get(qo)
	if !ok || u.Blank() {
		return 0, false
	}
	m, err := s.LookMessage(u.CommitLogOffset)
	if err != nil {
		return 0, false
	}
	return m.StoreTimestamp, true
}

// OffsetByTime returns the first queue offset whose message was stored at or
// after ts (ms), or the max offset when none was (SEARCH_OFFSET_BY_TIMESTAMP).
func (s *Store) OffsetByTime(topic string, queueID int32, ts int64) int64 {
	cq, _ := s.consumeQueue(topic, queueID, false)
	if cq == nil {
		return 0
	}
	lo, hi := cq.MinOffset(), cq.MaxOffset()
	n := int(hi - lo)
	i := sort.Search(n, func(i int) bool {
		t, ok := s.storeTimeAt(cq, lo+int64(i))
		return !ok || t >= ts
	})
	return lo + int64(i)
}

// EarliestMessageTime is the store time of the first readable message in a
// queue (GET_EARLIEST_MSG_STORETIME).
func (s *Store) EarliestMessageTime(topic string, queueID int32) (int64, bool) {
	cq, _ := s.consumeQueue(topic, queueID, false)
	if cq == nil {
		return 0, false
	}
	return s.storeTimeAt(cq, cq.MinOffset())
}

// QueryByKey returns messages of topic whose KEYS contain key or whose
// UNIQ_KEY equals key, stored within [begin, end] ms, newest first, at most
// max.
func (s *Store) QueryByKey(topic, key string, max int, begin, end int64) ([]message.Message, error) {
	offs, err := s.idx.Query(topic+"#"+key, max*4+16, begin, end)
	if err != nil {
		return nil, err
	}
	var out []message.Message
	seen := make(map[int64]bool, len(offs))
	for _, off := range offs {
		if len(out) >= max {
			break
		}
		if seen[off] {
			continue // a key indexed twice (a message with a repeated key, or replay)
		}
		seen[off] = true
		m, err := s.LookMessage(off)
		if err != nil || m.Topic != topic {
			continue
		}
		if !hasKey(&m, key) {
			continue // hash collision
		}
		out = append(out, m)
	}
	return out, nil
}

func hasKey(m *message.Message, key string) bool {
	if u, ok := message.Property(m.Properties, message.PropertyUniqKey); ok && u == key {
		return true
	}
	if ks, ok := message.Property(m.Properties, message.PropertyKeys); ok {
		for _, k := range message.Keys(ks) {
			if k == key {
				return true
			}
		}
	}
	return false
}

// Topics lists the topics with a consume queue.
func (s *Store) Topics() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := make(map[string]bool)
	var out []string
	for k := range s.cqs {
		if !seen[k.topic] {
			seen[k.topic] = true
			out = append(out, k.topic)
		}
	}
	sort.Strings(out)
	return out
}

// QueueID names one consume queue.
type QueueID struct {
	Topic   string
	QueueID int32
}

// Queues lists every consume queue, sorted by topic and queue id.
func (s *Store) Queues() []QueueID {
	s.mu.RLock()
	out := make([]QueueID, 0, len(s.cqs))
	for k := range s.cqs {
		out = append(out, QueueID{k.topic, k.queue})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].QueueID < out[j].QueueID
	})
	return out
}

// StoreTimeAt is the store time (ms) of the message at a queue offset, or 0.
func (s *Store) StoreTimeAt(topic string, queueID int32, queueOffset int64) int64 {
	cq, _ := s.consumeQueue(topic, queueID, false)
	if cq == nil {
		return 0
	}
	ts, _ := s.storeTimeAt(cq, queueOffset)
	return ts
}
