package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/store"
)

// run executes the command tree with args and returns what it wrote to its
// output and error streams.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestVersionPrintsNameAndGoVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatalf("quiver version: %v", err)
	}
	for _, want := range []string{"quiver", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(out, want) {
			t.Errorf("quiver version output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersionRejectsArguments(t *testing.T) {
	if _, _, err := run(t, "version", "extra"); err == nil {
		t.Fatal("quiver version extra: want an error, got none")
	}
}

func TestUnknownCommandFails(t *testing.T) {
	_, stderr, err := run(t, "no-such-role")
	if err == nil {
		t.Fatal("quiver no-such-role: want an error, got none")
	}
	if !strings.Contains(stderr, "unknown command") {
		t.Errorf("stderr does not name the problem:\n%s", stderr)
	}
}

// TestVersionStampedAtLinkTime builds the binary the way a release does and
// checks the -X path still names the variable (the linker ignores a wrong one
// silently).
func TestVersionStampedAtLinkTime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	const stamp = "v9.8.7-linktest"
	bin := filepath.Join(t.TempDir(), "quiver")
	build := exec.Command(goTool, "build", "-o", bin,
		"-ldflags", "-X github.com/quiver-mq/quiver/internal/buildinfo.version="+stamp, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "version")
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	if err := cmd.Run(); err != nil {
		t.Fatalf("quiver version: %v", err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "quiver "+stamp {
		t.Errorf("first line = %q, want %q", first, "quiver "+stamp)
	}
}

func TestStoreCheckDescribesAStore(t *testing.T) {
	dir := t.TempDir()
	o := store.DefaultOptions(dir)
	o.SegmentSize = 1 << 20
	o.MaxMessageSize = 64 << 10
	s, err := store.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Put(context.Background(), &message.Message{Topic: "CheckTopic", QueueID: 2, Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, "store", "check", "--segment-size", "1048576", dir)
	if err != nil {
		t.Fatalf("store check: %v", err)
	}
	if !strings.Contains(stdout, "commit log: offsets [0, ") || !regexp.MustCompile(`CheckTopic\s+2\s+0\s+3`).MatchString(stdout) {
		t.Fatalf("store check output lacks the queue:\n%s", stdout)
	}
}
