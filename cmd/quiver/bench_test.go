package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quiver-mq/quiver/server"
)

func TestBenchJSONLastLineHasTheFields(t *testing.T) {
	s, err := server.Start(server.Options{DataDir: t.TempDir(), NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, args := range [][]string{
		{"bench", "produce", "--count", "300", "--window", "4"},
		{"bench", "e2e", "--count", "300", "--rate", "3000", "--window", "8"},
		{"bench", "workload", "W2p", "--count", "300"},
	} {
		var out, errb bytes.Buffer
		root := newRootCmd(&out)
		root.SetErr(&errb)
		root.SetArgs(append(args, "--namesrv", s.NamesrvAddr(), "--json"))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
			t.Fatalf("%v: last line %q: %v", args, lines[len(lines)-1], err)
		}
		for _, k := range []string{"workload", "msgs", "seconds", "msgs_per_sec", "mib_per_sec", "p50_us", "p99_us", "p999_us", "max_us"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%v: JSON lacks %q: %s", args, k, lines[len(lines)-1])
			}
		}
		if m["msgs"].(float64) != 300 {
			t.Errorf("%v: msgs = %v, want 300", args, m["msgs"])
		}
	}
}

func TestBenchReportComparesBothSystems(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "q.jsonl")
	j := filepath.Join(dir, "js.txt")
	jl := filepath.Join(dir, "results.jsonl")
	if err := os.WriteFile(q, []byte(`{"workload":"W2p","msgs":400000,"msgs_per_sec":100000}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j, []byte("RESULT label=W2p:publish-async-window256:1pub:1KiB:default workload=pub rate=50000.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root := newRootCmd(&out)
	root.SetArgs([]string{"bench", "report", "--quiver", q, "--jetstream", j, "--jsonl", jl})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if want := "| W2p | msg/s | 100000 | 50000 | 2.00 | ≥ 2 met | 1/1 |"; !strings.Contains(out.String(), want) {
		t.Fatalf("report lacks %q:\n%s", want, out.String())
	}
	b, err := os.ReadFile(jl)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 { // two runs, one comparison
		t.Fatalf("results file has %d lines:\n%s", n, b)
	}
	root = newRootCmd(&out)
	root.SetArgs([]string{"bench", "report", "--quiver", filepath.Join(dir, "missing.jsonl")})
	root.SetErr(&bytes.Buffer{})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Fatalf("missing file: %v", err)
	}
}
