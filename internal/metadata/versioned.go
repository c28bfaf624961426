package metadata

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// versioned is a copy-on-write table with a DataVersion, shared by Topics
// and Groups. Changes run on a copy and are installed only after they were
// persisted, so readers never see a state the file does not hold.
//
// Changes are group-committed: a change queues itself, and whoever holds
// write applies every queued change to one copy, persists it once and
// installs it, then answers them all. Each write rewrites the whole file
// (and syncs it), so creating topics one after another from several
// clients costs one write per group rather than one per topic. Lock order:
// write before qmu and mu.
type versioned[V any] struct {
	write sync.Mutex // held by the goroutine applying and persisting a group

	qmu   sync.Mutex
	queue []*change[V]

	mu      sync.RWMutex
	table   map[string]V // replaced, never mutated, once installed
	version DataVersion
}

// change is one queued update.
type change[V any] struct {
	fn   func(tab map[string]V) (changed bool)
	err  error
	done chan struct{} // closed once err is set
}

// update runs fn on a copy of the table, with the changes queued beside it
// in queue order; if any reports a change, it persists the copy with the
// next DataVersion and then installs it. It returns the persist error,
// which every change of the group shares (none of them is installed). fn
// must only read and change the table (and set variables of its caller).
func (v *versioned[V]) update(now time.Time, persist func(tab map[string]V, ver DataVersion) error, fn func(tab map[string]V) (changed bool)) error {
	c := &change[V]{fn: fn, done: make(chan struct{})}
	v.qmu.Lock()
	v.queue = append(v.queue, c)
	v.qmu.Unlock()
	v.write.Lock()
	defer v.write.Unlock()
	select {
	case <-c.done: // the group before ours took it
		return c.err
	default:
	}
	v.qmu.Lock()
	group := v.queue
	v.queue = nil
	v.qmu.Unlock()
	v.mu.RLock()
	tab, ver := maps.Clone(v.table), v.version
	v.mu.RUnlock()
	changed := false
	for _, g := range group {
		if g.fn(tab) {
			changed = true
		}
	}
	var err error
	if changed {
		ver = ver.next(now)
		if err = persist(tab, ver); err == nil {
			v.mu.Lock()
			v.table, v.version = tab, ver
			v.mu.Unlock()
		}
	}
	for _, g := range group {
		g.err = err
		close(g.done)
	}
	return c.err
}

func (v *versioned[V]) get(name string) (V, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c, ok := v.table[name]
	return c, ok
}

// all returns every entry sorted by its name.
func (v *versioned[V]) all(name func(V) string) []V {
	v.mu.RLock()
	tab := v.table
	v.mu.RUnlock()
	out := slices.Collect(maps.Values(tab))
	slices.SortFunc(out, func(a, b V) int { return strings.Compare(name(a), name(b)) })
	return out
}

func (v *versioned[V]) dataVersion() DataVersion {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.version
}

// remove deletes name through update (the owner's persisting update) and
// reports whether it was there.
func (v *versioned[V]) remove(update func(fn func(tab map[string]V) bool) error, name string) (bool, error) {
	found := false
	err := update(func(tab map[string]V) bool {
		_, found = tab[name]
		delete(tab, name)
		return found
	})
	return found, err
}
