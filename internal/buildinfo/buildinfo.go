// Package buildinfo tells which build of Quiver is running.
//
// A release build stamps its version at link time:
//
//	go build -ldflags "-X github.com/quiver-mq/quiver/internal/buildinfo.version=v5.3.0" ./cmd/quiver
//
// Without the stamp, the version is the main module's version recorded by the
// go command (a pseudo-version when built from a VCS checkout, "(devel)"
// otherwise). The commit and its time come from the VCS stamping the go
// command embeds (absent when built with -buildvcs=false).
//
// buildinfo is a pure package: it reads only what the linker embedded and does
// no I/O. Its functions are safe for concurrent use.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set by the linker (-X) and never written at run time.
var version string

// Devel is the version reported when neither the linker stamp nor the go
// command's build information names one.
const Devel = "(devel)"

// Info describes a build.
type Info struct {
	Version   string // "v5.3.0", a pseudo-version, or Devel
	Revision  string // VCS commit; empty if unknown
	Time      string // VCS commit time, RFC 3339; empty if unknown
	Modified  bool   // the work tree had uncommitted changes
	GoVersion string // Go toolchain that built the binary, e.g. "go1.26.8"
	GOOS      string // target operating system, runtime.GOOS
	GOARCH    string // target architecture, runtime.GOARCH
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo() // nil when not built in module mode
	return From(version, bi)
}

// From assembles an Info from a link-time version stamp (may be empty) and the
// go command's build information (may be nil).
func From(stamp string, bi *debug.BuildInfo) Info {
	info := Info{
		Version:   stamp,
		GoVersion: runtime.Version(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
	}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Version == "" {
		info.Version = Devel
	}
	return info
}

// String formats the Info as `quiver version` prints it: the version on the
// first line, then one "key: value" line per known fact.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "quiver %s\n", i.Version)
	if i.Revision != "" {
		rev := i.Revision
		if i.Modified {
			rev += " (modified)"
		}
		fmt.Fprintf(&b, "commit:      %s\n", rev)
	}
	if i.Time != "" {
		fmt.Fprintf(&b, "commit time: %s\n", i.Time)
	}
	fmt.Fprintf(&b, "go:          %s %s/%s\n", i.GoVersion, i.GOOS, i.GOARCH)
	return b.String()
}
