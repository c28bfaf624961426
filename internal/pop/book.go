package pop

import (
	"container/heap"
	"fmt"
	"slices"
	"sync"
)

// QueueKey names one queue as consumed by one group.
type QueueKey struct {
	Topic   string
	Group   string
	QueueID int32
}

// Commit asks the caller to store a group's consume offset (never moving
// it backwards).
type Commit struct {
	QueueKey
	Offset int64
}

// Due is a checkpoint whose invisible time has passed with messages still
// unacknowledged: the caller re-puts Offsets and then calls Revived.
type Due struct {
	CK        CheckPoint
	ReviveQid int32
	Offsets   []int64
}

type ckState uint8

const (
	ckPending  ckState = iota // waiting for acks or its revive time
	ckReviving                // handed out by Due
	ckDone                    // fully acked or revived
)

type ckEntry struct {
	ck        *CheckPoint
	reviveQid int32
	ro        int64 // its record's offset in the revive queue
	acked     uint32
	moved     uint32 // acked by ChangeInvisibleTime: the old handle is dead
	state     ckState
	rng       *popRange
	heapIdx   int
}

func (e *ckEntry) all() uint32 { return uint32(1)<<len(e.ck.Diffs) - 1 }

// popRange is the offsets [start, end) one pop took from a queue; it is done
// when every checkpoint covering it is done (a mock range, where a filter
// matched nothing, is done at once).
type popRange struct {
	start, end int64
	open       int
	cks        []*ckEntry
}

type queueBook struct {
	cursor    int64
	hasCursor bool
	ranges    []*popRange
}

// reviveLog tracks, for one revive queue, which checkpoint records are
// still needed after a restart: a record is released once its checkpoint
// is done and the consume offset of its queue has passed its range.
type reviveLog struct {
	ros      []int64 // registered record offsets, increasing
	released map[int64]bool
	next     int64 // one past the last registered record
}

// Book is the in-flight state of non-FIFO pops: checkpoints by key, their
// ack bits, a heap by revive time, the popped ranges of every queue (the
// consume offset moves past a range once all of it is acked or revived)
// and the revive progress of every revive queue. It decides and does no
// I/O; time comes in as an argument. Safe for concurrent use.
type Book struct {
	mu     sync.Mutex
	cks    map[Key]*ckEntry
	due    ckHeap
	queues map[QueueKey]*queueBook
	logs   map[int32]*reviveLog
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{cks: map[Key]*ckEntry{}, queues: map[QueueKey]*queueBook{}, logs: map[int32]*reviveLog{}}
}

// Cursor is where the next pop of a queue starts, if the book knows.
func (b *Book) Cursor(q QueueKey) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if qb := b.queues[q]; qb != nil && qb.hasCursor {
		return qb.cursor, true
	}
	return 0, false
}

// Reset forgets the popped ranges of a queue and starts its next pop at
// off (an administrative offset reset). In-flight checkpoints still
// revive.
func (b *Book) Reset(q QueueKey, off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	qb := b.queue(q)
	for _, r := range qb.ranges {
		for _, e := range r.cks {
			e.rng = nil
			if e.state == ckDone {
				b.release(e)
			}
		}
	}
	qb.ranges, qb.cursor, qb.hasCursor = nil, off, true
}

// SetCursor moves the next pop of a queue to off without a range (the
// store said the offset was out of range).
func (b *Book) SetCursor(q QueueKey, off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	qb := b.queue(q)
	qb.cursor, qb.hasCursor = off, true
}

func (b *Book) queue(q QueueKey) *queueBook {
	qb := b.queues[q]
	if qb == nil {
		qb = &queueBook{}
		b.queues[q] = qb
	}
	return qb
}

func (b *Book) log(rq int32) *reviveLog {
	l := b.logs[rq]
	if l == nil {
		l = &reviveLog{released: map[int64]bool{}}
		b.logs[rq] = l
	}
	return l
}

// register adds a checkpoint whose record is at ro in revive queue rq.
func (b *Book) register(ck *CheckPoint, rq int32, ro int64) *ckEntry {
	e := &ckEntry{ck: ck, reviveQid: rq, ro: ro}
	if old := b.cks[ck.Key()]; old != nil {
		return old // the same record read twice
	}
	b.cks[ck.Key()] = e
	heap.Push(&b.due, e)
	l := b.log(rq)
	if n := len(l.ros); n == 0 || ro > l.ros[n-1] {
		l.ros = append(l.ros, ro)
	} else {
		i, _ := slices.BinarySearch(l.ros, ro)
		l.ros = slices.Insert(l.ros, i, ro)
	}
	l.next = max(l.next, ro+1)
	return e
}

// AddPop records a pop: its checkpoint, stored at ro in revive queue rq,
// and the range [ck.StartOffset, next) it consumed; the queue's cursor
// moves to next.
func (b *Book) AddPop(ck *CheckPoint, rq int32, ro, next int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.register(ck, rq, ro)
	qb := b.queue(QueueKey{ck.Topic, ck.Group, ck.QueueID})
	r := &popRange{start: ck.StartOffset, end: next, open: 1, cks: []*ckEntry{e}}
	e.rng = r
	qb.ranges = append(qb.ranges, r)
	qb.cursor, qb.hasCursor = next, true
}

// AddMock records a pop that consumed [start, next) without delivering
// anything (a filter matched nothing); it returns the commits that follow.
func (b *Book) AddMock(q QueueKey, start, next int64) []Commit {
	b.mu.Lock()
	defer b.mu.Unlock()
	qb := b.queue(q)
	qb.ranges = append(qb.ranges, &popRange{start: start, end: next})
	qb.cursor, qb.hasCursor = next, true
	return b.advance(q, qb, nil)
}

// AddChange records the checkpoint ChangeInvisibleTime writes for one
// message; the range that message was popped in stays open until this
// checkpoint is done too.
func (b *Book) AddChange(ck *CheckPoint, rq int32, ro int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.register(ck, rq, ro)
	if e.rng != nil {
		return
	}
	b.attach(e)
}

func (b *Book) attach(e *ckEntry) {
	qb := b.queues[QueueKey{e.ck.Topic, e.ck.Group, e.ck.QueueID}]
	if qb == nil {
		return
	}
	for _, r := range qb.ranges {
		if e.ck.StartOffset >= r.start && e.ck.StartOffset < r.end {
			e.rng = r
			r.cks = append(r.cks, e)
			if e.state != ckDone {
				r.open++
			}
			return
		}
	}
}

// Ack marks queue offset off of checkpoint k acknowledged. It fails with
// ErrHandleUnknown when the book holds no such checkpoint or offset, and
// with ErrHandleExpired once the checkpoint's revive time has come (then
// the message is delivered again). Acking twice is not an error; first
// says whether this call set the bit. The commits are what the caller
// must apply.
func (b *Book) Ack(k Key, off, now int64) (first bool, commits []Commit, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.cks[k]
	if e == nil {
		return false, nil, ErrHandleUnknown
	}
	if now >= e.ck.ReviveTime() || e.state == ckReviving {
		return false, nil, ErrHandleExpired
	}
	i := e.ck.Index(off)
	if i < 0 {
		return false, nil, ErrHandleUnknown
	}
	if e.moved&(1<<i) != 0 {
		return false, nil, fmt.Errorf("%w: offset %d has a new handle from ChangeInvisibleTime", ErrHandleUnknown, off)
	}
	if e.acked&(1<<i) != 0 {
		return false, nil, nil
	}
	e.acked |= 1 << i
	if e.acked == e.all() {
		commits = b.finish(e)
	}
	return true, commits, nil
}

// Move acks offset off of checkpoint k for ChangeInvisibleTime, which gave
// the message a new checkpoint: later acks with k's handle fail with
// ErrHandleUnknown.
func (b *Book) Move(k Key, off int64) []Commit {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.cks[k]
	if e == nil || e.state == ckReviving {
		return nil
	}
	i := e.ck.Index(off)
	if i < 0 {
		return nil
	}
	e.moved |= 1 << i
	if e.acked&(1<<i) != 0 {
		return nil
	}
	e.acked |= 1 << i
	if e.acked == e.all() {
		return b.finish(e)
	}
	return nil
}

// Unack clears a bit Ack set when its record could not be written, unless
// the checkpoint is already done.
func (b *Book) Unack(k Key, off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.cks[k]; e != nil && e.state == ckPending {
		if i := e.ck.Index(off); i >= 0 {
			e.acked &^= 1 << i
		}
	}
}

// NextDue is the earliest revive time of a checkpoint in the book.
func (b *Book) NextDue() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.due) == 0 {
		return 0, false
	}
	return b.due[0].ck.ReviveTime(), true
}

// Due takes the checkpoints whose revive time is ≤ now. Done ones leave
// the book; the others are returned with their unacked offsets and stay
// (acks now fail as expired) until Revived or Retry.
func (b *Book) Due(now int64, limit int) []Due {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Due
	for len(b.due) > 0 && b.due[0].ck.ReviveTime() <= now && len(out) < limit {
		e := heap.Pop(&b.due).(*ckEntry)
		if e.state == ckDone {
			delete(b.cks, e.ck.Key())
			continue
		}
		e.state = ckReviving
		d := Due{CK: *e.ck, ReviveQid: e.reviveQid}
		for i := range e.ck.Diffs {
			if e.acked&(1<<i) == 0 {
				d.Offsets = append(d.Offsets, e.ck.Offset(i))
			}
		}
		out = append(out, d)
	}
	return out
}

// Revived marks a checkpoint handed out by Due as done and drops it.
func (b *Book) Revived(k Key) []Commit {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.cks[k]
	if e == nil || e.state != ckReviving {
		return nil
	}
	delete(b.cks, k)
	return b.finish(e)
}

// Retry puts a checkpoint handed out by Due back, due again at at.
func (b *Book) Retry(k Key, at int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.cks[k]
	if e == nil || e.state != ckReviving {
		return
	}
	e.state = ckPending
	e.ck.InvisibleTime = at - e.ck.PopTime
	heap.Push(&b.due, e)
}

// finish marks e done and moves its queue's consume offset past every
// leading range that is now done.
func (b *Book) finish(e *ckEntry) []Commit {
	if e.state == ckDone {
		return nil
	}
	e.state = ckDone
	if e.rng == nil {
		b.release(e)
		return nil
	}
	e.rng.open--
	q := QueueKey{e.ck.Topic, e.ck.Group, e.ck.QueueID}
	return b.advance(q, b.queues[q], nil)
}

func (b *Book) advance(q QueueKey, qb *queueBook, out []Commit) []Commit {
	if qb == nil {
		return out
	}
	n := 0
	for n < len(qb.ranges) && qb.ranges[n].open <= 0 {
		for _, e := range qb.ranges[n].cks {
			e.rng = nil
			b.release(e)
		}
		n++
	}
	if n > 0 {
		out = append(out, Commit{q, qb.ranges[n-1].end})
		qb.ranges = slices.Delete(qb.ranges, 0, n)
	}
	return out
}

func (b *Book) release(e *ckEntry) {
	l := b.log(e.reviveQid)
	l.released[e.ro] = true
}

// Progress is where a scan of revive queue rq must start after a restart:
// the first record not yet released, or one past the last registered.
func (b *Book) Progress(rq int32) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.logs[rq]
	if l == nil {
		return 0, false
	}
	n := 0
	for n < len(l.ros) && l.released[l.ros[n]] {
		delete(l.released, l.ros[n])
		n++
	}
	l.ros = slices.Delete(l.ros, 0, n)
	if len(l.ros) > 0 {
		return l.ros[0], true
	}
	return l.next, true
}

// Load adds a checkpoint read back from revive queue rq at ro (restart).
// Call LoadAck for the acks read after it and Rebuild at the end.
func (b *Book) Load(ck *CheckPoint, rq int32, ro int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.register(ck, rq, ro)
}

// LoadAck applies an ack record read back; one for an unknown checkpoint
// (already released) is ignored.
func (b *Book) LoadAck(k Key, offsets []int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.cks[k]; e != nil {
		for _, o := range offsets {
			if i := e.ck.Index(o); i >= 0 {
				e.acked |= 1 << i
			}
		}
	}
}

// Rebuild ends a load: it rebuilds the popped ranges of every queue from
// the checkpoints (overlapping ones merge: ChangeInvisibleTime's lie inside
// their pop's), moves each cursor past them, no lower than committed(q),
// and returns the commits of the ranges already done.
func (b *Book) Rebuild(committed func(QueueKey) int64) []Commit {
	b.mu.Lock()
	defer b.mu.Unlock()
	byQueue := map[QueueKey][]*ckEntry{}
	for _, e := range b.cks {
		q := QueueKey{e.ck.Topic, e.ck.Group, e.ck.QueueID}
		byQueue[q] = append(byQueue[q], e)
		if e.acked == e.all() {
			e.state = ckDone
		}
	}
	var out []Commit
	for q, es := range byQueue {
		slices.SortFunc(es, func(x, y *ckEntry) int {
			if x.ck.StartOffset != y.ck.StartOffset {
				return int(x.ck.StartOffset - y.ck.StartOffset)
			}
			return int(y.ck.End() - x.ck.End())
		})
		qb := b.queue(q)
		qb.ranges = nil
		for _, e := range es {
			var r *popRange
			if n := len(qb.ranges); n > 0 && e.ck.StartOffset < qb.ranges[n-1].end {
				r = qb.ranges[n-1]
				r.end = max(r.end, e.ck.End())
			} else {
				r = &popRange{start: e.ck.StartOffset, end: e.ck.End()}
				qb.ranges = append(qb.ranges, r)
			}
			r.cks = append(r.cks, e)
			e.rng = r
			if e.state != ckDone {
				r.open++
			}
		}
		c := committed(q)
		qb.cursor, qb.hasCursor = max(c, qb.ranges[len(qb.ranges)-1].end), true
		out = b.advance(q, qb, out)
	}
	return out
}

// Pending is the number of checkpoints in the book.
func (b *Book) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cks)
}

// ckHeap orders checkpoints by revive time.
type ckHeap []*ckEntry

func (h ckHeap) Len() int { return len(h) }
func (h ckHeap) Less(i, j int) bool {
	return h[i].ck.ReviveTime() < h[j].ck.ReviveTime()
}
func (h ckHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].heapIdx = i; h[j].heapIdx = j }
func (h *ckHeap) Push(x any)   { e := x.(*ckEntry); e.heapIdx = len(*h); *h = append(*h, e) }
func (h *ckHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Check reports whether Ack(k, off, now) would find an unacked message,
// without marking it (ChangeInvisibleTime validates first).
func (b *Book) Check(k Key, off, now int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.cks[k]
	switch {
	case e == nil:
		return ErrHandleUnknown
	case now >= e.ck.ReviveTime() || e.state == ckReviving:
		return ErrHandleExpired
	}
	i := e.ck.Index(off)
	if i < 0 {
		return ErrHandleUnknown
	}
	if e.acked&(1<<i) != 0 {
		return fmt.Errorf("%w: offset %d is already acknowledged", ErrHandleUnknown, off)
	}
	return nil
}
