package index

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// benchOptions make 21 MB files, so a benchmark crosses a few of them.
var benchOptions = Options{SlotCount: 1 << 16, MaxEntries: 1 << 20}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("TopicTest#ORDER-%08d", i)
	}
	return keys
}

// BenchmarkPut measures one key put into real mapped files.
func BenchmarkPut(b *testing.B) {
	ix, err := Open(vfs.Default, filepath.Join(b.TempDir(), "index"), benchOptions)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	keys := benchKeys(4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := ix.Put(keys[i%len(keys)], int64(i)*200, 1_700_000_000_000+int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery measures a lookup of a key with ten entries among 200,000,
// in a table where chains also hold colliding keys.
func BenchmarkQuery(b *testing.B) {
	ix, err := Open(vfs.Default, filepath.Join(b.TempDir(), "index"), benchOptions)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	keys := benchKeys(20_000)
	for i := range 200_000 {
		if err := ix.Put(keys[i%len(keys)], int64(i)*200, 1_700_000_000_000+int64(i)*10); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		got, err := ix.Query(keys[i%len(keys)], 32, 0, math.MaxInt64)
		if err != nil || len(got) != 10 {
			b.Fatalf("Query = %d results, %v", len(got), err)
		}
	}
}
