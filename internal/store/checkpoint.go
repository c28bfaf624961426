package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// The checkpoint file is RocketMQ's 4096-byte StoreCheckpoint with its five
// int64 fields, followed by Quiver's own recovery fields (frozen layout,
// big-endian):
//
//	 0 physicMsgTimestamp   store time of the last flushed record
//	 8 logicsMsgTimestamp   store time of the last dispatched record
//	16 indexMsgTimestamp    store time of the last indexed record
//	24 masterFlushedOffset  (replication, later)
//	32 confirmPhyOffset     commit-log end at the checkpoint
//	40 safeOffset           consume queues and index are durable up to here,
//	                        and so is the commit log: recovery scans from it
//	48 crc32 (IEEE) of bytes [0, 48)
const (
	checkpointSize   = 4096
	checkpointFields = 48
)

type checkpoint struct {
	PhysicMsgTimestamp  int64
	LogicsMsgTimestamp  int64
	IndexMsgTimestamp   int64
	MasterFlushedOffset int64
	ConfirmPhyOffset    int64
	SafeOffset          int64
}

func (c checkpoint) encode() []byte {
	b := make([]byte, checkpointSize)
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(c.PhysicMsgTimestamp))
	be.PutUint64(b[8:], uint64(c.LogicsMsgTimestamp))
	be.PutUint64(b[16:], uint64(c.IndexMsgTimestamp))
	be.PutUint64(b[24:], uint64(c.MasterFlushedOffset))
	be.PutUint64(b[32:], uint64(c.ConfirmPhyOffset))
	be.PutUint64(b[40:], uint64(c.SafeOffset))
	be.PutUint32(b[48:], crc32.ChecksumIEEE(b[:checkpointFields]))
	return b
}

// decodeCheckpoint parses a checkpoint image; ok is false when it is short
// or its checksum does not match (then recovery scans everything).
func decodeCheckpoint(b []byte) (c checkpoint, ok bool) {
	if len(b) < checkpointFields+4 {
		return checkpoint{}, false
	}
	be := binary.BigEndian
	if crc32.ChecksumIEEE(b[:checkpointFields]) != be.Uint32(b[checkpointFields:]) {
		return checkpoint{}, false
	}
	c = checkpoint{
		PhysicMsgTimestamp:  int64(be.Uint64(b[0:])),
		LogicsMsgTimestamp:  int64(be.Uint64(b[8:])),
		IndexMsgTimestamp:   int64(be.Uint64(b[16:])),
		MasterFlushedOffset: int64(be.Uint64(b[24:])),
		ConfirmPhyOffset:    int64(be.Uint64(b[32:])),
		SafeOffset:          int64(be.Uint64(b[40:])),
	}
	if c.SafeOffset < 0 {
		return checkpoint{}, false
	}
	return c, true
}

func readCheckpoint(fs vfs.FS, path string) (checkpoint, bool, error) {
	f, err := fs.Open(path)
	if vfs.IsNotExist(err) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("store: open checkpoint: %w", err)
	}
	defer f.Close()
	b := make([]byte, checkpointFields+4)
	if _, err := f.ReadAt(b, 0); err != nil {
		return checkpoint{}, false, nil
	}
	c, ok := decodeCheckpoint(b)
	return c, ok, nil
}

// checkpointFile is the open checkpoint, rewritten in place and synced.
type checkpointFile struct {
	f vfs.File
}

func openCheckpointFile(fs vfs.FS, path string) (*checkpointFile, error) {
	f, err := fs.OpenReadWrite(path)
	if vfs.IsNotExist(err) {
		f, err = fs.Create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open checkpoint: %w", err)
	}
	return &checkpointFile{f: f}, nil
}

func (cf *checkpointFile) write(c checkpoint) error {
	if _, err := cf.f.WriteAt(c.encode(), 0); err != nil {
		return fmt.Errorf("store: write checkpoint: %w", err)
	}
	if err := cf.f.Sync(); err != nil {
		return fmt.Errorf("store: sync checkpoint: %w", err)
	}
	return nil
}

func (cf *checkpointFile) Close() error { return cf.f.Close() }
