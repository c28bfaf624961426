package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store/commitlog"
	"github.com/quiver-mq/quiver/internal/vfs"
)

// fillStore stores n messages in TopicF queue 0 under SYNC_FLUSH and returns
// the crash image of the file system right after the last ack, plus results.
func fillStore(t *testing.T, n int, closeCleanly bool) (*vfs.MemFS, Options, []PutResult) {
	t.Helper()
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	o.FlushDiskType = SyncFlush
	s := openStore(t, o)
	var res []PutResult
	for i := range n {
		r, err := s.Put(context.Background(), newMsg("TopicF", 0, i, map[string]string{"KEYS": fmt.Sprintf("k%d", i)}))
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	if closeCleanly {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return fs, o, res
	}
	crashed := fs.CrashClone()
	s.Close()
	o.FS = crashed
	return crashed, o, res
}

// bodyAt is where the body starts in a record with IPv4 hosts. RocketMQ's
// format checksums the body only, so damage is made there.
const bodyAt = 88

func segPath(o Options, base int64) string {
	return filepath.Join(o.Dir, "commitlog", fmt.Sprintf("%020d", base))
}

// patch rewrites bytes of a file in place (and syncs, so they survive).
func patch(t *testing.T, fs vfs.FS, path string, off int64, fn func(b []byte)) {
	t.Helper()
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	fn(b)
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func bodies(ms []message.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Body))
	}
	return out
}

func wantBodies(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, string(newMsg("TopicF", 0, i, nil).Body))
	}
	return out
}

func seq(from, to int, skip ...int) []int {
	var out []int
	for i := from; i < to; i++ {
		if !contains(skip, i) {
			out = append(out, i)
		}
	}
	return out
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestRecoveryFaults(t *testing.T) {
	const n = 20
	cases := []struct {
		name   string
		clean  bool
		damage func(t *testing.T, fs vfs.FS, o Options, res []PutResult)
		// want is the queue content after reopening.
		want        []int
		corruptions int
	}{
		{
			name: "torn tail: half a record after the last ack",
			damage: func(t *testing.T, fs vfs.FS, o Options, res []PutResult) {
				last := res[n-1]
				end := last.PhysicalOffset + int64(last.Size)
				rec, _ := newMsg("TopicF", 0, 99, nil).AppendRecord(nil)
				patch(t, fs, segPath(o, 0), end, func(b []byte) { copy(b, rec[:len(rec)/2]) })
			},
			want: seq(0, n),
		},
		{
			name: "flipped bit in the last record, checkpoint lost",
			damage: func(t *testing.T, fs vfs.FS, o Options, res []PutResult) {
				last := res[n-1]
				patch(t, fs, segPath(o, 0), last.PhysicalOffset+bodyAt+2, func(b []byte) { b[0] ^= 0x10 })
				fs.Remove(filepath.Join(o.Dir, "checkpoint"))
			},
			want: seq(0, n-1),
		},
		{
			name: "flipped bit in a middle record, checkpoint lost",
			damage: func(t *testing.T, fs vfs.FS, o Options, res []PutResult) {
				patch(t, fs, segPath(o, 0), res[7].PhysicalOffset+bodyAt+3, func(b []byte) { b[0] ^= 0x01 })
				fs.Remove(filepath.Join(o.Dir, "checkpoint"))
			},
			want:        seq(0, n, 7),
			corruptions: 1,
		},
		{
			name: "flipped bit in a middle record's length, checkpoint lost",
			damage: func(t *testing.T, fs vfs.FS, o Options, res []PutResult) {
				patch(t, fs, segPath(o, 0), res[5].PhysicalOffset+2, func(b []byte) { b[0] ^= 0x40 })
				fs.Remove(filepath.Join(o.Dir, "checkpoint"))
			},
			want:        seq(0, n, 5),
			corruptions: 1,
		},
		{
			name:  "flipped bit in a middle record after a clean stop",
			clean: true,
			damage: func(t *testing.T, fs vfs.FS, o Options, res []PutResult) {
				patch(t, fs, segPath(o, 0), res[3].PhysicalOffset+bodyAt+1, func(b []byte) { b[0] ^= 0x80 })
			},
			want: seq(0, n, 3),
		},
		{
			// After a clean stop, so the queue file is certainly on disk
			// (a crash image may predate its first sync).
			name:  "truncated consume queue file",
			clean: true,
			damage: func(t *testing.T, fs vfs.FS, o Options, res []PutResult) {
				f, err := fs.OpenReadWrite(filepath.Join(o.Dir, "consumequeue", "TopicF", "0", fmt.Sprintf("%020d", 0)))
				if err != nil {
					t.Fatal(err)
				}
				f.Truncate(95)
				f.Sync()
				f.Close()
			},
			want: seq(0, n),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, o, res := fillStore(t, n, c.clean)
			c.damage(t, fs, o, res)
			s := openStore(t, o)
			defer s.Close()
			if got := len(s.Corruptions()); got != c.corruptions {
				t.Fatalf("recovery reported %d corruptions, want %d: %v", got, c.corruptions, s.Corruptions())
			}
			for _, ce := range s.Corruptions() {
				if ce.Segment != segPath(o, 0) || ce.Offset <= 0 {
					t.Fatalf("corruption error does not name segment and offset: %+v", ce)
				}
			}
			got := bodies(readAll(t, s, "TopicF", 0))
			if want := wantBodies(c.want...); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("served after recovery:\n got %d %q\nwant %d %q", len(got), got, len(want), want)
			}
			// The store keeps working: a new message lands after the
			// recovered end and is readable.
			r, err := s.Put(context.Background(), newMsg("TopicF", 0, 1000, nil))
			if err != nil {
				t.Fatal(err)
			}
			waitDispatched(t, s)
			if m, err := s.LookMessage(r.PhysicalOffset); err != nil || !bytes.Equal(m.Body, newMsg("TopicF", 0, 1000, nil).Body) {
				t.Fatalf("new message after recovery: %v", err)
			}
		})
	}
}

func TestDamagedRecordIsNeverServed(t *testing.T) {
	fs, o, res := fillStore(t, 10, true)
	patch(t, fs, segPath(o, 0), res[4].PhysicalOffset+bodyAt, func(b []byte) { b[0] ^= 0xFF })
	s := openStore(t, o)
	defer s.Close()
	_, err := s.LookMessage(res[4].PhysicalOffset)
	var ce *commitlog.CorruptionError
	if !errors.As(err, &ce) || ce.Offset != res[4].PhysicalOffset || ce.Segment != segPath(o, 0) {
		t.Fatalf("LookMessage of a damaged record: %v, want a CorruptionError naming it", err)
	}
	r, err := s.GetMessages("TopicF", 0, 0, 32, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Records) != 9 || len(r.Corrupt) != 1 || r.Corrupt[0].Offset != res[4].PhysicalOffset {
		t.Fatalf("GetMessages: %d records, corrupt %v; want 9 and the damaged one reported", len(r.Records), r.Corrupt)
	}
	if r.NextBeginOffset != 10 {
		t.Fatalf("next begin offset %d, want 10", r.NextBeginOffset)
	}
}

func TestDiskFullDuringAppend(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	o.DiskMaxUsedSpaceRatio = 1 // only real ENOSPC stops appends here
	o.DiskCleanRatio = 1
	s := openStore(t, o)
	ctx := context.Background()
	stored := []PutResult{}
	r, err := s.Put(ctx, newMsg("TopicD", 0, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	stored = append(stored, r)
	time.Sleep(100 * time.Millisecond) // let the allocator prepare the next segment
	// Room for the files already created, plus a little: a later commit-log
	// segment cannot be allocated.
	du, _ := fs.DiskUsage(o.Dir)
	fs.SetCapacity(du.Total - du.Free + 3*uint64(o.ConsumeQueueUnits*20) + 16*1024)
	var putErr error
	for i := 1; i < 10_000; i++ {
		r, err := s.Put(ctx, newMsg("TopicD", 0, i, nil))
		if err != nil {
			putErr = err
			break
		}
		stored = append(stored, r)
	}
	if !errors.Is(putErr, ErrDiskFull) {
		t.Fatalf("append on a full disk: %v, want ErrDiskFull", putErr)
	}
	if len(stored) == 0 {
		t.Fatal("nothing stored before the disk filled")
	}
	// Close may report that the consume queue could not grow; the abort
	// file then stays and the next start recovers.
	if err := s.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("close on a full disk: %v", err)
	}
	fs.SetCapacity(vfs.DefaultMemCapacity)
	s = openStore(t, o)
	defer s.Close()
	got := readAll(t, s, "TopicD", 0)
	if len(got) != len(stored) {
		t.Fatalf("after disk full: %d messages readable, %d were acknowledged", len(got), len(stored))
	}
	for i, m := range got {
		if !bytes.Equal(m.Body, newMsg("TopicD", 0, i, nil).Body) {
			t.Fatalf("message %d damaged after disk full", i)
		}
	}
	if _, err := s.Put(ctx, newMsg("TopicD", 0, len(stored), nil)); err != nil {
		t.Fatalf("append after space came back: %v", err)
	}
}

func TestDiskMaxUsedSpaceRatioRefusesAppends(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	s := openStore(t, o)
	if _, err := s.Put(context.Background(), newMsg("T", 0, 0, nil)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	du, _ := fs.DiskUsage(o.Dir)
	used := du.Total - du.Free
	fs.SetCapacity(used * 100 / 80) // 80 % used
	s = openStore(t, o)
	defer s.Close()
	_, err := s.Put(context.Background(), newMsg("T", 0, 1, nil))
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("put at 80%% disk usage: %v, want ErrDiskFull", err)
	}
	if got := readAll(t, s, "T", 0); len(got) != 1 {
		t.Fatalf("stored message lost: %d", len(got))
	}
}

func TestSyncFailureStopsWrites(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.Inject(mem, vfs.FailPath(func(p string) bool { return filepath.Base(filepath.Dir(p)) == "commitlog" }, syscall.EIO, vfs.OpSync))
	efs.Disable()
	o := testOptions(t, efs)
	o.FlushDiskType = SyncFlush
	s := openStore(t, o)
	ctx := context.Background()
	if _, err := s.Put(ctx, newMsg("T", 0, 0, nil)); err != nil {
		t.Fatal(err)
	}
	efs.Enable()
	if _, err := s.Put(ctx, newMsg("T", 0, 1, nil)); !errors.Is(err, ErrNotWritable) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("put when fdatasync fails: %v, want ErrNotWritable wrapping EIO", err)
	}
	efs.Disable()
	if _, err := s.Put(ctx, newMsg("T", 0, 2, nil)); !errors.Is(err, ErrNotWritable) {
		t.Fatalf("put after a failed fdatasync: %v, want ErrNotWritable", err)
	}
	s.Close()
	s = openStore(t, o)
	defer s.Close()
	got := readAll(t, s, "T", 0)
	if len(got) == 0 || !bytes.Equal(got[0].Body, newMsg("T", 0, 0, nil).Body) {
		t.Fatalf("acknowledged message lost after a sync failure")
	}
}

func TestRetentionDeletesExpiredSegments(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	s := openStore(t, o)
	ctx := context.Background()
	for i := range 2000 {
		if _, err := s.Put(ctx, newMsg("TopicR", 0, i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s)
	nseg := len(s.clog.Segments())
	if nseg < 4 {
		t.Fatalf("want several segments, have %d", nseg)
	}
	if n := s.DeleteExpired(time.Now(), false); n != 0 {
		t.Fatalf("deleted %d fresh segments", n)
	}
	n := s.DeleteExpired(time.Now().Add(73*time.Hour), false)
	if n == 0 || n >= nseg {
		t.Fatalf("deleted %d of %d segments; want all but the active ones", n, nseg)
	}
	min := s.MinOffset("TopicR", 0)
	if min == 0 {
		t.Fatal("consume queue min offset did not move after retention")
	}
	r, _ := s.GetMessages("TopicR", 0, 0, 32, 0, nil)
	if r.Status != OffsetTooSmall || r.NextBeginOffset != min {
		t.Fatalf("read below retention: %v next %d, want OFFSET_TOO_SMALL next %d", r.Status, r.NextBeginOffset, min)
	}
	got := readAll(t, s, "TopicR", 0)
	if int64(len(got)) != 2000-min || got[0].QueueOffset != min {
		t.Fatalf("after retention: %d readable from %d", len(got), min)
	}
	// The new minimum survives a restart.
	s.Close()
	s = openStore(t, o)
	defer s.Close()
	if got := s.MinOffset("TopicR", 0); got != min {
		t.Fatalf("min offset after restart: %d, want %d", got, min)
	}
}
