package timer

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
)

// Service owns the wheel: one goroutine (Run) enqueues timer records,
// delivers due ones and writes checkpoints; Recall, Reschedule and Status
// run on that goroutine too, so they see one consistent state.
type Service struct {
	opts   Options
	st     *store.Store
	log    *slog.Logger
	rules  Rules
	tl     *tlog
	wh     *wheel
	ckPath string
	p      int64 // precision, ms
	w      int64 // roll window, slots
	lead   int64 // how early a slot is gathered, ms

	// State of the service goroutine.
	readSlot int64 // R: slots before it are done
	gathered int64 // G: slots in [R, G) are read into pend
	q        int64 // next Topic queue-0 offset to enqueue
	startC   map[int64]int64
	pend     entryHeap
	byKey    map[uint64][]*entry
	seen     map[int64]int64       // epoch·2+roll → slot, of gathered slots
	markers  map[int64][]markerRef // gathered slot → its markers
	early    []earlyMarker
	done     map[int64]struct{} // epochs delivered after the checkpoint (recovery)
	doneTill int64
	retryAt  int64
	lastCk   int64
	stash    *checkpoint
	need     int64

	reqs    chan func()
	notify  chan struct{}
	stopped chan struct{}
}

type entry struct {
	u         unit
	due       int64
	cancelled bool
	idx       int
}

type entryHeap []*entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].u.queueOffset < h[j].u.queueOffset
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *entryHeap) Push(x any)   { e := x.(*entry); e.idx = len(*h); *h = append(*h, e) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// markerRef cancels the timers of one key in one slot whose epoch is at
// most bound.
type markerRef struct {
	keyHash uint64
	slot    int64
	bound   int64
}

// earlyMarker is a marker this service stored that the enqueue has not
// read back yet.
type earlyMarker struct {
	markerRef
	offPy int64
}

// Open opens (or creates) the wheel, log and checkpoint of opts.Dir and
// recovers: units logged after the checkpoint are linked into the wheel
// again, a torn tail (or units pointing past the recovered commit log) is
// cut, and the commit log written since the checkpoint is scanned for
// timers already delivered, so that none is delivered twice. st must be
// open and recovered, and not yet taking puts from clients.
func Open(st *store.Store, opts Options) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	s := &Service{
		opts: o, st: st, log: o.Logger.With("component", "timer"),
		rules: Rules{PrecisionMs: o.PrecisionMs, MaxDelayMs: o.MaxDelay.Milliseconds(), Disabled: o.Disabled},
		p:     o.PrecisionMs, ckPath: filepath.Join(o.Dir, "config", "timercheck.json"),
		startC: map[int64]int64{}, byKey: map[uint64][]*entry{}, seen: map[int64]int64{},
		markers: map[int64][]markerRef{}, done: map[int64]struct{}{},
		reqs: make(chan func()), notify: make(chan struct{}, 1), stopped: make(chan struct{}),
	}
	s.w = o.RollWindow.Milliseconds() / s.p
	s.lead = min(s.p/2, 200)
	if o.Disabled {
		close(s.stopped)
		return s, nil
	}
	for _, d := range []string{"config", "timerlog"} {
		if err := o.FS.MkdirAll(filepath.Join(o.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("timer: %w", err)
		}
	}
	if err := o.FS.SyncDir(o.Dir); err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	if err := s.recover(); err != nil {
		if s.tl != nil {
			s.tl.close()
		}
		if s.wh != nil {
			s.wh.close()
		}
		return nil, err
	}
	return s, nil
}

// Rules are the service's put-time rules (the broker's put hook).
func (s *Service) Rules() Rules { return s.rules }

func (s *Service) nowMs() int64 { return s.opts.Now().UnixMilli() }

func (s *Service) recover() error {
	o := s.opts
	n := 2 * s.w
	ck, ok, err := readCheckpoint(o.FS, s.ckPath)
	if err != nil {
		return err
	}
	logDir, wheelPath := filepath.Join(o.Dir, "timerlog"), filepath.Join(o.Dir, "timerwheel")
	if ok && (ck.PrecisionMs != s.p || ck.Slots != n) {
		tl, err := openLog(o.FS, logDir, o.SegmentUnits)
		if err != nil {
			return err
		}
		live := tl.end > ck.LogEnd
		for _, seg := range tl.segs {
			if ms, ok := ck.SegmentMaxSlot[segKey(seg.base)]; !ok || ms >= ck.ReadSlot {
				live = true
			}
		}
		tl.close()
		if live {
			return fmt.Errorf("timer: the wheel in %s holds pending timers made with timerPrecisionMs=%d and a %d-slot wheel; "+
				"this start asks for timerPrecisionMs=%d and %d slots: restart with the old settings until those timers are delivered",
				o.Dir, ck.PrecisionMs, ck.Slots, s.p, n)
		}
		s.log.Info("timer settings changed with no pending timers: new wheel", "precisionMs", s.p, "slots", n)
		ok = false
	}
	if !ok {
		// A fresh wheel. Timer records already in the store (the wheel's
		// files were removed) are enqueued again from the queue's start.
		if err := o.FS.RemoveAll(logDir); err != nil {
			return fmt.Errorf("timer: %w", err)
		}
		if err := o.FS.RemoveAll(wheelPath); err != nil {
			return fmt.Errorf("timer: %w", err)
		}
		if err := o.FS.MkdirAll(logDir, 0o755); err != nil {
			return fmt.Errorf("timer: %w", err)
		}
		if err := o.FS.SyncDir(o.Dir); err != nil {
			return fmt.Errorf("timer: %w", err)
		}
		// Timers already delivered can only be stored after the first
		// timer record: scan from there (nothing to scan on a store that
		// never held one, e.g. one written before timers existed).
		ck = checkpoint{
			PrecisionMs: s.p, Slots: n, ReadSlot: floorDiv(s.nowMs(), s.p),
			CommitLogOffset: s.st.CommitLogMaxOffset(), QueueOffset: s.st.MinOffset(Topic, 0),
		}
		if res, err := s.st.GetMessages(Topic, 0, ck.QueueOffset, 1, 0, nil); err == nil && len(res.Records) > 0 {
			if m, _, err := message.Decode(res.Records[0], false); err == nil {
				ck.CommitLogOffset = m.PhysicalOffset
			}
		}
		if err := writeCheckpoint(o.FS, s.ckPath, ck); err != nil {
			return err
		}
	}
	if s.tl, err = openLog(o.FS, logDir, o.SegmentUnits); err != nil {
		return err
	}
	if s.wh, err = openWheel(o.FS, wheelPath, n); err != nil {
		return err
	}
	for _, seg := range s.tl.segs {
		if ms, ok := ck.SegmentMaxSlot[segKey(seg.base)]; ok {
			seg.maxSlot = ms
		}
	}
	if s.tl.end < ck.LogEnd {
		s.log.Error("timer log is shorter than its checkpoint says: units were lost", "end", s.tl.end, "checkpoint", ck.LogEnd)
	}
	// Link again what was logged after the checkpoint; the wheel file may
	// already hold some of it (it is written after the log is synced).
	clogEnd := s.st.CommitLogMaxOffset()
	s.q = ck.QueueOffset
	relinked := 0
	errStop := errors.New("stop")
	end, err := s.tl.scan(ck.LogEnd, func(pos int64, u unit) error {
		if u.offPy+int64(u.size) > clogEnd {
			return errStop // its record did not survive the crash
		}
		s.q = max(s.q, u.queueOffset+1)
		if u.slot < ck.ReadSlot {
			return nil
		}
		e, err := s.slotHead(u.slot, pos)
		if err != nil {
			return err
		}
		if e.last >= pos {
			return nil
		}
		s.wh.set(slotEntry{slot: u.slot, last: pos, count: e.count + 1})
		relinked++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if end < s.tl.end {
		s.log.Warn("timer log: cut a torn tail", "from", end, "units", (s.tl.end-end)/unitSize)
		if err := s.tl.truncate(end); err != nil {
			return err
		}
	}
	s.q = min(max(s.q, s.st.MinOffset(Topic, 0)), s.st.MaxOffset(Topic, 0))
	s.readSlot, s.gathered = ck.ReadSlot, ck.ReadSlot
	// Timers delivered after the checkpoint carry their epoch.
	if err := s.st.ScanRecords(ck.CommitLogOffset, func(_ int64, rec []byte) error {
		m, _, err := message.Decode(rec, false)
		if err != nil || m.Topic == Topic {
			return nil
		}
		if v, ok := message.Property(m.Properties, PropertyEpoch); ok {
			if e, err := strconv.ParseInt(v, 10, 64); err == nil {
				s.done[e] = struct{}{}
			}
		}
		return nil
	}); err != nil {
		s.log.Warn("timer recovery: commit-log scan stopped early", "err", err)
	}
	s.doneTill = s.rules.SlotOf(s.nowMs()) + 1
	s.log.Info("timer wheel recovered", "readSlot", s.readSlot, "queueOffset", s.q, "logEnd", s.tl.end,
		"relinked", relinked, "deliveredSinceCheckpoint", len(s.done))
	return nil
}

// slotHead returns slot's chain head; a damaged slot is rebuilt from the
// log's units before position upTo (−1: all).
func (s *Service) slotHead(slot, upTo int64) (slotEntry, error) {
	e, err := s.wh.get(slot)
	if err == nil || !errors.Is(err, errBadSlot) {
		return e, err
	}
	s.log.Error("damaged timer wheel slot: rebuilding it from the log", "slot", slot)
	e = slotEntry{slot: slot, last: -1}
	_, serr := s.tl.scan(s.tl.start(), func(pos int64, u unit) error {
		if upTo >= 0 && pos >= upTo {
			return errStopScan
		}
		if u.slot == slot {
			e.last, e.count = pos, e.count+1
		}
		return nil
	})
	if serr != nil && !errors.Is(serr, errStopScan) {
		return e, serr
	}
	s.wh.set(e)
	return e, nil
}

var errStopScan = errors.New("timer: stop scan")

// Notify is the store's dispatch hook: a record of Topic was dispatched.
func (s *Service) Notify(topic string, _ int32, _ int64) {
	if topic != Topic {
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Run enqueues, delivers and checkpoints until ctx ends, then writes what
// it holds to the log and wheel. Call Persist after the store is closed.
func (s *Service) Run(ctx context.Context) {
	if s.opts.Disabled {
		<-ctx.Done()
		return
	}
	defer close(s.stopped)
	// Enqueue everything stored before the first delivery, so that markers
	// stored before a crash are linked before their slot is read.
	for s.enqueue() {
		if ctx.Err() != nil {
			break
		}
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := s.nowMs()
		more := s.enqueue()
		s.advance(ctx, now)
		s.checkpoint(now)
		if ctx.Err() != nil {
			break
		}
		if more {
			select {
			case f := <-s.reqs:
				f()
			default:
			}
			continue
		}
		t.Reset(time.Duration(s.nextWake(s.nowMs())) * time.Millisecond)
		select {
		case <-ctx.Done():
		case f := <-s.reqs:
			f()
		case <-s.notify:
		case <-t.C:
		}
	}
	if err := s.capture(); err != nil {
		s.log.Error("timer: final flush", "err", err)
	}
}

// Persist writes the last checkpoint; call it after Run returned and the
// store was closed (so that what the timers delivered is durable).
func (s *Service) Persist() error {
	if s.stash == nil {
		return nil
	}
	if s.st.FlushedOffset() < s.need {
		return fmt.Errorf("timer: checkpoint not written: the commit log is flushed to %d of %d", s.st.FlushedOffset(), s.need)
	}
	err := s.writeStash()
	return err
}

// Close releases the service's files.
func (s *Service) Close() error {
	var err error
	if s.tl != nil {
		err = errors.Join(err, s.tl.close())
	}
	if s.wh != nil {
		err = errors.Join(err, s.wh.close())
	}
	return err
}

func (s *Service) nextWake(now int64) int64 {
	wake := s.lastCk + s.opts.FlushInterval.Milliseconds()
	if s.stash != nil {
		wake = min(wake, now+20)
	}
	if s.pend.Len() > 0 {
		wake = min(wake, max(s.pend[0].due, s.retryAt))
	}
	wake = min(wake, s.gathered*s.p-s.lead)
	return min(max(wake-now, 1), 1000)
}

// enqueue reads a batch of new timer records and places them; it reports
// whether more are waiting.
func (s *Service) enqueue() bool {
	maxQ := s.st.MaxOffset(Topic, 0)
	if s.q >= maxQ {
		return false
	}
	res, err := s.st.GetMessages(Topic, 0, s.q, 512, 4<<20, nil)
	if err != nil {
		s.log.Error("timer: read the timer queue", "offset", s.q, "err", err)
		return false
	}
	switch res.Status {
	case store.Found:
	case store.OffsetTooSmall, store.OffsetFoundNull, store.NoMatchedMessage:
		s.log.Warn("timer: skipped timer records no longer stored", "from", s.q, "to", res.NextBeginOffset, "status", res.Status)
		s.q = res.NextBeginOffset
		return s.q < maxQ
	default:
		return false
	}
	for i, rec := range res.Records {
		m, _, err := message.Decode(rec, false)
		if err != nil {
			s.log.Error("timer: undecodable timer record", "queueOffset", res.QueueOffsets[i], "err", err)
			continue
		}
		s.place(&m, int32(len(rec)), res.QueueOffsets[i])
	}
	s.q = res.NextBeginOffset
	return s.q < maxQ
}

// place turns a timer record into a unit and links it.
func (s *Service) place(m *message.Message, size int32, qo int64) {
	props := m.Properties
	u := unit{offPy: m.PhysicalOffset, size: size, queueOffset: qo, epoch: qo, prev: -1}
	if v, ok := message.Property(props, message.PropertyTimerDeliverMs); ok {
		u.deliverMs, _ = strconv.ParseInt(v, 10, 64)
	} else if v, ok := message.Property(props, message.PropertyTimerOutMs); ok {
		out, _ := strconv.ParseInt(v, 10, 64)
		u.deliverMs = out + s.p // RocketMQ's record: due at the slot's end
	}
	if u.deliverMs <= 0 {
		s.log.Error("timer: timer record without a deliver time dropped", "offset", u.offPy)
		return
	}
	epoch, hasEpoch := message.Property(props, PropertyEpoch)
	if hasEpoch {
		if e, err := strconv.ParseInt(epoch, 10, 64); err == nil {
			u.epoch = e
		}
	}
	if del, ok := message.Property(props, message.PropertyTimerDelUniqKey); ok {
		u.flags |= flagMarker
		u.keyHash = keyHash(del)
		if !hasEpoch {
			u.epoch = qo - 1 // cancels what was stored before it
		}
		for i, em := range s.early {
			if em.offPy == u.offPy {
				s.early = append(s.early[:i], s.early[i+1:]...)
				break
			}
		}
	} else {
		rt, _ := message.Property(props, message.PropertyRealTopic)
		uq, _ := message.Property(props, message.PropertyUniqKey)
		u.keyHash = keyHash(DeleteKey(rt, uq))
	}
	s.placeUnit(u, s.rules.SlotOf(u.deliverMs))
}

func (s *Service) placeUnit(u unit, target int64) {
	switch {
	case target < s.readSlot:
		if u.marker() {
			s.log.Debug("timer: recall marker arrived after its slot", "slot", target)
			return
		}
		target = s.readSlot // overdue: the next slot to run delivers it
	case target-s.readSlot >= s.w:
		u.flags |= flagRoll
		target = s.readSlot + s.w - 1
	}
	u.slot = target
	e, err := s.slotHead(target, -1)
	if err != nil {
		s.log.Error("timer: read wheel slot", "slot", target, "err", err)
	}
	u.prev = e.last
	pos, err := s.tl.append(&u)
	if err != nil {
		s.log.Error("timer: append to the timer log", "err", err)
		if target < s.gathered {
			s.addPending(u)
		}
		return
	}
	s.wh.set(slotEntry{slot: target, last: pos, count: e.count + 1})
	if target < s.gathered {
		s.addPending(u)
	}
}

// advance gathers slots whose time is near, delivers what is due, and
// moves the read slot.
func (s *Service) advance(ctx context.Context, now int64) {
	for n := 0; s.gathered*s.p-s.lead <= now && s.gathered-s.readSlot < s.w/2 && n < 100_000; n++ {
		s.gather(s.gathered)
		s.gathered++
	}
	s.deliverDue(ctx, now)
	r := s.gathered
	for s.pend.Len() > 0 && s.pend[0].cancelled {
		s.drop(heap.Pop(&s.pend).(*entry))
	}
	if s.pend.Len() > 0 {
		r = min(r, s.pend[0].u.slot)
	}
	if r > s.readSlot {
		for sl := s.readSlot; sl < r; sl++ {
			delete(s.startC, sl)
			delete(s.markers, sl)
		}
		for k, sl := range s.seen {
			if sl < r {
				delete(s.seen, k)
			}
		}
		s.readSlot = r
		if len(s.done) > 0 && r > s.doneTill {
			clear(s.done)
		}
	}
}

// gather reads slot's chain into the pending heap: its markers first, then
// its timers (and parked rolls) oldest first.
func (s *Service) gather(slot int64) {
	s.startC[slot] = s.st.CommitLogMaxOffset()
	for _, em := range s.early {
		if em.slot == slot {
			s.markers[slot] = append(s.markers[slot], em.markerRef)
		}
	}
	e, err := s.slotHead(slot, -1)
	if err != nil {
		s.log.Error("timer: read wheel slot", "slot", slot, "err", err)
		return
	}
	var units []unit
	for pos := e.last; pos >= 0; {
		u, err := s.tl.read(pos)
		if err != nil || u.slot != slot || u.prev >= pos {
			s.log.Error("timer: broken slot chain; the rest of the slot is lost", "slot", slot, "pos", pos, "err", err)
			break
		}
		units = append(units, u)
		pos = u.prev
	}
	for _, u := range units {
		if u.marker() {
			s.markers[slot] = append(s.markers[slot], markerRef{u.keyHash, slot, u.epoch})
		}
	}
	for i := len(units) - 1; i >= 0; i-- {
		if !units[i].marker() {
			s.addPending(units[i])
		}
	}
}

// addPending puts a unit of a gathered slot in the heap (or applies a
// marker), unless a marker cancels it or its timer was already handled.
func (s *Service) addPending(u unit) {
	if u.marker() {
		s.applyMarker(markerRef{u.keyHash, u.slot, u.epoch})
		return
	}
	if !u.roll() {
		for _, m := range s.markers[u.slot] {
			if m.keyHash == u.keyHash && u.epoch <= m.bound {
				return
			}
		}
		if _, ok := s.done[u.epoch]; ok {
			return
		}
	}
	k := u.epoch * 2
	if u.roll() {
		k++
	}
	if _, dup := s.seen[k]; dup {
		return
	}
	s.seen[k] = u.slot
	e := &entry{u: u, due: max(u.deliverMs, u.slot*s.p+1)}
	if u.roll() {
		e.due = u.slot*s.p + 1
	}
	heap.Push(&s.pend, e)
	s.byKey[u.keyHash] = append(s.byKey[u.keyHash], e)
}

// applyMarker records a marker of a gathered slot and cancels the pending
// timers it names; it returns how many it cancelled.
func (s *Service) applyMarker(m markerRef) int {
	s.markers[m.slot] = append(s.markers[m.slot], m)
	n := 0
	for _, e := range s.byKey[m.keyHash] {
		if !e.cancelled && !e.u.roll() && e.u.slot == m.slot && e.u.epoch <= m.bound {
			e.cancelled = true
			n++
		}
	}
	return n
}

// hasLive reports whether a gathered slot still holds a pending timer of key.
func (s *Service) hasLive(key uint64, slot int64) bool {
	for _, e := range s.byKey[key] {
		if !e.cancelled && !e.u.roll() && e.u.slot == slot {
			return true
		}
	}
	return false
}

func (s *Service) drop(e *entry) {
	l := s.byKey[e.u.keyHash]
	for i, x := range l {
		if x == e {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(s.byKey, e.u.keyHash)
	} else {
		s.byKey[e.u.keyHash] = l
	}
}

// deliverDue stores every due timer in its real topic (and re-parks due
// rolls), in batches.
func (s *Service) deliverDue(ctx context.Context, now int64) {
	if now < s.retryAt {
		return
	}
	for s.pend.Len() > 0 && s.pend[0].due <= now {
		batch := make([]*entry, 0, 256)
		for s.pend.Len() > 0 && s.pend[0].due <= now && len(batch) < cap(batch) {
			e := heap.Pop(&s.pend).(*entry)
			if e.cancelled {
				s.drop(e)
				continue
			}
			batch = append(batch, e)
		}
		msgs := make([]*message.Message, 0, len(batch))
		ents := batch[:0:0]
		for _, e := range batch {
			m, err := s.outgoing(e, now)
			if err != nil {
				s.log.Error("timer: timer dropped", "offset", e.u.offPy, "err", err)
				s.drop(e)
				continue
			}
			msgs = append(msgs, m)
			ents = append(ents, e)
		}
		done, err := s.put(ctx, msgs)
		for _, e := range ents[:done] {
			s.drop(e)
		}
		if done < len(ents) {
			for _, e := range ents[done:] {
				heap.Push(&s.pend, e)
			}
			s.retryAt = now + s.opts.RetryInterval.Milliseconds()
			if ctx.Err() == nil {
				s.log.Warn("timer: delivery failed; retrying", "in", s.opts.RetryInterval, "err", err)
			}
			return
		}
	}
}

// outgoing builds what a due entry stores: the message in its real topic,
// or for a roll a copy parked in Topic again.
func (s *Service) outgoing(e *entry, now int64) (*message.Message, error) {
	r, err := s.st.LookMessage(e.u.offPy)
	if err != nil {
		return nil, fmt.Errorf("read timer record: %w", err)
	}
	if r.Topic != Topic || r.QueueOffset != e.u.queueOffset {
		return nil, fmt.Errorf("the record at %d is not the timer record (topic %s, queue offset %d)", e.u.offPy, r.Topic, r.QueueOffset)
	}
	enq, ok := message.Property(r.Properties, message.PropertyTimerEnqueueMs)
	if !ok {
		enq = strconv.FormatInt(r.StoreTimestamp, 10)
	}
	out := &message.Message{
		Flag: r.Flag, SysFlag: r.SysFlag, BornTimestamp: r.BornTimestamp, BornHost: r.BornHost,
		ReconsumeTimes: r.ReconsumeTimes, Body: r.Body,
	}
	epoch := message.PropertyEdit{Name: PropertyEpoch, Value: strconv.FormatInt(e.u.epoch, 10)}
	if e.u.roll() {
		rolls, _ := message.Property(r.Properties, message.PropertyTimerRollTimes)
		n, _ := strconv.Atoi(rolls)
		out.Topic, out.QueueID = Topic, 0
		out.Properties = message.EditProperties(r.Properties, epoch,
			message.PropertyEdit{Name: message.PropertyTimerRollTimes, Value: strconv.Itoa(n + 1)},
			message.PropertyEdit{Name: message.PropertyTimerEnqueueMs, Value: enq},
			message.PropertyEdit{Name: message.PropertyWaitStoreMsg, Value: "false"})
		return out, nil
	}
	topic, _ := message.Property(r.Properties, message.PropertyRealTopic)
	qs, _ := message.Property(r.Properties, message.PropertyRealQueueID)
	qid, err := strconv.ParseInt(qs, 10, 32)
	if topic == "" || err != nil || qid < 0 {
		return nil, fmt.Errorf("timer record without a valid REAL_TOPIC/REAL_QID (%q, %q)", topic, qs)
	}
	out.Topic, out.QueueID = topic, int32(qid)
	out.Properties = message.EditProperties(r.Properties, epoch,
		message.PropertyEdit{Name: message.PropertyRealTopic},
		message.PropertyEdit{Name: message.PropertyRealQueueID},
		message.PropertyEdit{Name: message.PropertyTimerEnqueueMs, Value: enq},
		message.PropertyEdit{Name: message.PropertyTimerDequeueMs, Value: strconv.FormatInt(now, 10)},
		message.PropertyEdit{Name: message.PropertyWaitStoreMsg, Value: "false"})
	return out, nil
}

// put stores msgs in order and returns how many are done: stored, or
// dropped because the store can never take them. It stops at the first
// failure that may pass (a full disk, a closed store).
func (s *Service) put(ctx context.Context, msgs []*message.Message) (int, error) {
	done, _, err := s.st.PutAll(ctx, msgs, func(m *message.Message, err error) {
		s.log.Error("timer: message dropped: the store refuses it", "topic", m.Topic, "err", err)
	})
	return done, err
}

// checkpoint captures state every FlushInterval and writes it once the
// commit log holds everything it vouches for.
func (s *Service) checkpoint(now int64) {
	if s.stash != nil && s.st.FlushedOffset() >= s.need {
		if err := s.writeStash(); err != nil {
			s.log.Error("timer: write checkpoint", "err", err)
		}
	}
	if s.stash != nil || now-s.lastCk < s.opts.FlushInterval.Milliseconds() {
		return
	}
	s.lastCk = now
	if err := s.capture(); err != nil {
		s.log.Error("timer: checkpoint", "err", err)
	}
}

// capture makes the log and wheel durable and stashes a checkpoint for
// them, to be written when the commit log is flushed to s.need.
func (s *Service) capture() error {
	if err := s.tl.sync(); err != nil {
		return err
	}
	if err := s.wh.flush(); err != nil {
		return err
	}
	c, ok := s.startC[s.readSlot]
	if !ok {
		c = s.st.CommitLogMaxOffset()
	}
	ck := &checkpoint{
		PrecisionMs: s.p, Slots: 2 * s.w, ReadSlot: s.readSlot, CommitLogOffset: c,
		QueueOffset: s.q, LogEnd: s.tl.end, SegmentMaxSlot: map[string]int64{},
	}
	for _, seg := range s.tl.segs {
		ck.SegmentMaxSlot[segKey(seg.base)] = seg.maxSlot
	}
	s.stash, s.need = ck, s.st.CommitLogMaxOffset()
	return nil
}

func (s *Service) writeStash() error {
	ck := s.stash
	if err := writeCheckpoint(s.opts.FS, s.ckPath, *ck); err != nil {
		return err
	}
	s.stash = nil
	if err := s.tl.removeDead(ck.ReadSlot); err != nil {
		s.log.Warn("timer: log cleanup", "err", err)
	}
	return nil
}

// do runs f on the service goroutine.
func (s *Service) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case s.reqs <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-s.stopped:
		return ErrClosed
	}
}
