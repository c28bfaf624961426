package commitlog

import (
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// TestPrefaultKeepsPagesAheadResident: with PrefaultAhead, the pages past the
// write position are in memory before any append reaches them (mincore says
// so), and records written over them read back unchanged.
func TestPrefaultKeepsPagesAheadResident(t *testing.T) {
	d := filepath.Join(t.TempDir(), "commitlog")
	const seg, ahead = 64 << 20, 16 << 20 // the kernel itself reads a few MiB ahead
	l, err := Open(vfs.Default, d, Options{SegmentSize: seg, PrefaultAhead: ahead})
	must(t, err)
	defer l.Close()
	var recs [][]byte
	for i := 0; l.WriteOffset() < 3*prefaultChunk+100; i++ {
		m := msg(t, i, 1000)
		_, _, err := l.Append(m)
		must(t, err)
		recs = append(recs, m.Body)
	}
	f := l.segs.Last()
	w := f.Wrote()
	want := (w + ahead) / 4096 * 4096
	resident := func() int { // pages resident from the write position on
		vec := make([]byte, (want-w/4096*4096)/4096)
		must(t, mincore(f.Data()[w/4096*4096:want], vec))
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for resident() < (want-w/4096*4096)/4096 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n, all := resident(), (want-w/4096*4096)/4096; n != all {
		t.Fatalf("%d of %d pages ahead of the write position resident", n, all)
	}
	off := int64(0)
	for i, body := range recs {
		rec, err := l.ReadRecord(nil, off)
		must(t, err)
		if !bytes.Contains(rec, body) {
			t.Fatalf("record %d at %d changed", i, off)
		}
		off += int64(len(rec))
	}
}

func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return e
	}
	return nil
}

// TestWriteThrough: with WriteThrough records go through the file, read back
// through the mapping unchanged, and a write that fails (here ENOSPC) is
// reported and publishes nothing: the next append takes its place.
func TestWriteThrough(t *testing.T) {
	mem := newMem(t)
	efs := vfs.Inject(mem, vfs.FailPath(func(p string) bool { return filepath.Dir(p) == dir }, syscall.ENOSPC, vfs.OpWriteAt))
	efs.Disable()
	l, err := Open(efs, dir, Options{SegmentSize: 1 << 16, WriteThrough: true})
	must(t, err)
	defer l.Close()
	var offs []int64
	for i := range 20 {
		off, _, err := l.Append(msg(t, i, 300))
		must(t, err)
		offs = append(offs, off)
	}
	efs.Enable()
	end := l.WriteOffset()
	if _, _, err := l.Append(msg(t, 20, 300)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a failing write: %v, want ENOSPC", err)
	}
	if l.WriteOffset() != end {
		t.Fatalf("a failed write moved the write offset %d → %d", end, l.WriteOffset())
	}
	efs.Disable()
	off, _, err := l.Append(msg(t, 21, 300))
	must(t, err)
	if off != end {
		t.Fatalf("append after the failure at %d, want %d", off, end)
	}
	for i, o := range append(offs, off) {
		rec, err := l.ReadRecord(nil, o)
		must(t, err)
		want := msg(t, i, 300)
		if i == 20 {
			want = msg(t, 21, 300)
		}
		if !bytes.Contains(rec, want.Body) {
			t.Fatalf("record %d at %d reads back changed", i, o)
		}
	}
}
