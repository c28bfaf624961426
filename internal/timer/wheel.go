package timer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// slotSize is the size of one wheel slot on disk.
const slotSize = 32

// errBadSlot marks a wheel slot whose checksum does not match.
var errBadSlot = errors.New("timer: damaged wheel slot")

// slotEntry is the head of one slot's chain: Layout (big-endian) slot 8 |
// last 8 | count 8 | reserved 4 | crc32c 4. An all-zero entry is empty.
type slotEntry struct {
	slot  int64 // the slot this entry is for (stale entries name an older lap)
	last  int64 // position of the newest unit, −1 none
	count int64 // units linked (markers included)
}

// wheel is the slot file: n physical slots, slot s at (s mod n)·slotSize.
// Changes stay in memory (dirty) until flush writes them, after the units
// they point at were synced: the file only ever points at durable units.
// Only the service goroutine uses it.
type wheel struct {
	f     vfs.File
	n     int64
	dirty map[int64]slotEntry // by physical index
}

func openWheel(fs vfs.FS, path string, n int64) (*wheel, error) {
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		if f, err = fs.Create(path); err != nil {
			return nil, fmt.Errorf("timer: create wheel: %w", err)
		}
		if err := fs.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("timer: create wheel: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timer: stat wheel: %w", err)
	}
	if fi.Size() != n*slotSize {
		// Sparse: slots never written read as zeros (empty).
		if err := f.Truncate(n * slotSize); err != nil {
			f.Close()
			return nil, fmt.Errorf("timer: size wheel: %w", err)
		}
	}
	return &wheel{f: f, n: n, dirty: make(map[int64]slotEntry)}, nil
}

func (w *wheel) phys(slot int64) int64 {
	p := slot % w.n
	if p < 0 {
		p += w.n
	}
	return p
}

// get returns the chain head of slot; an empty or stale slot has last −1.
func (w *wheel) get(slot int64) (slotEntry, error) {
	p := w.phys(slot)
	e, ok := w.dirty[p]
	if !ok {
		var b [slotSize]byte
		if _, err := w.f.ReadAt(b[:], p*slotSize); err != nil && !errors.Is(err, io.EOF) {
			return slotEntry{}, fmt.Errorf("timer: read wheel: %w", err)
		}
		var err error
		if e, err = decodeSlot(b[:]); err != nil {
			return slotEntry{slot: slot, last: -1}, fmt.Errorf("%w %d", err, slot)
		}
	}
	if e.slot != slot || e.count == 0 {
		return slotEntry{slot: slot, last: -1}, nil
	}
	return e, nil
}

func (w *wheel) set(e slotEntry) { w.dirty[w.phys(e.slot)] = e }

// flush writes the changed slots and syncs the file.
func (w *wheel) flush() error {
	if len(w.dirty) == 0 {
		return nil
	}
	var b [slotSize]byte
	for p, e := range w.dirty {
		encodeSlot(b[:], e)
		if _, err := w.f.WriteAt(b[:], p*slotSize); err != nil {
			return fmt.Errorf("timer: write wheel: %w", err)
		}
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("timer: sync wheel: %w", err)
	}
	clear(w.dirty)
	return nil
}

func (w *wheel) close() error { return w.f.Close() }

func encodeSlot(b []byte, e slotEntry) {
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(e.slot))
	be.PutUint64(b[8:], uint64(e.last))
	be.PutUint64(b[16:], uint64(e.count))
	be.PutUint32(b[24:], 0)
	be.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
}

func decodeSlot(b []byte) (slotEntry, error) {
	allZero := true
	for _, c := range b[:slotSize] {
		if c != 0 {
			allZero = false
			break
		}
	}
	if allZero {
		return slotEntry{last: -1}, nil
	}
	be := binary.BigEndian
	if be.Uint32(b[28:]) != crc32.Checksum(b[:28], castagnoli) {
		return slotEntry{}, errBadSlot
	}
	e := slotEntry{slot: int64(be.Uint64(b[0:])), last: int64(be.Uint64(b[8:])), count: int64(be.Uint64(b[16:]))}
	if e.last < -1 || e.count < 0 {
		return slotEntry{}, errBadSlot
	}
	return e, nil
}
