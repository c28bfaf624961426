package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketRangeCoversEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64, math.MaxUint64} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if v >= linearTop && float64(hi-lo) > float64(lo)/subCount {
			t.Fatalf("bucket %d [%d, %d] wider than 1/%d", i, lo, hi, subCount)
		}
	}
	// Buckets tile the line: each starts one past the previous end.
	_, prevHi := bucketRange(0)
	for i := 1; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		prevHi = hi
	}
}

// oracle is the value of rank ceil(q·n) in a sorted slice.
func oracle(s []int64, q float64) int64 {
	r := int(math.Ceil(q * float64(len(s))))
	r = max(r, 1)
	return s[r-1]
}

func TestQuantilesMatchSortedSliceWithinBucketError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"uniform-small": func() int64 { return rng.Int64N(300) },
		"exponential":   func() int64 { return int64(rng.ExpFloat64() * 200_000) },
		"lognormal":     func() int64 { return int64(math.Exp(rng.NormFloat64()*1.5 + 12)) },
		"bimodal": func() int64 {
			if rng.IntN(100) == 0 {
				return 50_000_000 + rng.Int64N(1_000_000)
			}
			return 150_000 + rng.Int64N(20_000)
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]int64, 100_000)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
				want, got := oracle(vals, q), h.Quantile(q)
				if d := math.Abs(float64(got - want)); d > float64(want)/subCount+1 {
					t.Errorf("q=%v: got %d, sorted slice says %d", q, got, want)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
				t.Errorf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			var sum float64
			for _, v := range vals {
				sum += float64(v)
			}
			if m := sum / float64(len(vals)); math.Abs(h.Mean()-m) > 1e-6*m {
				t.Errorf("mean %v, want %v", h.Mean(), m)
			}
		})
	}
}

func TestMergeEqualsRecordingEverything(t *testing.T) {
	var a, b, all Histogram
	for i := int64(0); i < 10_000; i++ {
		v := i * i % 7_777_777
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merged histogram differs from recording every value in one")
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.5) != 0 {
		t.Fatal("reset histogram not empty")
	}
}
