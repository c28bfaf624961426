package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/quiver-mq/quiver", Version: "v0.0.0-20260101000000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-01-01T00:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name  string
		stamp string
		bi    *debug.BuildInfo
		want  Info
	}{
		{
			name: "no build info",
			want: Info{Version: Devel},
		},
		{
			name: "devel module without vcs",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: Devel},
		},
		{
			name: "pseudo-version and vcs",
			bi:   vcs,
			want: Info{
				Version:  "v0.0.0-20260101000000-0123456789ab+dirty",
				Revision: "0123456789abcdef",
				Time:     "2026-01-01T00:00:00Z",
				Modified: true,
			},
		},
		{
			name:  "linker stamp wins",
			stamp: "v5.3.0",
			bi:    vcs,
			want: Info{
				Version:  "v5.3.0",
				Revision: "0123456789abcdef",
				Time:     "2026-01-01T00:00:00Z",
				Modified: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.GoVersion = runtime.Version()
			tt.want.GOOS = runtime.GOOS
			tt.want.GOARCH = runtime.GOARCH
			if got := From(tt.stamp, tt.bi); got != tt.want {
				t.Errorf("From(%q, …) = %+v, want %+v", tt.stamp, got, tt.want)
			}
		})
	}
}

func TestInfoString(t *testing.T) {
	i := Info{
		Version:   "v5.3.0",
		Revision:  "0123456789abcdef",
		Time:      "2026-01-01T00:00:00Z",
		Modified:  true,
		GoVersion: "go1.26.8",
		GOOS:      "linux",
		GOARCH:    "amd64",
	}
	want := `quiver v5.3.0
commit:      0123456789abcdef (modified)
commit time: 2026-01-01T00:00:00Z
go:          go1.26.8 linux/amd64
`
	if got := i.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}

	bare := Info{Version: Devel, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "arm64"}
	if got := bare.String(); strings.Contains(got, "commit") {
		t.Errorf("String() of a build without VCS data mentions a commit:\n%s", got)
	}
}
