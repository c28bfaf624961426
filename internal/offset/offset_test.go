package offset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quiver-mq/quiver/internal/metadata/jsonfile"
	"github.com/quiver-mq/quiver/internal/vfs"
)

const dir = "store/config"

func open(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open(fs, dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func writeFile(t *testing.T, fs vfs.FS, name, data string) {
	t.Helper()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func readFile(t *testing.T, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCommitQuery(t *testing.T) {
	s := open(t, vfs.NewMem())
	if _, ok := s.Query("G", "T", 0); ok {
		t.Fatal("offset in an empty store")
	}
	s.Commit("G", "T", 0, 12)
	s.Commit("G", "T", 1, 7)
	s.Commit("G", "T", 0, 10) // the client may move backwards
	s.Commit("G", "U", 3, 1)
	s.Commit("H", "T", 0, 99)
	if off, ok := s.Query("G", "T", 0); !ok || off != 10 {
		t.Errorf("Query = %d, %v", off, ok)
	}
	if got := s.Table("G", "T"); !maps.Equal(got, map[int32]int64{0: 10, 1: 7}) {
		t.Errorf("Table = %v", got)
	}
	if s.Table("G", "none") != nil {
		t.Error("Table of nothing is not nil")
	}
	if got := s.Groups(); !slices.Equal(got, []string{"G", "H"}) {
		t.Errorf("Groups = %v", got)
	}
	if got := s.Topics("G"); !slices.Equal(got, []string{"T", "U"}) {
		t.Errorf("Topics = %v", got)
	}
	if got := s.GroupsByTopic("T"); !slices.Equal(got, []string{"G", "H"}) {
		t.Errorf("GroupsByTopic = %v", got)
	}
	// Table returns a copy.
	s.Table("G", "T")[0] = 1000
	if off, _ := s.Query("G", "T", 0); off != 10 {
		t.Error("Table aliases the store")
	}
	s.DeleteTopic("T")
	if got := s.GroupsByTopic("T"); len(got) != 0 {
		t.Errorf("after DeleteTopic: %v", got)
	}
	if _, ok := s.Query("G", "U", 3); !ok {
		t.Error("DeleteTopic removed another topic")
	}
	s.DeleteGroup("G")
	if got := s.Groups(); len(got) != 0 {
		t.Errorf("after DeleteGroup: %v", got)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs)
	s.Commit("G", "T", 0, 12)
	s.Commit("G", "T", 1, 7)
	s.Commit("G", "%RETRY%G", 0, 3)
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}
	s.Commit("G", "T", 2, 5) // not persisted: lost in a crash
	crashed := fs.CrashClone()
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}

	c := open(t, crashed)
	if got := c.Table("G", "T"); !maps.Equal(got, map[int32]int64{0: 12, 1: 7}) {
		t.Errorf("after crash: %v", got)
	}
	r := open(t, fs.CrashClone())
	if got := r.Table("G", "T"); !maps.Equal(got, map[int32]int64{0: 12, 1: 7, 2: 5}) {
		t.Errorf("after second persist: %v", got)
	}
	if off, _ := r.Query("G", "%RETRY%G", 0); off != 3 {
		t.Errorf("retry offset %d", off)
	}
}

// The file has RocketMQ's shape, with quoted queue ids.
func TestFileFormat(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs)
	s.Commit("G", "T", 0, 12)
	s.Commit("G", "T", 1, 7)
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}
	data := readFile(t, fs, dir+"/consumerOffset.json")
	var f map[string]map[string]map[string]int64
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("not standard JSON: %v\n%s", err, data)
	}
	want := map[string]map[string]map[string]int64{"offsetTable": {"T@G": {"0": 12, "1": 7}}}
	if fmt.Sprint(f) != fmt.Sprint(want) {
		t.Errorf("file %s", data)
	}
	if !strings.Contains(string(data), "\n\t") {
		t.Errorf("not pretty: %s", data)
	}
}

// A consumerOffset.json written by a Java broker (fastjson: bare numeric
// keys) loads.
func TestLoadJavaFile(t *testing.T) {
	fs := vfs.NewMem()
	writeFile(t, fs, dir+"/consumerOffset.json", `{
	"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},
	"offsetTable":{
		"T@G":{0:12,1:7
		},
		"%RETRY%G@G":{"0":3},
		"U@H":{}
	}
}`)
	s := open(t, fs)
	if got := s.Table("G", "T"); !maps.Equal(got, map[int32]int64{0: 12, 1: 7}) {
		t.Errorf("T@G = %v", got)
	}
	if off, ok := s.Query("G", "%RETRY%G", 0); !ok || off != 3 {
		t.Errorf("retry = %d, %v", off, ok)
	}
	if got := s.Topics("H"); !slices.Equal(got, []string{"U"}) {
		t.Errorf("Topics(H) = %v", got)
	}
}

// mem returns a copy of fs with its backup removed, to read the main file
// alone.
func mem(fs *vfs.MemFS) vfs.FS {
	c := fs.CrashClone()
	c.Remove(dir + "/consumerOffset.json.bak")
	return c
}

func TestLoadBakAfterCorruptMain(t *testing.T) {
	tests := []struct {
		name, main string
	}{
		{"truncated", `{"offsetTable":{"T@G":{"0":`},
		{"garbage", "\x00\x01\x02"},
		{"key without @", `{"offsetTable":{"TG":{"0":1}}}`},
		{"queue id not a number", `{"offsetTable":{"T@G":{"x":1}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := open(t, fs)
			s.Commit("G", "T", 0, 1)
			s.Persist()
			s.Commit("G", "T", 0, 2)
			s.Persist()
			writeFile(t, fs, dir+"/consumerOffset.json", tt.main)
			if off, _ := open(t, fs).Query("G", "T", 0); off != 1 {
				t.Errorf("loaded %d, want 1 from the backup", off)
			}
			// Open wrote the backup back as the main file.
			if off, _ := open(t, mem(fs)).Query("G", "T", 0); off != 1 {
				t.Errorf("main file holds %d, want 1", off)
			}
			writeFile(t, fs, dir+"/consumerOffset.json", tt.main)
			writeFile(t, fs, dir+"/consumerOffset.json.bak", tt.main)
			if _, err := Open(fs, dir); !errors.Is(err, jsonfile.ErrCorrupt) {
				t.Errorf("both corrupt: %v", err)
			}
		})
	}
}

func TestPersistSkipsWhenClean(t *testing.T) {
	mem := vfs.NewMem()
	fs := vfs.Inject(mem, nil)
	s := open(t, fs)
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}
	if n := fs.Count(vfs.OpCreate); n != 0 {
		t.Fatalf("empty store wrote %d files", n)
	}
	s.Commit("G", "T", 0, 1)
	s.Persist()
	s.Persist()
	if n := fs.Count(vfs.OpCreate); n != 1 {
		t.Fatalf("%d writes, want 1", n)
	}
	s.DeleteGroup("G")
	s.Persist()
	if n := fs.Count(vfs.OpCreate); n != 2 {
		t.Fatalf("a delete was not written")
	}
	if got := open(t, mem).Groups(); len(got) != 0 {
		t.Errorf("groups after delete: %v", got)
	}
}

func TestPersistFailureIsRetried(t *testing.T) {
	mem := vfs.NewMem()
	fs := vfs.Inject(mem, vfs.FailNth(vfs.OpSync, 1, syscall.EIO))
	s := open(t, fs)
	s.Commit("G", "T", 0, 5)
	if err := s.Persist(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Persist = %v, want EIO", err)
	}
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}
	if off, _ := open(t, mem.CrashClone()).Query("G", "T", 0); off != 5 {
		t.Errorf("offset %d after retry", off)
	}
}

// J assignResetOffset / hasOffsetReset / queryThenEraseResetOffset.
func TestReset(t *testing.T) {
	s := open(t, vfs.NewMem())
	s.Commit("G", "T", 0, 100)
	s.Reset("G", "T", 0, 10)
	if off, _ := s.Query("G", "T", 0); off != 10 {
		t.Errorf("Query after Reset = %d", off)
	}
	if off, ok := s.PendingReset("G", "T", 0); !ok || off != 10 {
		t.Errorf("PendingReset = %d, %v", off, ok)
	}
	if s.Commit("G", "T", 0, 101) {
		t.Error("commit accepted while a reset is pending")
	}
	if !s.Commit("G", "T", 1, 5) {
		t.Error("commit of another queue refused")
	}
	if off, _ := s.Query("G", "T", 0); off != 10 {
		t.Errorf("stale commit overwrote the reset: %d", off)
	}
	if off, ok := s.TakeReset("G", "T", 0); !ok || off != 10 {
		t.Errorf("TakeReset = %d, %v", off, ok)
	}
	if _, ok := s.TakeReset("G", "T", 0); ok {
		t.Error("reset taken twice")
	}
	if !s.Commit("G", "T", 0, 11) {
		t.Error("commit refused after the reset was taken")
	}
	s.Reset("G", "T", 2, 0)
	s.DeleteGroup("G")
	if _, ok := s.PendingReset("G", "T", 2); ok {
		t.Error("DeleteGroup kept a pending reset")
	}
}

// Commits from many connections, reads and periodic persists at once.
func TestConcurrent(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs)
	const workers, commits = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			group := fmt.Sprintf("G%d", w)
			for i := range commits {
				s.Commit(group, "T", int32(i%4), int64(i))
				s.Query(group, "T", int32(i%4))
				if i%100 == 0 {
					s.Groups()
					s.Table(group, "T")
					if err := s.Persist(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}
	r := open(t, fs.CrashClone())
	for w := range workers {
		want := map[int32]int64{0: commits - 4, 1: commits - 3, 2: commits - 2, 3: commits - 1}
		if got := r.Table(fmt.Sprintf("G%d", w), "T"); !maps.Equal(got, want) {
			t.Errorf("G%d: %v, want %v", w, got, want)
		}
	}
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := vfs.NewMem()
		fs := vfs.Inject(mem, nil)
		s := open(t, fs)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, 0, nil) }()

		s.Commit("G", "T", 0, 1)
		time.Sleep(DefaultPersistInterval + time.Millisecond)
		synctest.Wait()
		if off, _ := open(t, mem.CrashClone()).Query("G", "T", 0); off != 1 {
			t.Errorf("not persisted after one interval: %d", off)
		}
		s.Commit("G", "T", 0, 2)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if off, _ := open(t, mem.CrashClone()).Query("G", "T", 0); off != 2 {
			t.Errorf("not persisted at shutdown: %d", off)
		}
		if n := fs.Count(vfs.OpCreate); n != 2 {
			t.Errorf("%d writes, want 2 (idle ticks write nothing)", n)
		}
	})
}
