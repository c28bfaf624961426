package timer

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

// State is what became of a timer message.
type State string

// States of a timer message.
const (
	Pending   State = "PENDING"
	Delivered State = "DELIVERED"
	Recalled  State = "RECALLED"
)

// Status describes one timer message.
type Status struct {
	Topic string `json:"topic"`
	MsgID string `json:"msgId"`
	State State  `json:"state"`
	// DeliverTimeMs is when it is (or was) due.
	DeliverTimeMs int64 `json:"deliverTimeMs"`
	// DeliveredTimeMs is when it was stored in its topic, 0 if unknown.
	DeliveredTimeMs int64 `json:"deliveredTimeMs,omitempty"`
	// Rolls is how often it was parked again on its way (delays beyond
	// the wheel's window).
	Rolls int `json:"rolls,omitempty"`

	record message.Message
	epoch  int64
	slot   int64
}

// Recall cancels the timer of topic and uniqKey due at timeMs (a recall
// handle's time: TIMER_OUT_MS + 1), as RocketMQ 5.3.2 does: a marker is
// stored in the timer's slot. Unlike RocketMQ it also cancels a timer whose
// slot is being delivered if it is not delivered yet, and it says so when
// it is too late (ErrTooLate).
func (s *Service) Recall(ctx context.Context, topic, uniqKey string, timeMs int64) error {
	if s.opts.Disabled {
		return ErrNotEnabled
	}
	var err error
	if derr := s.do(ctx, func() { err = s.recall(ctx, topic, uniqKey, timeMs) }); derr != nil {
		return derr
	}
	return err
}

func (s *Service) recall(ctx context.Context, topic, uniqKey string, timeMs int64) error {
	now := s.nowMs()
	slot := s.rules.SlotOf(timeMs)
	if timeMs-now >= s.rules.MaxDelayMs {
		return fmt.Errorf("%w: the recall time %d is beyond the max delay", ErrIllegal, timeMs)
	}
	key := keyHash(DeleteKey(topic, uniqKey))
	if slot < s.readSlot || slot < s.gathered && !s.hasLive(key, slot) {
		return fmt.Errorf("%w: %s %s was due at %s", ErrTooLate, topic, uniqKey, time.UnixMilli(timeMs).UTC().Format(time.RFC3339Nano))
	}
	m := s.marker(topic, uniqKey, timeMs, -1, now)
	res, err := s.st.Put(ctx, m)
	if err != nil && res.Size == 0 {
		return fmt.Errorf("timer: store the recall marker: %w", err)
	}
	ref := markerRef{key, slot, res.QueueOffset - 1}
	s.early = append(s.early, earlyMarker{ref, res.PhysicalOffset})
	if slot < s.gathered {
		s.applyMarker(ref)
	}
	return nil
}

// marker builds a recall marker record for the slot of timeMs. bound ≥ 0
// limits it to timers of that epoch or older; −1 means "stored before it".
func (s *Service) marker(topic, uniqKey string, timeMs, bound, now int64) *message.Message {
	slot := s.rules.SlotOf(timeMs)
	props := map[string]string{
		message.PropertyTags:            RecallTag,
		message.PropertyTimerDelUniqKey: DeleteKey(topic, uniqKey),
		message.PropertyUniqKey:         uniqKey,
		message.PropertyTimerDeliverMs:  strconv.FormatInt(timeMs, 10),
		message.PropertyTimerOutMs:      strconv.FormatInt(slot*s.p, 10),
		message.PropertyRealTopic:       topic,
		message.PropertyRealQueueID:     "0",
	}
	if bound >= 0 {
		props[PropertyEpoch] = strconv.FormatInt(bound, 10)
	}
	return &message.Message{Topic: Topic, Body: []byte("0"), BornTimestamp: now, Properties: message.EncodeProperties(props)}
}

// Reschedule moves a pending timer to deliverMs: the timer is stored again
// with the new time and a marker cancels the old one, in one batch.
func (s *Service) Reschedule(ctx context.Context, topic, uniqKey string, deliverMs int64) (Status, error) {
	if s.opts.Disabled {
		return Status{}, ErrNotEnabled
	}
	var st Status
	var err error
	if derr := s.do(ctx, func() { st, err = s.reschedule(ctx, topic, uniqKey, deliverMs) }); derr != nil {
		return st, derr
	}
	return st, err
}

func (s *Service) reschedule(ctx context.Context, topic, uniqKey string, deliverMs int64) (Status, error) {
	st, err := s.status(topic, uniqKey)
	if err != nil {
		return st, err
	}
	if st.State != Pending {
		return st, fmt.Errorf("%w: %s %s is %s", ErrTooLate, topic, uniqKey, st.State)
	}
	now := s.nowMs()
	if deliverMs <= now {
		return st, fmt.Errorf("%w: the new time %s is not in the future", ErrIllegal, time.UnixMilli(deliverMs).UTC().Format(time.RFC3339Nano))
	}
	r := st.record
	rt, _ := message.Property(r.Properties, message.PropertyRealTopic)
	rq, _ := message.Property(r.Properties, message.PropertyRealQueueID)
	qid, _ := strconv.Atoi(rq)
	moved := &message.Message{
		Topic: rt, QueueID: int32(qid), Flag: r.Flag, SysFlag: r.SysFlag, BornTimestamp: r.BornTimestamp,
		BornHost: r.BornHost, ReconsumeTimes: r.ReconsumeTimes, Body: r.Body,
		Properties: message.EditProperties(r.Properties,
			message.PropertyEdit{Name: message.PropertyTimerOutMs},
			message.PropertyEdit{Name: PropertyEpoch},
			message.PropertyEdit{Name: message.PropertyTimerRollTimes},
			message.PropertyEdit{Name: message.PropertyTimerDelaySec},
			message.PropertyEdit{Name: message.PropertyTimerDelayMs},
			message.PropertyEdit{Name: message.PropertyTimerEnqueueMs},
			message.PropertyEdit{Name: message.PropertyRealTopic},
			message.PropertyEdit{Name: message.PropertyRealQueueID},
			message.PropertyEdit{Name: message.PropertyWaitStoreMsg},
			message.PropertyEdit{Name: message.PropertyTimerDeliverMs, Value: strconv.FormatInt(deliverMs, 10)}),
	}
	if ok, err := s.rules.Transform(moved, now); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: the new time is not in the future", ErrIllegal)
		}
		return st, err
	}
	// The new timer first: a crash between the two leaves both (a
	// duplicate), never neither.
	mk := s.marker(topic, uniqKey, st.DeliverTimeMs, st.epoch, now)
	res, err := s.st.PutBatch(ctx, []*message.Message{moved, mk})
	if err != nil && len(res) < 2 {
		return st, fmt.Errorf("timer: store the rescheduled timer: %w", err)
	}
	ref := markerRef{keyHash(DeleteKey(topic, uniqKey)), st.slot, st.epoch}
	s.early = append(s.early, earlyMarker{ref, res[1].PhysicalOffset})
	if st.slot < s.gathered {
		s.applyMarker(ref)
	}
	return Status{Topic: topic, MsgID: uniqKey, State: Pending, DeliverTimeMs: deliverMs}, nil
}

// Status tells what became of the timer message of topic and uniqKey (its
// message id): pending with its due time, delivered, or recalled.
func (s *Service) Status(ctx context.Context, topic, uniqKey string) (Status, error) {
	if s.opts.Disabled {
		return Status{}, ErrNotEnabled
	}
	var st Status
	var err error
	if derr := s.do(ctx, func() { st, err = s.status(topic, uniqKey) }); derr != nil {
		return st, derr
	}
	return st, err
}

// status reads the timer's records through the message index.
func (s *Service) status(topic, uniqKey string) (Status, error) {
	st := Status{Topic: topic, MsgID: uniqKey}
	s.waitIndexed(time.Second)
	recs, err := s.st.QueryByKey(Topic, uniqKey, 64, 0, math.MaxInt64)
	if err != nil {
		return st, fmt.Errorf("timer: query the index: %w", err)
	}
	delKey := DeleteKey(topic, uniqKey)
	var marks []markerRef
	type cand struct {
		m                    message.Message
		epoch, deliver, slot int64
		rolls                int
	}
	byEpoch := map[int64]cand{}
	for _, m := range recs {
		props := m.Properties
		epoch := m.QueueOffset
		hasEpoch := false
		if v, ok := message.Property(props, PropertyEpoch); ok {
			if e, err := strconv.ParseInt(v, 10, 64); err == nil {
				epoch, hasEpoch = e, true
			}
		}
		out, _ := message.Property(props, message.PropertyTimerOutMs)
		outMs, _ := strconv.ParseInt(out, 10, 64)
		if d, ok := message.Property(props, message.PropertyTimerDelUniqKey); ok {
			if d == delKey {
				if !hasEpoch {
					epoch = m.QueueOffset - 1
				}
				marks = append(marks, markerRef{slot: floorDiv(outMs, s.p), bound: epoch})
			}
			continue
		}
		if rt, _ := message.Property(props, message.PropertyRealTopic); rt != topic {
			continue
		}
		dv, _ := message.Property(props, message.PropertyTimerDeliverMs)
		deliver, err := strconv.ParseInt(dv, 10, 64)
		if err != nil {
			deliver = outMs + s.p
		}
		rolls, _ := message.Property(props, message.PropertyTimerRollTimes)
		n, _ := strconv.Atoi(rolls)
		c := cand{m: m, epoch: epoch, deliver: deliver, slot: s.rules.SlotOf(deliver), rolls: n}
		if old, ok := byEpoch[epoch]; !ok || n > old.rolls {
			byEpoch[epoch] = c
		}
	}
	delivered := func(epoch int64) (message.Message, bool) {
		got, _ := s.st.QueryByKey(topic, uniqKey, 16, 0, math.MaxInt64)
		for _, m := range got {
			v, ok := message.Property(m.Properties, PropertyEpoch)
			if epoch < 0 && ok {
				return m, true
			}
			if e, err := strconv.ParseInt(v, 10, 64); ok && err == nil && e == epoch {
				return m, true
			}
		}
		return message.Message{}, false
	}
	if len(byEpoch) == 0 {
		if m, ok := delivered(-1); ok {
			st.State, st.DeliveredTimeMs = Delivered, m.StoreTimestamp
			dv, _ := message.Property(m.Properties, message.PropertyTimerDeliverMs)
			st.DeliverTimeMs, _ = strconv.ParseInt(dv, 10, 64)
			return st, nil
		}
		return st, fmt.Errorf("%w: topic %s, message id %s", ErrNotFound, topic, uniqKey)
	}
	var best, last cand
	found := false
	for _, c := range byEpoch {
		if c.epoch >= last.epoch {
			last = c
		}
		cancelled := false
		for _, m := range marks {
			if m.slot == c.slot && c.epoch <= m.bound {
				cancelled = true
			}
		}
		if !cancelled && (!found || c.epoch > best.epoch) {
			best, found = c, true
		}
	}
	if !found {
		st.State, st.DeliverTimeMs, st.Rolls = Recalled, last.deliver, last.rolls
		return st, nil
	}
	st.DeliverTimeMs, st.Rolls, st.record, st.epoch, st.slot = best.deliver, best.rolls, best.m, best.epoch, best.slot
	if m, ok := delivered(best.epoch); ok {
		st.State, st.DeliveredTimeMs = Delivered, m.StoreTimestamp
		return st, nil
	}
	key := keyHash(delKey)
	if best.slot >= s.readSlot && (best.slot >= s.gathered || s.hasLive(key, best.slot)) {
		st.State = Pending
		return st, nil
	}
	st.State = Delivered
	return st, nil
}

// waitIndexed waits (up to max) until what is stored now is indexed.
func (s *Service) waitIndexed(max time.Duration) {
	target := s.st.CommitLogMaxOffset()
	deadline := time.Now().Add(max)
	for s.st.DispatchedOffset() < target && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
