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
		{"bench", "workload", "W3", "--count", "300"},
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
		if args[2] != "W3" {
			continue
		}
		// W3's results: W3:fill W3b W3:pop W3.
		if len(lines) != 4 || m["workload"] != "W3" {
			t.Fatalf("W3 printed %d lines, the last %v:\n%s", len(lines), m["workload"], out.String())
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(lines[2]), &p); err != nil {
			t.Fatal(err)
		}
		if p["workload"] != "W3:pop" || p["msgs"] != 300.0 || p["committed"] != 300.0 || p["missing"] != 0.0 || p["duplicates"] != 0.0 || p["errors"] != 0.0 || p["batch"] != 32.0 {
			t.Errorf("W3:pop line: %s", lines[2])
		}
	}
}

func TestBenchGRPCProduceAndW7(t *testing.T) {
	s, err := server.Start(server.Options{DataDir: t.TempDir(), NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0", ProxyAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		root := newRootCmd(&out)
		root.SetErr(&errb)
		root.SetArgs(append(args, "--namesrv", s.NamesrvAddr()))
		err := root.Execute()
		return out.String(), errb.String(), err
	}
	last := func(out string) map[string]any {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
			t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
		}
		return m
	}
	out, errs, err := run("bench", "produce", "--grpc", "--proxy", s.ProxyAddr(), "--count", "300", "--window", "16", "--json")
	if err != nil {
		t.Fatalf("produce --grpc: %v\n%s", err, errs)
	}
	if m := last(out); m["msgs"].(float64) != 300 || m["transport"] != "grpc" || m["errors"].(float64) != 0 {
		t.Fatalf("produce --grpc: %s", out)
	}

	out, errs, err = run("bench", "workload", "W7", "--proxy", s.ProxyAddr(), "--count", "200", "--json")
	if err != nil {
		t.Fatalf("W7: %v\n%s", err, errs)
	}
	m := last(out)
	for _, k := range []string{"workload", "msgs", "seconds", "msgs_per_sec", "mib_per_sec", "p50_us", "p99_us", "p999_us", "max_us", "of", "grpc_over_remoting"} {
		if _, ok := m[k]; !ok {
			t.Errorf("W7 JSON lacks %q: %v", k, m)
		}
	}
	g, _ := m["grpc_over_remoting"].(map[string]any)
	if m["workload"] != "W7" || m["of"] != "W7:W2p:grpc" || m["msgs"].(float64) != 200 || g["ratio_w1_msgs_per_sec"] == nil || g["ratio_w2p_msgs_per_sec"] == nil {
		t.Fatalf("W7 headline: %v", m)
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Fatalf("W7 printed %d JSON lines, want 4 variants and the headline:\n%s", n, out)
	}

	for _, args := range [][]string{
		{"bench", "workload", "W7", "--proxy", "127.0.0.1:1", "--count", "50"},
		{"bench", "produce", "--grpc", "--proxy", "127.0.0.1:1", "--count", "50"},
	} {
		if _, _, err := run(args...); err == nil || !strings.Contains(err.Error(), "gRPC proxy 127.0.0.1:1") {
			t.Errorf("%v: %v, want an error naming the proxy", args, err)
		}
	}
	if _, _, err := run("bench", "produce", "--grpc", "--proxy", "nohost", "--count", "50"); err == nil || !strings.Contains(err.Error(), "nohost") {
		t.Errorf("produce --proxy nohost: %v", err)
	}
	// consume --grpc drains what produce --grpc stored; e2e --grpc.
	topic := "BenchGRPC"
	if out, errs, err = run("bench", "produce", "--grpc", "--proxy", s.ProxyAddr(), "--topic", topic, "--count", "200", "--window", "8", "--json"); err != nil {
		t.Fatalf("produce: %v\n%s", err, errs)
	}
	out, errs, err = run("bench", "consume", "--grpc", "--proxy", s.ProxyAddr(), "--topic", topic, "--count", "200", "--commit-every", "1", "--json")
	if err != nil {
		t.Fatalf("consume --grpc: %v\n%s", err, errs)
	}
	if m := last(out); m["msgs"].(float64) != 200 || m["committed"].(float64) != 200 || m["transport"] != "grpc" {
		t.Fatalf("consume --grpc: %s", out)
	}
	out, errs, err = run("bench", "e2e", "--grpc", "--proxy", s.ProxyAddr(), "--count", "200", "--rate", "2000", "--window", "8", "--json")
	if err != nil {
		t.Fatalf("e2e --grpc: %v\n%s", err, errs)
	}
	if m := last(out); m["msgs"].(float64) != 200 || m["transport"] != "grpc" || m["p50_us"].(float64) <= 0 {
		t.Fatalf("e2e --grpc: %s", out)
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
