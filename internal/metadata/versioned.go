package metadata

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// versioned is a copy-on-write table with a DataVersion, shared by Topics
// and Groups. Changes run under write, on a copy, and are installed only
// after they were persisted, so readers never see a state the file does
// not hold. Lock order: write before mu.
type versioned[V any] struct {
	write sync.Mutex // serialises changes and their file writes; taken before mu

	mu      sync.RWMutex
	table   map[string]V // replaced, never mutated, once installed
	version DataVersion
}

// update runs fn on a copy of the table; if fn reports a change, it
// persists the copy with the next DataVersion and then installs it.
// v.write must be held.
func (v *versioned[V]) update(now time.Time, persist func(tab map[string]V, ver DataVersion) error, fn func(tab map[string]V) (changed bool)) error {
	v.mu.RLock()
	tab, ver := maps.Clone(v.table), v.version
	v.mu.RUnlock()
	if !fn(tab) {
		return nil
	}
	ver = ver.next(now)
	if err := persist(tab, ver); err != nil {
		return err
	}
	v.mu.Lock()
	v.table, v.version = tab, ver
	v.mu.Unlock()
	return nil
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
// reports whether it was there. It takes v.write itself.
func (v *versioned[V]) remove(update func(fn func(tab map[string]V) bool) error, name string) (bool, error) {
	v.write.Lock()
	defer v.write.Unlock()
	found := false
	err := update(func(tab map[string]V) bool {
		_, found = tab[name]
		delete(tab, name)
		return found
	})
	return found, err
}
