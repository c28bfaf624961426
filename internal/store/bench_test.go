package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
)

// Benchmarks run on the real disk (b.TempDir); the figures go in notes,
// never in assertions. Run with:
//
//	go test -run=^$ -bench=. -benchtime=2s ./internal/store/

func benchOptions(b *testing.B) Options {
	o := DefaultOptions(b.TempDir())
	o.SegmentSize = 256 << 20
	o.IndexSlots = 500_000
	o.IndexEntries = 2_000_000
	return o
}

func benchMsg(size int) *message.Message {
	return &message.Message{
		Topic:      "BenchTopic",
		Body:       make([]byte, size),
		Properties: message.EncodeProperties(map[string]string{"UNIQ_KEY": "C0A80001000018B4AAC20000000000001", "TAGS": "bench"}),
	}
}

// BenchmarkAppendAsync1KiB appends 1 KiB messages under ASYNC_FLUSH from
// several producers; "raw" writes the same bytes sequentially with 1 MiB
// write() calls to a file on the same disk, for the ratio.
func BenchmarkAppendAsync1KiB(b *testing.B) {
	proto := benchMsg(1024)
	recSize, _ := proto.RecordSize()
	b.Run("raw-write", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		rec, _ := proto.AppendRecord(nil)
		w := bufio.NewWriterSize(f, 1<<20)
		b.SetBytes(int64(recSize))
		b.ResetTimer()
		for range b.N {
			w.Write(rec)
		}
		w.Flush()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("store/producers=%d", producers), func(b *testing.B) {
			o := benchOptions(b)
			s, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(recSize))
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / producers
			for p := range producers {
				n := per
				if p == 0 {
					n += b.N % producers
				}
				wg.Go(func() {
					for range n {
						m := *proto
						m.QueueID = int32(p % 4)
						if _, err := s.Put(context.Background(), &m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSyncFlush measures SYNC_FLUSH appends with concurrent appenders
// sharing fdatasyncs (group commit).
func BenchmarkSyncFlush(b *testing.B) {
	for _, appenders := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			o := benchOptions(b)
			o.FlushDiskType = SyncFlush
			s, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			proto := benchMsg(1024)
			syncs0 := s.Syncs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := max(1, b.N/appenders)
			for range appenders {
				wg.Go(func() {
					for range per {
						m := *proto
						if _, err := s.Put(context.Background(), &m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(per*appenders)/secs, "msgs/s")
			b.ReportMetric(float64(s.Syncs()-syncs0)/secs, "syncs/s")
		})
	}
}

// BenchmarkConsumeQueueRead reads 1 KiB messages back through a consume
// queue, 32 per call, as a pull does.
func BenchmarkConsumeQueueRead(b *testing.B) {
	o := benchOptions(b)
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 200_000
	msgs := make([]*message.Message, 0, 100)
	for i := 0; i < n; i += 100 {
		msgs = msgs[:0]
		for range 100 {
			msgs = append(msgs, benchMsg(1024))
		}
		if _, err := s.PutBatch(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	waitDispatched(b, s)
	b.ResetTimer()
	read := 0
	off := int64(0)
	for read < b.N {
		r, err := s.GetMessages("BenchTopic", 0, off, 32, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		if r.Status != Found {
			off = 0
			continue
		}
		read += len(r.Records)
		off = r.NextBeginOffset
	}
	b.StopTimer()
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRecovery1GiB measures start-up after a crash with 1 GiB of
// commit log whose consume queues, index and checkpoint were all lost: the
// worst case, a full scan with CRC checks and a full rebuild.
func BenchmarkRecovery1GiB(b *testing.B) {
	o := benchOptions(b)
	o.SegmentSize = 1 << 30
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	proto := benchMsg(1024)
	recSize, _ := proto.RecordSize()
	total := (1<<30 - 4096) / recSize
	batch := make([]*message.Message, 0, 256)
	for i := 0; i < total; i += len(batch) {
		batch = batch[:0]
		for j := 0; j < 256 && i+j < total; j++ {
			m := *proto
			m.QueueID = int32(j % 8)
			batch = append(batch, &m)
		}
		if _, err := s.PutBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, p := range []string{"checkpoint", "consumequeue", "index"} {
			os.RemoveAll(filepath.Join(o.Dir, p))
		}
		os.WriteFile(filepath.Join(o.Dir, "abort"), []byte("1"), 0o644)
		b.StartTimer()
		t0 := time.Now()
		s, err := Open(o)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		b.StopTimer()
		if got := s.MaxOffset("BenchTopic", 0) + s.MaxOffset("BenchTopic", 7); got < int64(total/8)*2-2 {
			b.Fatalf("recovered %d units", got)
		}
		b.ReportMetric(el.Seconds(), "s/recovery")
		b.ReportMetric(float64(total)/el.Seconds(), "records/s")
		s.Close()
		b.StartTimer()
	}
}
