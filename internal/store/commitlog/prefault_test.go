package commitlog

import (
	"bytes"
	"path/filepath"
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
