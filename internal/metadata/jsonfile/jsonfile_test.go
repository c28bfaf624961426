package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"syscall"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

func TestQuoteNumericKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"a":1}`, `{"a":1}`},
		{`{0:12,1:7}`, `{"0":12,"1":7}`},
		{`{"offsetTable":{"t@g":{0:12, 13 : 7}}}`, `{"offsetTable":{"t@g":{"0":12, "13" : 7}}}`},
		{"{\n\t0:1,\n\t-1:2\n}", "{\n\t\"0\":1,\n\t\"-1\":2\n}"},
		{`[0,1,{2:3}]`, `[0,1,{"2":3}]`},         // array elements are not keys
		{`{"a":[1,2],3:4}`, `{"a":[1,2],"3":4}`}, // a key after an array
		{`{"s":"{0:1}"}`, `{"s":"{0:1}"}`},       // inside a string
		{`{"s":"\"{0:1}"}`, `{"s":"\"{0:1}"}`},   // escaped quote in a string
		{`{-:1}`, `{-:1}`},                       // not a number
		{`{0 1:2}`, `{0 1:2}`},                   // not a key: left to fail
		{``, ``},
		{`{0`, `{0`},
	}
	for _, tt := range tests {
		if got := string(QuoteNumericKeys([]byte(tt.in))); got != tt.want {
			t.Errorf("QuoteNumericKeys(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnmarshalFastjsonKeys(t *testing.T) {
	var v struct {
		OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
	}
	if err := Unmarshal([]byte(`{"offsetTable":{"T@G":{0:12,1:7},"U@G":{"3":4}}}`), &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{"T@G": {0: 12, 1: 7}, "U@G": {3: 4}}
	if !maps.EqualFunc(v.OffsetTable, want, maps.Equal) {
		t.Errorf("got %v, want %v", v.OffsetTable, want)
	}
}

func FuzzQuoteNumericKeys(f *testing.F) {
	for _, s := range []string{
		`{"offsetTable":{"T@G":{0:12,1:7}}}`,
		`{"topicConfigTable":{"TBW102":{"perm":7,"attributes":{}}},"dataVersion":{"counter":1}}`,
		`[1,{"a":"b\"c"},{-1:2}]`,
		`{"a":"\u0030"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := QuoteNumericKeys(data)
		if json.Valid(data) && !bytes.Equal(out, data) {
			t.Fatalf("valid JSON changed: %q → %q", data, out)
		}
		// Quoting is idempotent.
		if again := QuoteNumericKeys(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q → %q → %q", data, out, again)
		}
	})
}

func readString(t *testing.T, fs vfs.FS, path string) (string, string) {
	t.Helper()
	var got string
	from, err := Read(fs, path, func(b []byte) error {
		var v struct{ V string }
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		got = v.V
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got, from
}

func doc(v string) []byte {
	b, _ := Marshal(struct{ V string }{v})
	return b
}

func TestWriteRead(t *testing.T) {
	fs := vfs.NewMem()
	if err := EnsureDir(fs, "store/config"); err != nil {
		t.Fatal(err)
	}
	const path = "store/config/x.json"
	if v, from := readString(t, fs, path); v != "" || from != "" {
		t.Fatalf("fresh: got %q from %q", v, from)
	}
	for _, v := range []string{"one", "two", "three"} {
		if err := Write(fs, path, doc(v)); err != nil {
			t.Fatal(err)
		}
	}
	if v, from := readString(t, fs, path); v != "three" || from != path {
		t.Fatalf("got %q from %q", v, from)
	}
	// The backup holds the previous version.
	if v, _ := readString(t, fs, path+BakSuffix); v != "two" {
		t.Fatalf("backup: got %q", v)
	}
	// Everything was made durable, directories included.
	if v, _ := readString(t, fs.CrashClone(), path); v != "three" {
		t.Fatalf("after crash: got %q", v)
	}
	if names, _ := fs.ReadDir("store/config"); len(names) != 2 {
		t.Fatalf("directory holds %v, want the file and its backup", names)
	}
}

func TestReadFallsBackToBak(t *testing.T) {
	const path = "x.json"
	tests := []struct {
		name     string
		main     []byte // nil: missing
		bak      []byte
		want     string
		wantFrom string
		corrupt  bool
	}{
		{name: "both missing", want: "", wantFrom: ""},
		{name: "main good", main: doc("m"), bak: doc("b"), want: "m", wantFrom: path},
		{name: "main missing", bak: doc("b"), want: "b", wantFrom: path + BakSuffix},
		{name: "main empty", main: []byte{}, bak: doc("b"), want: "b", wantFrom: path + BakSuffix},
		{name: "main blank, no bak", main: []byte(" \n"), want: "", wantFrom: ""},
		{name: "main corrupt", main: []byte(`{"V":"tru`), bak: doc("b"), want: "b", wantFrom: path + BakSuffix},
		{name: "main corrupt, no bak", main: []byte(`{"V":`), corrupt: true},
		{name: "both corrupt", main: []byte(`{`), bak: []byte(`}`), corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			for name, data := range map[string][]byte{path: tt.main, path + BakSuffix: tt.bak} {
				if data == nil {
					continue
				}
				f, err := fs.Create(name)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteAt(data, 0)
				f.Close()
			}
			if tt.corrupt {
				_, err := Read(fs, path, func(b []byte) error { return json.Unmarshal(b, new(struct{ V string })) })
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				return
			}
			v, from := readString(t, fs, path)
			if v != tt.want || from != tt.wantFrom {
				t.Fatalf("got %q from %q, want %q from %q", v, from, tt.want, tt.wantFrom)
			}
		})
	}
}

func TestReadIOErrorFallsBack(t *testing.T) {
	mem := vfs.NewMem()
	if err := Write(mem, "x.json", doc("old")); err != nil {
		t.Fatal(err)
	}
	if err := Write(mem, "x.json", doc("new")); err != nil {
		t.Fatal(err)
	}
	fs := vfs.Inject(mem, vfs.FailPath(func(p string) bool { return p == "x.json" }, syscall.EIO, vfs.OpReadAt))
	if v, from := readString(t, fs, "x.json"); v != "old" || from != "x.json.bak" {
		t.Fatalf("got %q from %q", v, from)
	}
}

// TestWriteCrashAtEveryStep fails each file-system operation of a Write in
// turn, then looks at what a crash right after would leave: the old or the
// new contents, never nothing and never an error.
func TestWriteCrashAtEveryStep(t *testing.T) {
	ops := []vfs.Op{vfs.OpCreate, vfs.OpWriteAt, vfs.OpSync, vfs.OpClose, vfs.OpStat, vfs.OpRename, vfs.OpSyncDir}
	for _, op := range ops {
		for n := int64(1); n <= 2; n++ {
			mem := vfs.NewMem()
			if err := Write(mem, "x.json", doc("old")); err != nil {
				t.Fatal(err)
			}
			fs := vfs.Inject(mem, vfs.FailNth(op, n, syscall.EIO))
			err := Write(fs, "x.json", doc("new"))
			if fs.Count(op) < n {
				continue // the write does not make an nth call of op
			}
			if err == nil {
				t.Errorf("%v #%d: Write succeeded despite the failure", op, n)
			}
			for _, img := range []vfs.FS{mem, mem.CrashClone()} {
				v, _ := readString(t, img, "x.json")
				if v != "old" && v != "new" {
					t.Errorf("%v #%d: read %q", op, n, v)
				}
			}
			// A later write repairs everything.
			if err := Write(mem, "x.json", doc("later")); err != nil {
				t.Fatalf("%v #%d: rewrite: %v", op, n, err)
			}
			if v, _ := readString(t, mem.CrashClone(), "x.json"); v != "later" {
				t.Errorf("%v #%d: after rewrite read %q", op, n, v)
			}
		}
	}
}

func TestEnsureDirDurable(t *testing.T) {
	fs := vfs.NewMem()
	if err := EnsureDir(fs, "a/b/config"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.CrashClone().Stat("a/b/config"); err != nil {
		t.Fatalf("directory lost in a crash: %v", err)
	}
	if err := EnsureDir(fs, "a/b/config"); err != nil {
		t.Fatal(err)
	}
}

// Falling back to the backup moves the unusable main file aside, so that
// the next Write keeps the good backup.
func TestReadMovesCorruptMainAside(t *testing.T) {
	fs := vfs.NewMem()
	if err := Write(fs, "x.json", doc("old")); err != nil {
		t.Fatal(err)
	}
	if err := Write(fs, "x.json", doc("new")); err != nil {
		t.Fatal(err)
	}
	f, _ := fs.Create("x.json")
	f.WriteAt([]byte("{garbage"), 0)
	f.Close()
	if v, from := readString(t, fs, "x.json"); v != "old" || from != "x.json.bak" {
		t.Fatalf("got %q from %q", v, from)
	}
	if _, err := fs.Stat("x.json.corrupt"); err != nil {
		t.Fatalf("corrupt file not kept: %v", err)
	}
	if err := Write(fs, "x.json", doc("newer")); err != nil {
		t.Fatal(err)
	}
	if v, _ := readString(t, fs, "x.json.bak"); v != "old" {
		t.Errorf("backup now %q", v)
	}
}

// A directory someone else created without syncing its parent becomes
// durable too.
func TestEnsureDirSyncsExistingDir(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("store", 0o755)
	fs.SyncDir("")
	fs.MkdirAll("store/config", 0o755)
	if err := EnsureDir(fs, "store/config"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.CrashClone().Stat("store/config"); err != nil {
		t.Fatalf("directory lost in a crash: %v", err)
	}
}
