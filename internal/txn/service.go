package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/offset"
	"github.com/quiver-mq/quiver/internal/store"
)

// Options configure a Service. Zero fields take the defaults of
// DefaultOptions; RocketMQ's broker.conf key is named next to each field.
type Options struct {
	// BrokerName goes into every check request (brokerName).
	BrokerName string
	// CheckInterval is the time between check rounds
	// (transactionCheckInterval, 30 s).
	CheckInterval time.Duration
	// Timeout is how old a half must be before it is checked
	// (transactionTimeOut, 6 s); CHECK_IMMUNITY_TIME_IN_SECONDS overrides it
	// per message.
	Timeout time.Duration
	// CheckMax is how many checks a half gets before it is discarded
	// (transactionCheckMax, 15).
	CheckMax int
	// FileReservedTime: halves born longer ago are discarded unchecked
	// (fileReservedTime, 72 h).
	FileReservedTime time.Duration
	// MaxRoundTime bounds one round on one half queue (60 s).
	MaxRoundTime time.Duration
	// CheckTimeout bounds the hand-over of one check request to a
	// connection (3 s).
	CheckTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PutHook, if set, rewrites a committed message before it is stored
	// (the broker's delay-level and timer conversions apply to commits, as
	// RocketMQ's store hooks do).
	PutHook func(*message.Message)
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns RocketMQ's defaults.
func DefaultOptions() Options {
	return Options{
		CheckInterval:    30 * time.Second,
		Timeout:          6 * time.Second,
		CheckMax:         15,
		FileReservedTime: 72 * time.Hour,
		MaxRoundTime:     60 * time.Second,
		CheckTimeout:     3 * time.Second,
	}
}

// Validate reports invalid settings, naming RocketMQ's keys.
func (o Options) Validate() error {
	var errs []error
	if o.CheckInterval < 0 {
		errs = append(errs, fmt.Errorf("transactionCheckInterval: %v is negative", o.CheckInterval))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("transactionTimeOut: %v is negative", o.Timeout))
	}
	if o.CheckMax < 0 {
		errs = append(errs, fmt.Errorf("transactionCheckMax: %d is negative", o.CheckMax))
	}
	if o.FileReservedTime < 0 {
		errs = append(errs, fmt.Errorf("fileReservedTime: %v is negative", o.FileReservedTime))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("txn: invalid options: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.CheckInterval == 0 {
		o.CheckInterval = d.CheckInterval
	}
	if o.Timeout == 0 {
		o.Timeout = d.Timeout
	}
	if o.CheckMax == 0 {
		o.CheckMax = d.CheckMax
	}
	if o.FileReservedTime == 0 {
		o.FileReservedTime = d.FileReservedTime
	}
	if o.MaxRoundTime == 0 {
		o.MaxRoundTime = d.MaxRoundTime
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = d.CheckTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// CheckRequest is one CHECK_TRANSACTION_STATE (remoting.md §6).
type CheckRequest struct {
	// Group is the half's PGROUP: a live producer of it is asked.
	Group string
	// Topic is the half topic (as RocketMQ sends it).
	Topic                string
	TranStateTableOffset int64  // the checked copy's half-queue offset
	CommitLogOffset      int64  // the checked copy's commit-log offset
	MsgID                string // UNIQ_KEY
	TransactionID        string // UNIQ_KEY
	OffsetMsgID          string // the checked copy's offset msg id
	BrokerName           string
	// Body is the copy's record with its real topic and queue (CheckBody).
	Body []byte
}

// Checker asks a producer of a group about a transaction. It returns once
// the request is handed to a connection (the call is one-way), or
// ErrNoProducer when the group has no live connection.
type Checker interface {
	CheckTransactionState(ctx context.Context, req CheckRequest) error
}

// Service ends transactions and runs the check-back. See the package
// comment.
type Service struct {
	opts    Options
	store   *store.Store
	offsets *offset.Store
	checker Checker
	log     *slog.Logger
}

// New returns a service over st and offs; checker reaches producers.
func New(opts Options, st *store.Store, offs *offset.Store, checker Checker) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return &Service{opts: opts, store: st, offsets: offs, checker: checker,
		log: opts.Logger.With("component", "txn")}, nil
}

// EndRequest is END_TRANSACTION's header (remoting.md §4.2, code 37).
type EndRequest struct {
	ProducerGroup        string
	TranStateTableOffset int64 // the half's queue offset
	CommitLogOffset      int64 // the half's commit-log offset
	CommitOrRollback     int32 // StateCommit or StateRollback
	FromTransactionCheck bool
	MsgID                string
	TransactionID        string
}

// End commits or rolls back the half named by r. The caller answers
// StateUnknown itself (nothing to do, no answer). A commit whose record is
// stored but not flushed in time counts as done, as in RocketMQ. Errors:
// ErrNotFound, ErrMismatch, ErrImmunityExpired, ErrBadState, or a store
// error.
func (s *Service) End(ctx context.Context, r EndRequest) error {
	if r.CommitOrRollback != StateCommit && r.CommitOrRollback != StateRollback {
		return fmt.Errorf("%w: commitOrRollback %d", ErrBadState, r.CommitOrRollback)
	}
	half, err := s.store.LookMessage(r.CommitLogOffset)
	if err != nil || half.Topic != HalfTopic {
		return fmt.Errorf("%w: commit-log offset %d", ErrNotFound, r.CommitLogOffset)
	}
	if err := s.validate(&half, r); err != nil {
		return err
	}
	if r.CommitOrRollback == StateCommit {
		m, err := CommitMessage(&half)
		if err != nil {
			return err
		}
		if s.opts.PutHook != nil {
			s.opts.PutHook(m)
		}
		if _, err := s.store.Put(ctx, m); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
			return fmt.Errorf("txn: store the committed message: %w", err)
		}
	}
	if err := s.markDone(ctx, &half); err != nil {
		return err
	}
	return nil
}

// validate applies EndTransactionProcessor's checks (rejectCommitOrRollback,
// checkPrepareMessage) to the half.
func (s *Service) validate(half *message.Message, r EndRequest) error {
	if !r.FromTransactionCheck {
		if v, ok := message.Property(half.Properties, PropertyCheckImmunity); ok && v != "" {
			age := s.opts.Now().UnixMilli() - half.BornTimestamp
			if age > immunityMillis(v, s.opts.Timeout) {
				return fmt.Errorf("%w: born %d ms ago, immunity %s s", ErrImmunityExpired, age, v)
			}
		}
	}
	if g, _ := message.Property(half.Properties, PropertyProducerGroup); g != r.ProducerGroup {
		return fmt.Errorf("%w: the producer group wrong: %q, prepared by %q", ErrMismatch, r.ProducerGroup, g)
	}
	if half.QueueOffset != r.TranStateTableOffset {
		return fmt.Errorf("%w: the transaction state table offset wrong: %d, prepared at %d", ErrMismatch, r.TranStateTableOffset, half.QueueOffset)
	}
	if half.PhysicalOffset != r.CommitLogOffset {
		return fmt.Errorf("%w: the commit log offset wrong: %d, prepared at %d", ErrMismatch, r.CommitLogOffset, half.PhysicalOffset)
	}
	return nil
}

// markDone writes the op record of a half.
func (s *Service) markDone(ctx context.Context, half *message.Message) error {
	op := OpMessage(half.QueueID, []int64{half.QueueOffset}, s.opts.Now().UnixMilli(), half.StoreHost)
	if _, err := s.store.Put(ctx, op); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		s.log.Error("op record not written: the half will be checked back", "queueOffset", half.QueueOffset, "err", err)
		return fmt.Errorf("txn: write op record: %w", err)
	}
	return nil
}

// immunityMillis is getImmunityTime: CHECK_IMMUNITY_TIME_IN_SECONDS in ms,
// or the transaction timeout when it is not a number (or -1).
func immunityMillis(v string, timeout time.Duration) int64 {
	n := atoi(v)
	if n == -1 {
		return timeout.Milliseconds()
	}
	return n * 1000
}

// Run checks every CheckInterval until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Check(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("transaction check round", "err", err)
			}
		}
	}
}

// Check runs one check round over every half queue.
func (s *Service) Check(ctx context.Context) error {
	var errs []error
	for _, q := range s.store.Queues() {
		if q.Topic != HalfTopic {
			continue
		}
		if err := s.checkQueue(ctx, q.QueueID); err != nil {
			errs = append(errs, fmt.Errorf("txn: check half queue %d: %w", q.QueueID, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// progress returns the system group's offset on a queue, or the queue's
// min offset when there is none (fetchConsumeOffset).
func (s *Service) progress(topic string, q int32) int64 {
	if off, ok := s.offsets.Query(SystemGroup, topic, q); ok && off >= 0 {
		return off
	}
	return s.store.MinOffset(topic, q)
}
