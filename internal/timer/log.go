package timer

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// tlog is the timer log: units appended in order to segment files of
// segBytes named by their first position (20 digits). Positions are byte
// offsets over the whole log. Appends are buffered in memory and written
// by flush; reads see buffered units too. Only the service goroutine uses
// it.
type tlog struct {
	fs       vfs.FS
	dir      string
	segBytes int64
	segs     []*tseg
	end      int64 // position after the last unit (buffered included)
	written  int64 // position up to which units are in files
	synced   int64 // position up to which files are durable
	buf      []byte
	// A read cache of one block: chains of a busy slot walk backwards
	// through neighbouring units.
	cache     []byte
	cacheBase int64 // position of cache[0]; −1 none
}

const cacheBlock = 64 * unitSize * 16 // 73,728 bytes, a whole number of units

type tseg struct {
	base    int64
	f       vfs.File
	maxSlot int64 // highest slot of its units, −1 none known
}

func openLog(fs vfs.FS, dir string, segUnits int) (*tlog, error) {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("timer: log dir: %w", err)
	}
	l := &tlog{fs: fs, dir: dir, segBytes: int64(segUnits) * unitSize, cacheBase: -1}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("timer: log dir: %w", err)
	}
	for _, n := range names {
		base, err := strconv.ParseInt(n, 10, 64)
		if err != nil || len(n) != 20 {
			continue
		}
		if base%l.segBytes != 0 {
			l.close()
			return nil, fmt.Errorf("timer: log segment %s does not start at a multiple of %d bytes (was the segment size changed?)", n, l.segBytes)
		}
		f, err := fs.OpenReadWrite(filepath.Join(dir, n))
		if err != nil {
			l.close()
			return nil, fmt.Errorf("timer: open log segment: %w", err)
		}
		l.segs = append(l.segs, &tseg{base: base, f: f, maxSlot: -1})
	}
	slices.SortFunc(l.segs, func(a, b *tseg) int { return int(a.base - b.base) })
	if n := len(l.segs); n > 0 {
		last := l.segs[n-1]
		fi, err := last.f.Stat()
		if err != nil {
			l.close()
			return nil, fmt.Errorf("timer: stat log segment: %w", err)
		}
		size := min(fi.Size()/unitSize*unitSize, l.segBytes)
		l.end = last.base + size
		l.written, l.synced = l.end, l.end
	}
	return l, nil
}

func (l *tlog) segName(base int64) string { return filepath.Join(l.dir, fmt.Sprintf("%020d", base)) }

// seg returns the segment holding pos, or nil.
func (l *tlog) seg(pos int64) *tseg {
	i, ok := slices.BinarySearchFunc(l.segs, pos-pos%l.segBytes, func(s *tseg, base int64) int {
		switch {
		case s.base < base:
			return -1
		case s.base > base:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return l.segs[i]
}

// start is the position of the first unit still stored.
func (l *tlog) start() int64 {
	if len(l.segs) == 0 {
		return l.end
	}
	return l.segs[0].base
}

// append adds u and returns its position.
func (l *tlog) append(u *unit) (int64, error) {
	if len(l.segs) == 0 || l.end%l.segBytes == 0 && l.end > l.segs[len(l.segs)-1].base {
		if err := l.flush(); err != nil {
			return 0, err
		}
		f, err := l.fs.Create(l.segName(l.end))
		if err != nil {
			return 0, fmt.Errorf("timer: create log segment: %w", err)
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			f.Close()
			return 0, fmt.Errorf("timer: create log segment: %w", err)
		}
		l.segs = append(l.segs, &tseg{base: l.end, f: f, maxSlot: -1})
	}
	pos := l.end
	var b [unitSize]byte
	u.encode(b[:])
	l.buf = append(l.buf, b[:]...)
	l.end += unitSize
	s := l.segs[len(l.segs)-1]
	s.maxSlot = max(s.maxSlot, u.slot)
	if len(l.buf) >= 256<<10 {
		return pos, l.flush()
	}
	return pos, nil
}

// flush writes buffered units to the last segment.
func (l *tlog) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	s := l.segs[len(l.segs)-1]
	if _, err := s.f.WriteAt(l.buf, l.written-s.base); err != nil {
		return fmt.Errorf("timer: write log: %w", err)
	}
	l.written = l.end
	l.buf = l.buf[:0]
	return nil
}

// sync makes every unit appended so far durable.
func (l *tlog) sync() error {
	if err := l.flush(); err != nil {
		return err
	}
	for _, s := range l.segs {
		if s.base+l.segBytes > l.synced && s.base < l.end {
			if err := s.f.Sync(); err != nil {
				return fmt.Errorf("timer: sync log: %w", err)
			}
		}
	}
	l.synced = l.end
	return nil
}

// read returns the unit at pos.
func (l *tlog) read(pos int64) (unit, error) {
	if pos < 0 || pos+unitSize > l.end || pos%unitSize != 0 {
		return unit{}, fmt.Errorf("%w: position %d outside [0, %d)", errBadUnit, pos, l.end)
	}
	if pos >= l.written {
		return decodeUnit(l.buf[pos-l.written:])
	}
	if l.cacheBase >= 0 && pos >= l.cacheBase && pos+unitSize <= l.cacheBase+int64(len(l.cache)) {
		return decodeUnit(l.cache[pos-l.cacheBase:])
	}
	s := l.seg(pos)
	if s == nil {
		return unit{}, fmt.Errorf("%w: position %d is in a removed segment", errBadUnit, pos)
	}
	// Read the block ending just after pos (chains run backwards), within
	// the segment and the written part of the log.
	start := max(pos+unitSize-cacheBlock, s.base)
	end := min(pos+unitSize, l.written)
	if cap(l.cache) < cacheBlock {
		l.cache = make([]byte, cacheBlock)
	}
	l.cache = l.cache[:end-start]
	if _, err := s.f.ReadAt(l.cache, start-s.base); err != nil {
		l.cacheBase = -1
		return unit{}, fmt.Errorf("timer: read log at %d: %w", pos, err)
	}
	l.cacheBase = start
	return decodeUnit(l.cache[pos-start:])
}

// scan calls fn with each valid unit from pos on, in order, and returns the
// position of the first invalid one (or the end).
func (l *tlog) scan(pos int64, fn func(pos int64, u unit) error) (int64, error) {
	if err := l.flush(); err != nil {
		return pos, err
	}
	pos = max(pos, l.start())
	buf := make([]byte, 4096*unitSize)
	for pos < l.end {
		s := l.seg(pos)
		if s == nil {
			return pos, nil
		}
		n := min(int64(len(buf)), s.base+l.segBytes-pos, l.end-pos)
		got, err := s.f.ReadAt(buf[:n], pos-s.base)
		if err != nil && !errors.Is(err, io.EOF) {
			return pos, fmt.Errorf("timer: read log at %d: %w", pos, err)
		}
		if got < unitSize {
			return pos, nil
		}
		for off := 0; off+unitSize <= got; off += unitSize {
			u, err := decodeUnit(buf[off:])
			if err != nil {
				return pos, nil
			}
			s.maxSlot = max(s.maxSlot, u.slot)
			if err := fn(pos, u); err != nil {
				return pos, err
			}
			pos += unitSize
		}
	}
	return pos, nil
}

// truncate drops every unit at or after pos (recovery of a torn tail).
func (l *tlog) truncate(pos int64) error {
	if err := l.flush(); err != nil {
		return err
	}
	for len(l.segs) > 0 {
		s := l.segs[len(l.segs)-1]
		if s.base < pos || s.base == pos && len(l.segs) == 1 {
			if err := s.f.Truncate(pos - s.base); err != nil {
				return fmt.Errorf("timer: truncate log: %w", err)
			}
			if err := s.f.Sync(); err != nil {
				return fmt.Errorf("timer: truncate log: %w", err)
			}
			break
		}
		s.f.Close()
		if err := l.fs.Remove(l.segName(s.base)); err != nil {
			return fmt.Errorf("timer: truncate log: %w", err)
		}
		l.segs = l.segs[:len(l.segs)-1]
	}
	l.end, l.written, l.synced = pos, pos, min(l.synced, pos)
	l.cacheBase = -1
	return nil
}

// removeDead deletes whole segments, other than the last, whose units all
// belong to slots before readSlot (delivered, dropped or rolled on).
func (l *tlog) removeDead(readSlot int64) error {
	for len(l.segs) > 1 && l.segs[0].maxSlot < readSlot && l.segs[0].maxSlot >= 0 {
		s := l.segs[0]
		s.f.Close()
		if err := l.fs.Remove(l.segName(s.base)); err != nil {
			return fmt.Errorf("timer: remove log segment: %w", err)
		}
		l.segs = l.segs[1:]
		l.cacheBase = -1
	}
	return nil
}

func (l *tlog) close() error {
	err := l.flush()
	for _, s := range l.segs {
		err = errors.Join(err, s.f.Close())
	}
	l.segs = nil
	return err
}
