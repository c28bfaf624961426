package consumequeue

import (
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// Benchmarks; the figures go in notes, never in assertions. Run with:
//
//	go test -run=^$ -bench=. -benchmem ./internal/store/consumequeue/

// BenchmarkPut writes units with RocketMQ's default segment size (300 000
// units), on the in-memory FS.
func BenchmarkPut(b *testing.B) {
	q, err := Open(vfs.NewMem(), "/cq", "T", 0, DefaultUnitsPerSegment)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	b.SetBytes(UnitSize)
	b.ReportAllocs()
	var k int64
	for b.Loop() {
		if err := q.Put(k, Unit{CommitLogOffset: k * 1024, Size: 1024, TagsCode: k}); err != nil {
			b.Fatal(err)
		}
		k++
		if k%(4*DefaultUnitsPerSegment) == 0 {
			b.StopTimer()
			if _, err := q.DeleteBefore(k * 1024); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkRead reads batches of 32 units (a pull request's default) from a
// queue of a million units, a quarter of them blank.
func BenchmarkRead(b *testing.B) {
	q, err := Open(vfs.NewMem(), "/cq", "T", 0, DefaultUnitsPerSegment)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	const n = 1_000_000
	for k := range int64(n) {
		if k%4 == 3 {
			continue
		}
		if err := q.Put(k, Unit{CommitLogOffset: k * 1024, Size: 1024, TagsCode: k}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var from int64
	var sum int64
	for b.Loop() {
		got := 0
		q.Read(from, func(off int64, u Unit) bool {
			sum += u.TagsCode
			got++
			return got < 32
		})
		from = (from + 4099) % (n - 100)
	}
	b.SetBytes(32 * UnitSize)
	_ = sum
}
