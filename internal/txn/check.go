package txn

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
)

// action is what a check round does with one half.
type action int

const (
	actStop    action = iota // too fresh: stop this queue until the next round
	actSkip                  // nothing to do: move past it
	actDiscard               // give up: move it to CheckMaxTimeTopic
	actImmune                // within its immunity: re-append it, remembering the original offset
	actCheck                 // re-append it with one more check and ask the producer
)

var actionNames = [...]string{"stop", "skip", "discard", "immune", "check"}

func (a action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// verdict is decide's answer: an action and, for actImmune and actCheck,
// the properties of the copy to append.
type verdict struct {
	act   action
	props []byte
}

// decide is the pure core of a round (TransactionalMessageServiceImpl.check
// for one half that no op record marks done). half is the stored half at
// queue offset qo; now and roundStart are ms; ended reports whether an op
// record read this round names a half offset.
func (o *Options) decide(half *message.Message, qo, now, roundStart int64, ended func(int64) bool) verdict {
	if _, _, err := realQueue(half); err != nil {
		return verdict{act: actDiscard} // not a half any producer sent
	}
	// needDiscard: the copy carries one more check.
	checks := int64(1)
	if v, ok := message.Property(half.Properties, PropertyCheckTimes); ok {
		n := atoi(v)
		if n >= int64(o.CheckMax) {
			return verdict{act: actDiscard}
		}
		checks = n + 1
	}
	age := now - half.BornTimestamp
	if age > o.FileReservedTime.Milliseconds() { // needSkip
		return verdict{act: actDiscard}
	}
	if half.StoreTimestamp >= roundStart {
		return verdict{act: actStop}
	}
	props := setProperty(half.Properties, PropertyCheckTimes, strconv.FormatInt(checks, 10))
	if v, ok := message.Property(half.Properties, PropertyCheckImmunity); ok {
		immunity := immunityMillis(v, o.Timeout)
		if immunity > int64(o.CheckMax)*o.CheckInterval.Milliseconds() {
			return verdict{act: actSkip} // RocketMQ: never checked
		}
		if age <= immunity {
			orig := qo
			if p, ok := message.Property(half.Properties, PropertyPreparedQueueOffset); ok {
				if n := atoi(p); n >= 0 {
					if ended(n) {
						return verdict{act: actSkip} // the original was ended
					}
					orig = n
				}
			}
			return verdict{act: actImmune, props: setProperty(props, PropertyPreparedQueueOffset, strconv.FormatInt(orig, 10))}
		}
	} else if age >= 0 && age <= o.Timeout.Milliseconds() {
		return verdict{act: actStop}
	}
	return verdict{act: actCheck, props: props}
}

// opView is what a round knows of one op queue.
type opView struct {
	next  int64          // next op queue offset to read
	ended map[int64]bool // half offsets named by the op records read
	// first holds the op records read when the round began, in order, with
	// the highest half offset each names (-1 for none): the op progress
	// moves only over these, so an op record read later in the round is
	// read again in the next one.
	first []opEntry
}

type opEntry struct{ queueOffset, maxHalf int64 }

// readOps reads the op records from v.next to the end of the queue.
func (s *Service) readOps(q int32, v *opView, first bool) error {
	for {
		r, err := s.store.GetMessages(OpTopic, q, v.next, 32, 0, nil)
		if err != nil {
			return err
		}
		switch r.Status {
		case store.Found:
		case store.OffsetTooSmall, store.OffsetFoundNull, store.NoMatchedMessage:
			if r.NextBeginOffset <= v.next {
				return nil
			}
			v.next = r.NextBeginOffset // records gone: nothing to learn from them
			continue
		case store.OffsetOverflowBadly:
			v.next = r.NextBeginOffset // progress past the end: start over at it
			return nil
		default:
			return nil
		}
		for i, rec := range r.Records {
			maxHalf := int64(-1)
			if m, _, err := message.Decode(rec, false); err == nil {
				if tag, _ := message.Property(m.Properties, message.PropertyTags); tag == RemoveTag {
					for _, h := range ParseOpBody(m.Body) {
						v.ended[h] = true
						maxHalf = max(maxHalf, h)
					}
				} else {
					s.log.Warn("op record without the remove tag", "queue", q, "opOffset", r.QueueOffsets[i], "tags", tag)
				}
			}
			if first {
				v.first = append(v.first, opEntry{r.QueueOffsets[i], maxHalf})
			}
		}
		v.next = r.NextBeginOffset
	}
}

// checkQueue runs one round on one half queue.
func (s *Service) checkQueue(ctx context.Context, q int32) error {
	start := s.opts.Now()
	startMs := start.UnixMilli()
	halfStart := s.progress(HalfTopic, q)
	opStart := s.progress(OpTopic, q)
	v := &opView{next: opStart, ended: make(map[int64]bool)}
	if err := s.readOps(q, v, true); err != nil {
		return err
	}
	firstEnd := v.next

	i := halfStart
	var err error
walk:
	for ctx.Err() == nil && s.opts.Now().Sub(start) <= s.opts.MaxRoundTime {
		if v.ended[i] {
			i++
			continue
		}
		r, gerr := s.store.GetMessages(HalfTopic, q, i, 1, 0, nil)
		if gerr != nil {
			err = gerr
			break
		}
		switch r.Status {
		case store.Found:
		case store.OffsetTooSmall, store.OffsetFoundNull, store.NoMatchedMessage:
			if r.NextBeginOffset <= i {
				break walk
			}
			i = r.NextBeginOffset // halves gone or damaged
			continue
		case store.OffsetOverflowBadly:
			i = r.NextBeginOffset
			break walk
		default: // nothing new
			break walk
		}
		if qo := r.QueueOffsets[0]; qo != i {
			i = qo // the halves before it are gone
			continue
		}
		half, _, derr := message.Decode(r.Records[0], false)
		if derr != nil {
			s.log.Error("undecodable half skipped", "queue", q, "queueOffset", i, "err", derr)
			i++
			continue
		}
		vd := s.opts.decide(&half, i, s.opts.Now().UnixMilli(), startMs, func(o int64) bool { return v.ended[o] })
		if vd.act == actCheck {
			// The producer may have ended it since the round began.
			if err = s.readOps(q, v, false); err != nil {
				break
			}
			if v.ended[i] {
				i++
				continue
			}
		}
		if vd.act == actStop {
			break
		}
		if err = s.apply(ctx, q, i, &half, vd); err != nil {
			break // retried in the next round
		}
		i++
	}

	if i != halfStart {
		s.offsets.Commit(SystemGroup, HalfTopic, q, i)
	}
	newOp := firstEnd
	for _, e := range v.first {
		if e.maxHalf >= i {
			newOp = e.queueOffset
			break
		}
	}
	if newOp != opStart {
		s.offsets.Commit(SystemGroup, OpTopic, q, newOp)
	}
	return err
}

// apply carries out a verdict on the half at queue offset qo.
func (s *Service) apply(ctx context.Context, q int32, qo int64, half *message.Message, vd verdict) error {
	uniq, _ := message.Property(half.Properties, message.PropertyUniqKey)
	switch vd.act {
	case actSkip:
		return nil
	case actDiscard:
		s.log.Warn("transaction checked too often or too old: moved to "+CheckMaxTimeTopic,
			"queue", q, "queueOffset", qo, "uniqKey", uniq)
		if _, err := s.store.Put(ctx, DiscardMessage(half)); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
			return fmt.Errorf("discard half %d: %w", qo, err)
		}
		return nil
	case actImmune:
		if _, err := s.store.Put(ctx, CheckCopy(half, vd.props)); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
			return fmt.Errorf("re-append immune half %d: %w", qo, err)
		}
		return nil
	}
	// actCheck
	cp := CheckCopy(half, vd.props)
	res, err := s.store.Put(ctx, cp)
	if err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		return fmt.Errorf("re-append half %d for a check: %w", qo, err)
	}
	cp.QueueOffset, cp.PhysicalOffset, cp.StoreTimestamp = res.QueueOffset, res.PhysicalOffset, res.StoreTimestamp
	body, err := CheckBody(cp)
	if err != nil {
		s.log.Error("check body", "queueOffset", qo, "err", err)
		return nil
	}
	group, _ := message.Property(half.Properties, PropertyProducerGroup)
	req := CheckRequest{
		Group: group, Topic: HalfTopic,
		TranStateTableOffset: res.QueueOffset, CommitLogOffset: res.PhysicalOffset,
		MsgID: uniq, TransactionID: uniq, OffsetMsgID: res.OffsetMsgID,
		BrokerName: s.opts.BrokerName, Body: body,
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
	defer cancel()
	if err := s.checker.CheckTransactionState(cctx, req); err != nil {
		s.log.Warn("check transaction state not sent", "group", group, "uniqKey", uniq, "err", err)
	} else {
		s.log.Debug("check transaction state sent", "group", group, "uniqKey", uniq,
			"from", qo, "queueOffset", res.QueueOffset, "commitLogOffset", res.PhysicalOffset)
	}
	return nil
}
