package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// Defaults of Options (RocketMQ's names in parentheses).
const (
	// DefaultFlushInterval is flushDelayOffsetInterval.
	DefaultFlushInterval = 10 * time.Second
	// DefaultPersistDelay bounds how long delivered progress waits to be
	// written (Quiver's; Java waits for the next flushDelayOffsetInterval).
	DefaultPersistDelay = time.Second
	// DefaultPollInterval is how often an empty level looks for arrivals
	// (J DELAY_FOR_A_WHILE).
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultRetryInterval is the wait after a failed delivery
	// (J DELAY_FOR_A_PERIOD).
	DefaultRetryInterval = 10 * time.Second
	// DefaultBatchSize is how many records one step reads.
	DefaultBatchSize = 32
)

// Options configure a Service. Zero fields take DefaultOptions' values.
type Options struct {
	// Levels are the delays of levels 1…n (messageDelayLevel, see
	// ParseLevels); nil means DefaultLevels. Level n reads queue n−1 of Topic.
	Levels []time.Duration
	// Dir holds the progress file File (<storePathRootDir>/config); it is
	// created if missing.
	Dir string
	// FS is the file system of Dir; nil means the operating system's.
	FS vfs.FS
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock deliver times are compared with (the store's clock
	// stamps the records); nil means time.Now.
	Now func() time.Time

	// FlushInterval is the period at which progress is written when it
	// changed (flushDelayOffsetInterval, 10 s).
	FlushInterval time.Duration
	// PersistDelay: progress is also written this long after a delivery
	// (1 s), so that a crash redelivers little. Negative: only every
	// FlushInterval.
	PersistDelay time.Duration
	// PollInterval is how often a level whose queue was drained checks it
	// for new records (100 ms). Notify makes the check immediate.
	PollInterval time.Duration
	// RetryInterval is the wait after a delivery the store refused for a
	// reason that may pass, such as a full disk (10 s).
	RetryInterval time.Duration
	// BatchSize is the number of records read and delivered in one step (32).
	BatchSize int
}

// DefaultOptions returns the defaults for a progress file in dir.
func DefaultOptions(dir string) Options {
	levels, _ := ParseLevels(DefaultLevels)
	return Options{
		Levels:        levels,
		Dir:           dir,
		FlushInterval: DefaultFlushInterval,
		PersistDelay:  DefaultPersistDelay,
		PollInterval:  DefaultPollInterval,
		RetryInterval: DefaultRetryInterval,
		BatchSize:     DefaultBatchSize,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions(o.Dir)
	if o.Levels == nil {
		o.Levels = d.Levels
	}
	o.Levels = append([]time.Duration(nil), o.Levels...)
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = d.FlushInterval
	}
	if o.PersistDelay == 0 {
		o.PersistDelay = d.PersistDelay
	}
	if o.PollInterval == 0 {
		o.PollInterval = d.PollInterval
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = d.RetryInterval
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	return o
}

// Validate reports every invalid setting.
func (o Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("Dir must be set"))
	}
	if o.Levels != nil && len(o.Levels) == 0 {
		errs = append(errs, errors.New("messageDelayLevel: no levels"))
	}
	for i, d := range o.Levels {
		if d < time.Millisecond {
			errs = append(errs, fmt.Errorf("messageDelayLevel: level %d: delay %v is below 1ms", i+1, d))
		}
	}
	if o.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("flushDelayOffsetInterval: %v is negative", o.FlushInterval))
	}
	if o.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("PollInterval: %v is negative", o.PollInterval))
	}
	if o.RetryInterval < 0 {
		errs = append(errs, fmt.Errorf("RetryInterval: %v is negative", o.RetryInterval))
	}
	if o.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("BatchSize: %d is negative", o.BatchSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("schedule: invalid options: %w", err)
	}
	return nil
}

// Service delivers the messages waiting in Topic. See the package comment.
type Service struct {
	st     *store.Store
	opts   Options
	log    *slog.Logger
	path   string
	notify chan struct{}
	// running is set while Run runs.
	running atomic.Bool

	persistMu sync.Mutex // serialises Persist; taken before mu

	mu      sync.Mutex
	levels  []levelState  // by level − 1
	extra   map[int]int64 // loaded offsets of levels not configured, kept
	written map[int]int64 // the table as last written; nil before the first write
}

// levelState is the progress of one level.
type levelState struct {
	// next is the queue offset of the first record not yet delivered.
	next int64
	// durable is the last value of next whose deliveries are all in the
	// flushed commit log: what may be written to File.
	durable int64
	// end is the commit-log end of the last record delivered.
	end int64
	// marks are values of next waiting for the commit log to be flushed
	// up to end, oldest first.
	marks []mark
}

type mark struct{ offset, end int64 }

// settle makes durable every mark the commit log is flushed past.
func (lv *levelState) settle(flushed int64) {
	k := 0
	for k < len(lv.marks) && lv.marks[k].end <= flushed {
		lv.durable = lv.marks[k].offset
		k++
	}
	if k > 0 {
		lv.marks = append(lv.marks[:0], lv.marks[k:]...)
	}
}

// New loads the progress in opts.Dir/File (falling back to its backup) and
// prepares a Service delivering from st, which must be open and stay open
// until Run has returned. A level's loaded offset is clamped into its
// queue's [min, max] offsets (J correctDelayOffset): a queue that lost its
// tail in a crash is resumed where it now ends, one trimmed by retention
// where it now starts.
func New(st *store.Store, opts Options) (*Service, error) {
	if st == nil {
		return nil, errors.New("schedule: nil store")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := &Service{
		st:     st,
		opts:   opts,
		log:    opts.Logger.With("component", "schedule"),
		notify: make(chan struct{}, 1),
		levels: make([]levelState, len(opts.Levels)),
	}
	table, fromBackup, err := s.load()
	if err != nil {
		return nil, err
	}
	s.extra = make(map[int]int64)
	for level, off := range table {
		if level < 1 || level > len(s.levels) {
			s.extra[level] = off
			continue
		}
		q := int32(level - 1)
		lo, hi := st.MinOffset(Topic, q), st.MaxOffset(Topic, q)
		c := off
		if c > hi {
			c = hi
		}
		if c < lo {
			c = lo
		}
		if c != off {
			s.log.Warn("delay offset outside its queue; corrected", "level", level, "offset", off, "to", c, "min", lo, "max", hi)
		}
		s.levels[level-1].next, s.levels[level-1].durable = c, c
	}
	if fromBackup {
		if err := s.Persist(); err != nil {
			return nil, err
		}
	} else if table != nil {
		s.written = table
	}
	return s, nil
}

// Notify tells the service that a record was dispatched; records of Topic
// wake the level that waits for them. It never blocks, so it may be called
// from store.Options.OnDispatch. Without it a drained level notices new
// records within PollInterval, which is always early enough: a record is
// due no sooner than one delay after it was stored.
func (s *Service) Notify(topic string, _ int32, _ int64) {
	if topic != Topic {
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Offsets returns, by level, the queue offset of the first record not yet
// delivered. Progress written to File may lag behind (see the package
// comment).
func (s *Service) Offsets() map[int]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int64, len(s.levels))
	for i := range s.levels {
		out[i+1] = s.levels[i].next
	}
	return out
}

func (s *Service) nextOffset(i int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.levels[i].next
}

// advance records that level i has delivered everything before queue
// offset next, the last delivery ending at commit-log offset end (0 when
// this step stored nothing).
func (s *Service) advance(i int, next, end int64) {
	flushed := s.st.FlushedOffset()
	s.mu.Lock()
	defer s.mu.Unlock()
	lv := &s.levels[i]
	if next == lv.next && end <= lv.end {
		return
	}
	lv.next = next
	lv.end = max(lv.end, end)
	if n := len(lv.marks); n > 0 && lv.marks[n-1].end == lv.end {
		lv.marks[n-1].offset = next
	} else {
		lv.marks = append(lv.marks, mark{next, lv.end})
	}
	lv.settle(flushed)
}

// unsettled reports whether some progress waits for a commit-log flush.
func (s *Service) unsettled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.levels {
		if len(s.levels[i].marks) > 0 {
			return true
		}
	}
	return false
}

// Run delivers due messages until ctx ends, then writes the progress and
// returns the error of that write. Only one Run may be active; the store
// must stay open until it returns.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("schedule: Run is already running")
	}
	defer s.running.Store(false)

	n := len(s.opts.Levels)
	wake := make([]int64, n) // Unix ms at which to step the level again
	idle := make([]bool, n)  // drained: wait for new records
	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	flush := time.NewTicker(s.opts.FlushInterval)
	defer flush.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var persistAt int64 // Unix ms of the write a delivery asked for; 0: none
	persistDelay := ceilMillis(s.opts.PersistDelay)

	for ctx.Err() == nil {
		now := s.opts.Now().UnixMilli()
		next := int64(math.MaxInt64)
		for i := range n {
			if idle[i] {
				if s.st.MaxOffset(Topic, int32(i)) <= s.nextOffset(i) {
					continue
				}
				idle[i], wake[i] = false, 0
			}
			if wake[i] <= now {
				w, moved := s.step(ctx, i, now)
				if moved && persistAt == 0 && s.opts.PersistDelay >= 0 {
					persistAt = now + persistDelay
				}
				if w < 0 {
					idle[i] = true
					continue
				}
				wake[i] = w
			}
			next = min(next, wake[i])
		}
		if persistAt != 0 && persistAt <= now {
			s.persistLogged()
			persistAt = 0
			if s.unsettled() {
				persistAt = now + max(persistDelay, 1) // the store has not flushed yet
			}
		}
		if persistAt != 0 {
			next = min(next, persistAt)
		}
		if next <= now {
			continue
		}
		if next != math.MaxInt64 {
			timer.Reset(time.Duration(next-now) * time.Millisecond)
		}
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-poll.C:
		case <-s.notify:
		case <-flush.C:
			s.persistLogged()
		}
		timer.Stop()
	}
	return s.Persist()
}

// step handles level i once at now (Unix ms): it reads one batch from the
// level's progress offset and delivers the due records at its head, in
// order. It returns when to step again: now when more may be due, the
// deliver time of the first record not due, now+RetryInterval after a
// failure, or -1 when the queue is drained. moved reports progress.
func (s *Service) step(ctx context.Context, i int, now int64) (wake int64, moved bool) {
	from := s.nextOffset(i)
	retry := now + ceilMillis(s.opts.RetryInterval)
	res, err := s.st.GetMessages(Topic, int32(i), from, s.opts.BatchSize, 0, nil)
	if err != nil {
		s.log.Error("schedule queue unreadable; retrying", "level", i+1, "offset", from, "err", err)
		return retry, false
	}
	switch res.Status {
	case store.Found:
	case store.NoMessageInQueue, store.OffsetOverflowOne:
		return -1, false
	case store.OffsetTooSmall, store.OffsetOverflowBadly:
		s.log.Warn("delay offset outside its queue; corrected", "level", i+1, "offset", from,
			"to", res.NextBeginOffset, "min", res.MinOffset, "max", res.MaxOffset)
		s.advance(i, res.NextBeginOffset, 0)
		return now, true
	default: // the units point at records deleted or damaged
		s.log.Error("schedule records missing; skipped", "level", i+1, "from", from, "to", res.NextBeginOffset, "status", res.Status)
		s.advance(i, res.NextBeginOffset, 0)
		return now, true
	}
	delay := s.opts.Levels[i]
	next, wake := res.NextBeginOffset, now
	msgs := make([]*message.Message, 0, len(res.Records))
	offs := make([]int64, 0, len(res.Records))
	for k, rec := range res.Records {
		qo := res.QueueOffsets[k]
		r, _, err := message.Decode(rec, false)
		if err != nil {
			s.log.Error("schedule record undecodable; skipped", "level", i+1, "queueOffset", qo, "err", err)
			continue
		}
		if due := deliverAt(r.StoreTimestamp, delay, now); due > now {
			next, wake = qo, due
			break
		}
		m, err := timeUp(&r)
		if err != nil {
			uniq, _ := message.Property(r.Properties, message.PropertyUniqKey)
			s.log.Error("schedule record dropped", "level", i+1, "queueOffset", qo, "uniqKey", uniq, "err", err)
			continue
		}
		msgs = append(msgs, m)
		offs = append(offs, qo)
	}
	done, end, err := s.put(ctx, msgs)
	if done < len(msgs) {
		if ctx.Err() == nil {
			s.log.Warn("delivery failed; retrying", "level", i+1, "queueOffset", offs[done],
				"retryIn", s.opts.RetryInterval, "err", err)
		}
		s.advance(i, offs[done], end)
		return retry, offs[done] > from
	}
	s.advance(i, next, end)
	return wake, next > from
}

// put stores msgs in order and returns how many are done: stored, or
// dropped because the store can never take them (a message over a format
// limit would otherwise stop its level for good). It stops at the first
// failure that may pass: a full disk, a closed store, ctx ended. end is the
// commit-log end of the last record stored, 0 if none.
func (s *Service) put(ctx context.Context, msgs []*message.Message) (done int, end int64, err error) {
	return s.st.PutAll(ctx, msgs, func(m *message.Message, err error) {
		uniq, _ := message.Property(m.Properties, message.PropertyUniqKey)
		s.log.Error("delayed message dropped: the store refuses it", "topic", m.Topic, "queue", m.QueueID, "uniqKey", uniq, "err", err)
	})
}

func (s *Service) persistLogged() {
	if err := s.Persist(); err != nil {
		s.log.Error("delay offsets not written", "err", err)
	}
}
