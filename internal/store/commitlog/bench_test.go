package commitlog

import (
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// Benchmarks; the figures go in notes, never in assertions. Run with:
//
//	go test -run=^$ -bench=. -benchmem ./internal/store/commitlog/

// BenchmarkAppend1KiB appends records with a 1 KiB body into 64 MiB
// segments, deleting old segments as it goes so the log stays small. The
// in-memory FS measures the append path itself (encode into the mapping,
// rolls); the OS variant adds real page faults and segment creation on
// b.TempDir. Append must not allocate.
func BenchmarkAppend1KiB(b *testing.B) {
	for _, tc := range []struct {
		name string
		fs   func(b *testing.B) (vfs.FS, string)
	}{
		{"mem", func(b *testing.B) (vfs.FS, string) { return vfs.NewMem(), "/commitlog" }},
		{"os", func(b *testing.B) (vfs.FS, string) { return vfs.Default, b.TempDir() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			fs, d := tc.fs(b)
			l, err := Open(fs, d, Options{SegmentSize: 64 << 20, Warm: tc.name == "os"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			m := msg(b, 1, 1024+200)
			size, _ := m.RecordSize()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := l.Append(m); err != nil {
					b.Fatal(err)
				}
				if l.WriteOffset()-l.MinOffset() > 2*int64(l.SegmentSize()) {
					b.StopTimer()
					if err := l.RemoveFirst(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
		})
	}
}
