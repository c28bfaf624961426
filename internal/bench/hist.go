package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout (log-linear, HDR style). Values are non-negative
// integers (nanoseconds here). Values below 2·subCount are counted exactly,
// one bucket each; above, every power-of-two range [2^k, 2^(k+1)) is split
// into subCount equal buckets, so a bucket's width is at most 1/subCount of
// its lower bound: every reported value is within 1/128 (0.8 %) of the
// recorded one.
//
//	index:  0 … 255            256 … 383         384 … 511        …
//	values: 0 … 255 (exact)    256 … 511 by 2    512 … 1023 by 4  …
const (
	subBits    = 7
	subCount   = 1 << subBits // 128 buckets per power of two
	linearTop  = 2 * subCount // values below this are exact
	numBuckets = linearTop + (64-subBits-1)*subCount
)

// Histogram counts values in log-linear buckets. The zero value is empty and
// ready to use. It is not safe for concurrent use.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64
	min    uint64
	max    uint64
}

func bucketOf(v uint64) int {
	if v < linearTop {
		return int(v)
	}
	shift := bits.Len64(v) - (subBits + 1) // ≥ 1
	top := v >> uint(shift)                // in [subCount, 2·subCount)
	return linearTop + (shift-1)*subCount + int(top-subCount)
}

// bucketRange is the smallest and largest value counted in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < linearTop {
		return uint64(i), uint64(i)
	}
	shift := (i-linearTop)/subCount + 1
	top := uint64((i-linearTop)%subCount + subCount)
	lo = top << uint(shift)
	return lo, lo + (1 << uint(shift)) - 1
}

// Record counts one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[bucketOf(u)]++
	if h.n == 0 || u < h.min {
		h.min = u
	}
	if u > h.max {
		h.max = u
	}
	h.n++
	h.sum += float64(u)
}

// RecordDuration counts d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded (exact), 0 when empty.
func (h *Histogram) Max() int64 { return int64(h.max) }

// Min is the smallest value recorded (exact), 0 when empty.
func (h *Histogram) Min() int64 { return int64(h.min) }

// Mean is the exact average, 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the value at quantile q in [0, 1]: the value of rank
// ceil(q·n) (1-based) in sorted order, as the midpoint of its bucket clamped
// to the exact min and max. 0 when empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i]
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return int64(v)
		}
	}
	return int64(h.max)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		if c != 0 {
			h.counts[i] += c
		}
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }
