package store

import "fmt"

// ScanRecords calls fn with every stored record from commit-log offset from
// up to the current write offset, in order (rec aliases the mapping and is
// valid only during fn). Records below the commit log's min offset are
// skipped. It stops at the first damaged record or at an error from fn,
// and returns it.
func (s *Store) ScanRecords(from int64, fn func(off int64, rec []byte) error) error {
	from = max(from, s.clog.MinOffset())
	end := s.clog.WriteOffset()
	if from >= end {
		return nil
	}
	if _, err := s.clog.Scan(from, end, true, fn); err != nil {
		return fmt.Errorf("store: scan from %d: %w", from, err)
	}
	return nil
}
