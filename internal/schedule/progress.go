package schedule

import (
	"fmt"
	"maps"
	"path/filepath"

	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
)

// File is the name of the progress file in Options.Dir (J
// StorePathConfigHelper.getDelayOffsetStorePath).
const File = "delayOffset.json"

// fileFormat is the shape of File. Java's DelayOffsetSerializeWrapper also
// writes a dataVersion, which we neither need nor write; Java reads a file
// without it.
type fileFormat struct {
	OffsetTable map[int]int64 `json:"offsetTable"`
}

// load reads File, or its backup when File is missing or unusable. It
// returns nil when neither exists.
func (s *Service) load() (table map[int]int64, fromBackup bool, err error) {
	if err := jsonfile.EnsureDir(s.opts.FS, s.opts.Dir); err != nil {
		return nil, false, fmt.Errorf("schedule: %w", err)
	}
	s.path = filepath.Join(s.opts.Dir, File)
	from, err := jsonfile.Read(s.opts.FS, s.path, func(b []byte) error {
		var f fileFormat
		if err := jsonfile.Unmarshal(b, &f); err != nil {
			return err
		}
		table = f.OffsetTable
		if table == nil {
			table = map[int]int64{}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("schedule: load delay offsets: %w", err)
	}
	return table, from != "" && from != s.path, nil
}

// Persist writes the progress to File atomically (package jsonfile keeps
// the previous version as a backup), unless it is what the file already
// holds. A level's written offset never runs ahead of the commit log's
// flushed offset: deliveries not yet flushed are left to the next write, so
// that a crash cannot lose them. Call it once more after closing the store,
// whose close flushes everything, to write the final progress.
//
// It is safe for concurrent use, with Run as well.
func (s *Service) Persist() error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	flushed := s.st.FlushedOffset()
	s.mu.Lock()
	table := make(map[int]int64, len(s.levels)+len(s.extra))
	maps.Copy(table, s.extra)
	for i := range s.levels {
		s.levels[i].settle(flushed)
		table[i+1] = s.levels[i].durable
	}
	same := s.written != nil && maps.Equal(table, s.written)
	s.mu.Unlock()
	if same {
		return nil
	}
	data, err := jsonfile.Marshal(fileFormat{OffsetTable: table})
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if err := jsonfile.Write(s.opts.FS, s.path, data); err != nil {
		return fmt.Errorf("schedule: write delay offsets: %w", err)
	}
	s.mu.Lock()
	s.written = table
	s.mu.Unlock()
	return nil
}
