package timer

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// checkpoint is <dir>/config/timercheck.json: what recovery may trust.
type checkpoint struct {
	PrecisionMs int64 `json:"precisionMs"`
	Slots       int64 `json:"slots"`
	// ReadSlot: every slot before it is fully handled, and what it
	// delivered is durable in the commit log.
	ReadSlot int64 `json:"readSlot"`
	// CommitLogOffset: deliveries for slots at or after ReadSlot were
	// stored at or after this commit-log offset (recovery scans from here
	// for what was already delivered).
	CommitLogOffset int64 `json:"commitLogOffset"`
	// QueueOffset: the next Topic queue-0 offset to enqueue.
	QueueOffset int64 `json:"queueOffset"`
	// LogEnd: the timer log is durable up to here and the wheel file holds
	// every unit before it.
	LogEnd int64 `json:"logEnd"`
	// SegmentMaxSlot: highest slot of each log segment's units (by base).
	SegmentMaxSlot map[string]int64 `json:"segmentMaxSlot"`
}

func readCheckpoint(fsys vfs.FS, path string) (checkpoint, bool, error) {
	var ck checkpoint
	name, err := jsonfile.Read(fsys, path, func(b []byte) error {
		var c checkpoint
		if err := jsonfile.Unmarshal(b, &c); err != nil {
			return err
		}
		ck = c
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || err == nil && name == "" {
		return ck, false, nil
	}
	if err != nil {
		return ck, false, fmt.Errorf("timer: checkpoint: %w", err)
	}
	return ck, true, nil
}

func writeCheckpoint(fsys vfs.FS, path string, ck checkpoint) error {
	b, err := jsonfile.Marshal(ck)
	if err != nil {
		return fmt.Errorf("timer: checkpoint: %w", err)
	}
	if err := jsonfile.Write(fsys, path, b); err != nil {
		return fmt.Errorf("timer: checkpoint: %w", err)
	}
	return nil
}

func segKey(base int64) string { return strconv.FormatInt(base, 10) }
