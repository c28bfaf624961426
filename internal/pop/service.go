package pop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/metadata"
	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/offset"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// OrderFile is the FIFO state's file in the config directory.
const OrderFile = "popOrderInfo.json"

// Options configure a Service. RocketMQ's broker config key is named next
// to each field; zero takes the default in parentheses.
type Options struct {
	ClusterName string // brokerClusterName: names the revive topic
	BrokerName  string // brokerName: field 5 of every handle
	// StoreHost is the broker's address, written as born and store host of
	// the records it puts.
	StoreHost netip.AddrPort
	// Dir is the config directory (popOrderInfo.json); FS reaches it.
	Dir string
	FS  vfs.FS
	// RetryProbability is the percentage of pops that read the retry topic
	// first (popFromRetryProbability, 20).
	RetryProbability int
	// PersistInterval is how often the revive progress and the FIFO state
	// are saved (5 s).
	PersistInterval time.Duration
	// FIFOScanWindow bounds how far past the consume offset a FIFO pop
	// looks for messages of unblocked groups (2048).
	FIFOScanWindow int64
	// TopicsChanged is called after a retry or DLQ topic was created.
	TopicsChanged func()
	// Wake is told when a FIFO ack may have released messages of a queue
	// (so parked pops re-run); it must not block.
	Wake func(topic string, queueID int32)
	// Now is the clock (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.RetryProbability == 0 {
		o.RetryProbability = 20
	}
	if o.PersistInterval <= 0 {
		o.PersistInterval = 5 * time.Second
	}
	if o.FIFOScanWindow <= 0 {
		o.FIFOScanWindow = 2048
	}
	if o.TopicsChanged == nil {
		o.TopicsChanged = func() {}
	}
	if o.Wake == nil {
		o.Wake = func(string, int32) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	return o
}

// Service is the broker's pop consumption. See the package comment.
type Service struct {
	opts    Options
	st      *store.Store
	topics  *metadata.Topics
	groups  *metadata.Groups
	offsets *offset.Store
	log     *slog.Logger

	reviveTopic string
	reviveNums  int32
	ckMu        []sync.Mutex // per revive queue: put and register a checkpoint in order

	book  *Book
	order *OrderBook
	// settling is held (read) from a Book call that may release revive
	// records until its commits are applied, and (write) by Persist, so a
	// saved revive progress never passes a range whose consume offset is
	// not saved with it.
	settling sync.RWMutex
	locks    sync.Map // QueueKey → *sync.Mutex
	ckSeq    atomic.Uint64
	wake     chan struct{}
}

// Open loads the FIFO state, reads the revive topic back from its
// progress and rebuilds the checkpoints in flight. The revive topic must
// exist (the broker creates it at start).
func Open(st *store.Store, topics *metadata.Topics, groups *metadata.Groups, offsets *offset.Store, opts Options) (*Service, error) {
	opts = opts.withDefaults()
	s := &Service{
		opts: opts, st: st, topics: topics, groups: groups, offsets: offsets,
		log:         opts.Logger.With("component", "pop"),
		reviveTopic: metadata.ReviveTopic(opts.ClusterName),
		book:        NewBook(), order: NewOrderBook(),
		wake: make(chan struct{}, 1),
	}
	tc, ok := topics.Get(s.reviveTopic)
	if !ok {
		return nil, fmt.Errorf("pop: revive topic %s does not exist", s.reviveTopic)
	}
	s.reviveNums = int32(max(tc.WriteQueueNums, 1))
	s.ckMu = make([]sync.Mutex, s.reviveNums)
	if opts.Dir != "" {
		if _, err := jsonfile.Read(opts.FS, filepath.Join(opts.Dir, OrderFile), func(b []byte) error {
			ob, err := DecodeOrderBook(b)
			if err == nil {
				s.order = ob
			}
			return err
		}); err != nil {
			return nil, fmt.Errorf("pop: load %s: %w", OrderFile, err)
		}
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads every revive queue from its progress and rebuilds the book.
func (s *Service) load() error {
	n := 0
	for rq := range s.reviveNums {
		from, ok := s.offsets.Query(ReviveGroup, s.reviveTopic, rq)
		if !ok {
			from = s.st.MinOffset(s.reviveTopic, rq)
		}
		for {
			res, err := s.st.GetMessages(s.reviveTopic, rq, from, 64, 1<<20, nil)
			if err != nil {
				return fmt.Errorf("pop: read revive queue %d: %w", rq, err)
			}
			if res.Status == store.OffsetTooSmall {
				from = res.NextBeginOffset
				continue
			}
			if res.Status != store.Found && res.Status != store.NoMatchedMessage && res.Status != store.OffsetFoundNull {
				break
			}
			for i, rec := range res.Records {
				s.loadRecord(rq, res.QueueOffsets[i], rec)
				n++
			}
			if res.NextBeginOffset <= from {
				break
			}
			from = res.NextBeginOffset
		}
	}
	commits := s.book.Rebuild(func(q QueueKey) int64 {
		off, _ := s.offsets.Query(q.Group, q.Topic, q.QueueID)
		return off
	})
	s.apply(commits)
	s.log.Info("pop state loaded", "records", n, "checkpoints", s.book.Pending())
	return nil
}

func (s *Service) loadRecord(rq int32, qo int64, rec []byte) {
	m, _, err := message.Decode(rec, false)
	if err != nil {
		s.log.Warn("unreadable revive record skipped", "queue", rq, "offset", qo, "err", err)
		return
	}
	tag, _ := message.Property(m.Properties, message.PropertyTags)
	switch tag {
	case TagCheckPoint:
		ck, err := DecodeCheckPoint(m.Body)
		if err != nil {
			s.log.Warn("bad checkpoint skipped", "queue", rq, "offset", qo, "err", err)
			return
		}
		ck.ReviveOffset = qo
		s.book.Load(ck, rq, qo)
	case TagAck, TagBatchAck:
		a, err := DecodeAck(m.Body)
		if err != nil {
			s.log.Warn("bad ack skipped", "queue", rq, "offset", qo, "err", err)
			return
		}
		s.book.LoadAck(a.Key(), a.Offsets())
	}
}

func (s *Service) nowMs() int64 { return s.opts.Now().UnixMilli() }

func (s *Service) queueLock(q QueueKey) *sync.Mutex {
	if l, ok := s.locks.Load(q); ok {
		return l.(*sync.Mutex)
	}
	l, _ := s.locks.LoadOrStore(q, &sync.Mutex{})
	return l.(*sync.Mutex)
}

// apply stores consume offsets, never moving one backwards.
func (s *Service) apply(commits []Commit) {
	for _, c := range commits {
		if cur, ok := s.offsets.Query(c.Group, c.Topic, c.QueueID); !ok || c.Offset > cur {
			s.offsets.Commit(c.Group, c.Topic, c.QueueID, c.Offset)
		}
	}
}

func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// reviveRecord builds a revive-topic record.
func (s *Service) reviveRecord(rq int32, tag, uniq string, body []byte) *message.Message {
	now := s.nowMs()
	return &message.Message{
		Topic: s.reviveTopic, QueueID: rq, BornTimestamp: now, BornHost: s.opts.StoreHost, StoreHost: s.opts.StoreHost,
		Body: body, Properties: message.EncodeProperties(map[string]string{
			message.PropertyTags: tag, message.PropertyUniqKey: uniq, message.PropertyWaitStoreMsg: "true",
		}),
	}
}

// putCheckPoint stores a checkpoint in revive queue rq and registers it
// with add, under the queue's mutex so that registration follows the
// record order (the revive progress relies on it).
func (s *Service) putCheckPoint(ctx context.Context, ck *CheckPoint, rq int32, extra []*message.Message, add func(ro int64)) error {
	s.ckMu[rq].Lock()
	defer s.ckMu[rq].Unlock()
	msgs := append([]*message.Message{s.reviveRecord(rq, TagCheckPoint, ck.UniqKey(), ck.Encode())}, extra...)
	res, err := s.st.PutBatch(ctx, msgs)
	if err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		return fmt.Errorf("pop: store checkpoint: %w", err)
	}
	if len(res) == 0 {
		return fmt.Errorf("pop: store checkpoint: %w", err)
	}
	ck.ReviveOffset = res[0].QueueOffset
	add(res[0].QueueOffset)
	s.kick()
	return nil
}

// putAck stores an ack record in revive queue rq.
func (s *Service) putAck(ctx context.Context, a *AckMsg, rq int32) error {
	_, err := s.st.Put(ctx, s.reviveRecord(rq, a.Tag(), a.UniqKey(), a.Encode()))
	if err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		return fmt.Errorf("pop: store ack: %w", err)
	}
	return nil
}

// Persist saves the revive progress (as consume offsets of ReviveGroup,
// written with the other offsets) and the FIFO state.
func (s *Service) Persist() error {
	s.settling.Lock()
	defer s.settling.Unlock()
	for rq := range s.reviveNums {
		if p, ok := s.book.Progress(rq); ok {
			if cur, had := s.offsets.Query(ReviveGroup, s.reviveTopic, rq); !had || p > cur {
				s.offsets.Commit(ReviveGroup, s.reviveTopic, rq, p)
			}
		}
	}
	if s.opts.Dir == "" {
		return nil
	}
	if err := jsonfile.Write(s.opts.FS, filepath.Join(s.opts.Dir, OrderFile), s.order.Encode()); err != nil {
		return fmt.Errorf("pop: write %s: %w", OrderFile, err)
	}
	return nil
}

// Run revives checkpoints when due and saves the state every
// PersistInterval until ctx ends.
func (s *Service) Run(ctx context.Context) {
	persist := time.NewTicker(s.opts.PersistInterval)
	defer persist.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.reviveDue(ctx)
		wait := time.Second
		if t, ok := s.book.NextDue(); ok {
			wait = min(wait, time.Duration(t-s.nowMs())*time.Millisecond)
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		case <-persist.C:
			if err := s.Persist(); err != nil {
				s.log.Error("pop state not saved", "err", err)
			}
		}
	}
}

// reviveDue re-puts the unacked messages of every due checkpoint.
func (s *Service) reviveDue(ctx context.Context) {
	for ctx.Err() == nil {
		due := s.book.Due(s.nowMs(), 64)
		if len(due) == 0 {
			return
		}
		for _, d := range due {
			if err := s.revive(ctx, d); err != nil {
				s.log.Warn("revive failed; retrying in 1 s", "topic", d.CK.Topic, "group", d.CK.Group,
					"queue", d.CK.QueueID, "startOffset", d.CK.StartOffset, "err", err)
				s.book.Retry(d.CK.Key(), s.nowMs()+1000)
				continue
			}
			s.settling.RLock()
			s.apply(s.book.Revived(d.CK.Key()))
			s.settling.RUnlock()
		}
	}
}

// revive re-puts the unacked messages of one checkpoint to the group's
// retry topic (or its DLQ after the group's retryMaxTimes), then writes a
// batch-ack record for them so that a restart does not revive them again.
func (s *Service) revive(ctx context.Context, d Due) error {
	ck := &d.CK
	maxTimes := int32(metadata.DefaultRetryMaxTimes)
	if gc, ok := s.groups.Get(ck.Group); ok {
		maxTimes = int32(gc.RetryMaxTimes)
	}
	var msgs []*message.Message
	for _, off := range d.Offsets {
		res, err := s.st.GetMessages(ck.Topic, ck.QueueID, off, 1, 0, nil)
		if err != nil {
			return err
		}
		if res.Status != store.Found || res.QueueOffsets[0] != off {
			s.log.Warn("revived message no longer stored", "topic", ck.Topic, "queue", ck.QueueID, "offset", off)
			continue
		}
		orig, _, err := message.Decode(res.Records[0], false)
		if err != nil {
			s.log.Warn("revived message unreadable", "topic", ck.Topic, "queue", ck.QueueID, "offset", off, "err", err)
			continue
		}
		m, err := s.retryMessage(ck, &orig, maxTimes)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	ack := &AckMsg{AckOffset: -1, StartOffset: ck.StartOffset, Group: ck.Group, Topic: ck.Topic, QueueID: ck.QueueID,
		PopTime: ck.PopTime, BrokerName: ck.BrokerName, AckOffsets: d.Offsets}
	msgs = append(msgs, s.reviveRecord(d.ReviveQid, ack.Tag(), ack.UniqKey(), ack.Encode()))
	if _, err := s.st.PutBatch(ctx, msgs); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		return fmt.Errorf("pop: re-put: %w", err)
	}
	return nil
}

// retryMessage is orig as re-put by a revive: into %RETRY%<group>_<topic>
// queue 0 with reconsumeTimes + 1 and 1ST_POP_TIME, or into %DLQ%<group>
// when it has been delivered retryMaxTimes + 1 times.
func (s *Service) retryMessage(ck *CheckPoint, orig *message.Message, maxTimes int32) (*message.Message, error) {
	normal := NormalTopic(ck.Topic, ck.Group)
	edits := []message.PropertyEdit{{Name: message.PropertyWaitStoreMsg, Value: "false"}}
	if orig.ReconsumeTimes == 0 {
		edits = append(edits, message.PropertyEdit{Name: PropertyFirstPopTime, Value: itoa(ck.PopTime)})
	} else if v, _ := message.Property(orig.Properties, PropertyFirstPopTime); v == "" {
		edits = append(edits, message.PropertyEdit{Name: PropertyFirstPopTime, Value: itoa(ck.PopTime)})
	}
	var topic string
	if orig.ReconsumeTimes >= maxTimes {
		tc, created, err := s.topics.CreateDLQTopic(ck.Group)
		if err != nil {
			return nil, fmt.Errorf("pop: create DLQ topic: %w", err)
		}
		if created {
			s.opts.TopicsChanged()
		}
		topic = tc.TopicName
		edits = append(edits, message.PropertyEdit{Name: "DLQ_ORIGIN_TOPIC", Value: normal})
		if u, _ := message.Property(orig.Properties, message.PropertyUniqKey); u != "" {
			edits = append(edits, message.PropertyEdit{Name: "DLQ_ORIGIN_MESSAGE_ID", Value: u})
		}
	} else {
		topic = ck.Topic
		if !IsRetry(topic) {
			topic = RetryTopicV1(ck.Topic, ck.Group)
		}
		if err := s.ensureRetryTopic(topic); err != nil {
			return nil, err
		}
	}
	return &message.Message{
		Topic: topic, QueueID: 0, Flag: orig.Flag, SysFlag: orig.SysFlag &^ message.TransactionMask,
		BornTimestamp: orig.BornTimestamp, BornHost: s.opts.StoreHost, StoreHost: s.opts.StoreHost,
		ReconsumeTimes: orig.ReconsumeTimes + 1, Body: orig.Body,
		Properties: message.EditProperties(orig.Properties, edits...),
	}, nil
}

func (s *Service) ensureRetryTopic(topic string) error {
	if _, ok := s.topics.Get(topic); ok {
		return nil
	}
	tc := metadata.NewTopicConfig(topic)
	tc.ReadQueueNums, tc.WriteQueueNums = 1, 1
	_, created, err := s.topics.CreateIfAbsent(tc)
	if err != nil {
		return fmt.Errorf("pop: create retry topic %s: %w", topic, err)
	}
	if created {
		s.opts.TopicsChanged()
	}
	return nil
}

// NormalTopic is the topic a pop retry topic of group serves
// (KeyBuilder.parseNormalTopic); other topics are returned unchanged.
func NormalTopic(topic, group string) string {
	for _, p := range []string{retryPrefix + group + "+", retryPrefix + group + "_"} {
		if len(topic) > len(p) && topic[:len(p)] == p {
			return topic[len(p):]
		}
	}
	return topic
}

// Pending is the number of checkpoints in flight.
func (s *Service) Pending() int { return s.book.Pending() }

// reviveQid picks the revive queue of a non-FIFO pop (round robin).
func (s *Service) reviveQid() int32 {
	return int32(s.ckSeq.Add(1) % uint64(s.reviveNums))
}

func randomQ() int { return rand.IntN(100) }
