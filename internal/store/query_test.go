package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/vfs"
)

func TestQueryByKeyUniqKeyAndOffsetID(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	o.FlushDiskType = SyncFlush // the crash below must not lose the messages
	s := openStore(t, o)
	ctx := context.Background()
	var res []PutResult
	for i := range 300 {
		props := map[string]string{
			"KEYS":     fmt.Sprintf("order-%d shared", i%100),
			"UNIQ_KEY": fmt.Sprintf("U%05d", i),
		}
		topic := "TopicQ"
		if i%2 == 1 {
			topic = "OtherTopic"
		}
		r, err := s.Put(ctx, newMsg(topic, 0, i, props))
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	waitDispatched(t, s)
	check := func(s *Store) {
		t.Helper()
		now := time.Now().UnixMilli()
		// order-4 was used by messages 4, 104, 204: all on TopicQ.
		got, err := s.QueryByKey("TopicQ", "order-4", 10, 0, now+1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("query by key: %d messages, want 3", len(got))
		}
		for _, m := range got {
			if m.Topic != "TopicQ" {
				t.Fatalf("query by key returned topic %s", m.Topic)
			}
		}
		// Another topic's messages with the same key are not returned.
		if got, _ := s.QueryByKey("TopicQ", "order-5", 10, 0, now+1000); len(got) != 0 {
			t.Fatalf("query returned %d messages of another topic", len(got))
		}
		// max bounds the answer; newest first.
		got, _ = s.QueryByKey("TopicQ", "shared", 5, 0, now+1000)
		if len(got) != 5 || got[0].PhysicalOffset < got[4].PhysicalOffset {
			t.Fatalf("query with max 5: %d messages, want newest first", len(got))
		}
		// A time range before everything finds nothing.
		if got, _ := s.QueryByKey("TopicQ", "order-4", 10, 0, 1000); len(got) != 0 {
			t.Fatalf("query outside the time range returned %d", len(got))
		}
		got, _ = s.QueryByKey("TopicQ", "U00042", 10, 0, now+1000)
		if len(got) != 1 || string(got[0].Body) != string(newMsg("TopicQ", 0, 42, nil).Body) {
			t.Fatalf("query by unique key: %d messages", len(got))
		}
		m, err := s.MessageByOffsetID(res[42].OffsetMsgID)
		if err != nil || m.PhysicalOffset != res[42].PhysicalOffset {
			t.Fatalf("by offset msg id %s: %v", res[42].OffsetMsgID, err)
		}
		if v, _ := message.Property(m.Properties, "UNIQ_KEY"); v != "U00042" {
			t.Fatalf("by offset msg id: got message %s", v)
		}
	}
	check(s)
	// The index survives a crash that loses its unsynced pages and the
	// checkpoint: it is rebuilt from the commit log.
	crashed := fs.CrashClone()
	s.Close()
	crashed.Remove(o.Dir + "/checkpoint")
	o.FS = crashed
	s = openStore(t, o)
	defer s.Close()
	check(s)
}

func TestOffsetByTime(t *testing.T) {
	clock := time.UnixMilli(1_700_000_000_000)
	o := testOptions(t, vfs.NewMem())
	o.Now = func() time.Time { return clock }
	s := openStore(t, o)
	defer s.Close()
	for i := range 50 {
		clock = time.UnixMilli(1_700_000_000_000 + int64(i)*1000)
		if _, err := s.Put(context.Background(), newMsg("TopicT", 2, i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s)
	cases := []struct {
		ts   int64
		want int64
	}{
		{0, 0},
		{1_700_000_000_000, 0},
		{1_700_000_010_000, 10},
		{1_700_000_010_001, 11},
		{1_700_000_049_000, 49},
		{1_800_000_000_000, 50},
	}
	for _, c := range cases {
		if got := s.OffsetByTime("TopicT", 2, c.ts); got != c.want {
			t.Errorf("OffsetByTime(%d) = %d, want %d", c.ts, got, c.want)
		}
	}
	if ts, ok := s.EarliestMessageTime("TopicT", 2); !ok || ts != 1_700_000_000_000 {
		t.Errorf("earliest store time %d %v", ts, ok)
	}
	if got := s.OffsetByTime("NoSuchTopic", 0, 0); got != 0 {
		t.Errorf("unknown queue: %d", got)
	}
}

func TestTransactionRecordsAreNotQueued(t *testing.T) {
	s := openStore(t, testOptions(t, vfs.NewMem()))
	defer s.Close()
	ctx := context.Background()
	half := newMsg("TopicX", 0, 1, nil)
	half.SysFlag = message.TransactionPrepared
	r, err := s.Put(ctx, half)
	if err != nil {
		t.Fatal(err)
	}
	if r.QueueOffset != 0 {
		t.Fatalf("prepared record got queue offset %d", r.QueueOffset)
	}
	commit := newMsg("TopicX", 0, 2, nil)
	commit.SysFlag = message.TransactionCommit
	if _, err := s.Put(ctx, commit); err != nil {
		t.Fatal(err)
	}
	waitDispatched(t, s)
	got := readAll(t, s, "TopicX", 0)
	if len(got) != 1 || string(got[0].Body) != string(commit.Body) {
		t.Fatalf("queue holds %d messages, want only the committed one", len(got))
	}
	if _, err := s.LookMessage(r.PhysicalOffset); err != nil {
		t.Fatalf("prepared record not stored: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(o *Options)
		key  string
	}{
		{"no dir", func(o *Options) { o.Dir = "" }, "storePathRootDir"},
		{"tiny segment", func(o *Options) { o.SegmentSize = 1000 }, "mappedFileSizeCommitLog"},
		{"ratio", func(o *Options) { o.DiskMaxUsedSpaceRatio = 1.5 }, "diskMaxUsedSpaceRatio"},
		{"deleteWhen", func(o *Options) { o.DeleteWhen = "25" }, "deleteWhen"},
		{"message bigger than segment", func(o *Options) { o.SegmentSize = 1 << 20; o.MaxMessageSize = 1 << 20 }, "maxMessageSize"},
	}
	for _, c := range cases {
		o := DefaultOptions("/x")
		c.mod(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.key)
		}
	}
	if err := DefaultOptions("/x").Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFlushDiskType("SYNC_FLUSH"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFlushDiskType("sometimes"); err == nil {
		t.Fatal("bad flushDiskType accepted")
	}
}

func TestSecondOpenOfSameDirFails(t *testing.T) {
	o := testOptions(t, nil)
	s := openStore(t, o)
	defer s.Close()
	if _, err := Open(o); err == nil {
		t.Fatal("a second store opened the same directory")
	}
}
