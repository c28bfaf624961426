package timer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// unitSize is the size of one timer-log unit.
const unitSize = 72

const unitMagic = 0x51544c31 // "QTL1"

// Unit flags.
const (
	flagMarker = 1 << iota // a recall marker: cancels, is never delivered
	flagRoll               // parked before its slot: re-put when reached
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadUnit marks bytes that are not a unit (torn, zeroed or damaged).
var errBadUnit = errors.New("timer: bad timer-log unit")

// unit is one entry of the timer log: a timer record in a wheel slot.
// Layout (big-endian): prev 8 | offPy 8 | deliverMs 8 | queueOffset 8 |
// epoch 8 | keyHash 8 | slot 8 | size 4 | flags 4 | magic 4 | crc32c 4.
type unit struct {
	prev        int64  // previous unit of the same slot, −1 none
	offPy       int64  // commit-log offset of the timer record
	deliverMs   int64  // exact deliver time
	queueOffset int64  // the record's offset in Topic queue 0
	epoch       int64  // see PropertyEpoch; for a marker, the newest epoch it cancels
	keyHash     uint64 // keyHash(DeleteKey(real topic, uniq key))
	slot        int64  // the slot it is linked into
	size        int32  // record size
	flags       uint32
}

func (u *unit) marker() bool { return u.flags&flagMarker != 0 }
func (u *unit) roll() bool   { return u.flags&flagRoll != 0 }

func (u *unit) encode(b []byte) {
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(u.prev))
	be.PutUint64(b[8:], uint64(u.offPy))
	be.PutUint64(b[16:], uint64(u.deliverMs))
	be.PutUint64(b[24:], uint64(u.queueOffset))
	be.PutUint64(b[32:], uint64(u.epoch))
	be.PutUint64(b[40:], u.keyHash)
	be.PutUint64(b[48:], uint64(u.slot))
	be.PutUint32(b[56:], uint32(u.size))
	be.PutUint32(b[60:], u.flags)
	be.PutUint32(b[64:], unitMagic)
	be.PutUint32(b[68:], crc32.Checksum(b[:68], castagnoli))
}

// decodeUnit reads a unit, checking its magic and checksum.
func decodeUnit(b []byte) (unit, error) {
	if len(b) < unitSize {
		return unit{}, fmt.Errorf("%w: %d bytes", errBadUnit, len(b))
	}
	be := binary.BigEndian
	if be.Uint32(b[64:]) != unitMagic || be.Uint32(b[68:]) != crc32.Checksum(b[:68], castagnoli) {
		return unit{}, fmt.Errorf("%w: magic or checksum mismatch", errBadUnit)
	}
	u := unit{
		prev:        int64(be.Uint64(b[0:])),
		offPy:       int64(be.Uint64(b[8:])),
		deliverMs:   int64(be.Uint64(b[16:])),
		queueOffset: int64(be.Uint64(b[24:])),
		epoch:       int64(be.Uint64(b[32:])),
		keyHash:     be.Uint64(b[40:]),
		slot:        int64(be.Uint64(b[48:])),
		size:        int32(be.Uint32(b[56:])),
		flags:       be.Uint32(b[60:]),
	}
	if u.prev < -1 || u.offPy < 0 || u.size <= 0 || u.flags&^(flagMarker|flagRoll) != 0 {
		return unit{}, fmt.Errorf("%w: fields out of range", errBadUnit)
	}
	return u, nil
}
