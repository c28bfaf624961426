package store

import (
	"errors"
	"fmt"

	"github.com/quiver-mq/quiver/internal/store/commitlog"
)

// ScanRecords calls fn with every stored record from commit-log offset from
// up to the current write offset, in order (rec aliases the mapping and is
// valid only during fn). Records below the commit log's min offset are
// skipped, and so is a damaged record that valid ones follow, as recovery
// does (it is never served either). It stops at an error from fn and
// returns it.
func (s *Store) ScanRecords(from int64, fn func(off int64, rec []byte) error) error {
	from = max(from, s.clog.MinOffset())
	end := s.clog.WriteOffset()
	for from < end {
		next, err := s.clog.Scan(from, end, true, fn)
		if err == nil {
			return nil
		}
		var ce *commitlog.CorruptionError
		if !errors.As(err, &ce) {
			return fmt.Errorf("store: scan from %d: %w", from, err)
		}
		skip, ok := s.clog.FindNextRecord(ce.Offset, s.opts.MaxMessageSize+64<<10+256)
		if !ok || skip <= next {
			return fmt.Errorf("store: scan from %d: %w", from, err)
		}
		from = skip
	}
	return nil
}
