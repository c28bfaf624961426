package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// rank is a layer of the architecture; a package may import only packages of
// its own rank or lower.
type rank int

const (
	rankPure      rank = iota // codecs, tables and state machines with no I/O
	rankVFS                   // the disk seam
	rankStore                 // commit log, consume queues, index
	rankDomain                // offsets, pop, timer, transactions, replication
	rankTransport             // remoting
	rankAdapter               // request processors, gRPC server
	rankRole                  // name server, broker, proxy, controller
	rankCmd                   // binaries and tooling
)

func (r rank) String() string {
	names := [...]string{"pure", "vfs", "store", "domain", "transport", "adapter", "role", "cmd"}
	if r < 0 || int(r) >= len(names) {
		return fmt.Sprintf("rank(%d)", int(r))
	}
	return names[r]
}

// layer places a subtree of the module at a rank.
type layer struct {
	// prefix is a module-relative package path. The layer covers that
	// package and every package below it, unless a longer prefix in the
	// table claims them.
	prefix string
	rank   rank
	// sealed forbids packages below prefix to import the package at prefix:
	// the parent assembles its children, never the other way round.
	sealed bool
}

// archRules is the data the architecture check runs on.
type archRules struct {
	layers []layer
	// Packages of rank isolatedUpTo or lower must not import any package
	// matched by isolatedFrom: "p" matches p alone, "p/..." matches p and
	// every package below it.
	isolatedUpTo rank
	isolatedFrom []string
}

// quiverRules is the architecture of this module. A new package goes here,
// at the rank its imports and importers call for; the STYLE guide's "Shape:
// layers that only point down" explains the ranks.
func quiverRules() archRules {
	return archRules{
		layers: []layer{
			{prefix: "internal/message", rank: rankPure},
			{prefix: "internal/protocol", rank: rankPure},
			{prefix: "internal/filter", rank: rankPure},
			{prefix: "internal/timer/wheel", rank: rankPure},
			{prefix: "internal/namesrv/routes", rank: rankPure},
			{prefix: "internal/controller/fsm", rank: rankPure},
			{prefix: "internal/buildinfo", rank: rankPure},

			{prefix: "internal/vfs", rank: rankVFS},

			{prefix: "internal/store", rank: rankStore, sealed: true},

			{prefix: "internal/metadata", rank: rankDomain},
			{prefix: "internal/offset", rank: rankDomain},
			{prefix: "internal/pop", rank: rankDomain},
			{prefix: "internal/timer", rank: rankDomain},
			{prefix: "internal/txn", rank: rankDomain},
			{prefix: "internal/replication", rank: rankDomain},
			{prefix: "internal/schedule", rank: rankDomain},

			{prefix: "internal/remoting", rank: rankTransport},

			{prefix: "internal/broker/processor", rank: rankAdapter},
			{prefix: "internal/proxy/grpcserver", rank: rankAdapter},

			{prefix: "internal/namesrv", rank: rankRole},
			{prefix: "internal/broker", rank: rankRole},
			{prefix: "internal/proxy", rank: rankRole},
			{prefix: "internal/controller", rank: rankRole},
			// Reads config files: only cmd and the roles may import it.
			{prefix: "internal/config", rank: rankRole},

			{prefix: "cmd", rank: rankCmd},
			// The embeddable all-in-one server: roles wired as `quiver serve` does.
			{prefix: "server", rank: rankCmd},
			{prefix: "internal/lint", rank: rankCmd},
			// The load generator behind `quiver bench`: tooling.
			{prefix: "internal/bench", rank: rankCmd},
		},
		// The store and everything under it never see a frame, a
		// connection or a gRPC type.
		isolatedUpTo: rankStore,
		isolatedFrom: []string{
			"net",
			"net/http/...",
			"net/rpc/...",
			"google.golang.org/grpc/...",
			"google.golang.org/protobuf/...",
		},
	}
}

// TestImportsPointDown checks every package of the module against
// quiverRules.
func TestImportsPointDown(t *testing.T) {
	m := loadModule(t)
	pkgs := m.imports()
	for _, v := range checkArch(quiverRules(), m.path, pkgs) {
		t.Error(v)
	}
	t.Logf("checked the imports of %d packages", len(pkgs))
}

// TestLayerTable checks the table itself: one entry per prefix, clean paths,
// ranks in range.
func TestLayerTable(t *testing.T) {
	r := quiverRules()
	seen := make(map[string]bool)
	for _, l := range r.layers {
		if seen[l.prefix] {
			t.Errorf("%s: listed twice", l.prefix)
		}
		seen[l.prefix] = true
		if l.prefix == "" || strings.HasPrefix(l.prefix, "/") || strings.HasSuffix(l.prefix, "/") {
			t.Errorf("%q: want a module-relative path", l.prefix)
		}
		if l.rank < rankPure || l.rank > rankCmd {
			t.Errorf("%s: rank %d out of range", l.prefix, l.rank)
		}
	}
}

// checkArch returns one message per violation of r by pkgs, a map from
// module-relative package directory to the package's imports (full import
// paths), sorted.
func checkArch(r archRules, modPath string, pkgs map[string][]string) []string {
	var out []string
	dirs := make([]string, 0, len(pkgs))
	for dir := range pkgs {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	for _, dir := range dirs {
		from, ok := r.lookup(dir)
		if !ok {
			out = append(out, fmt.Sprintf("%s: package is not in the layer table; "+
				"add it to quiverRules in internal/lint/arch_test.go at the rank it belongs to", dir))
			continue
		}
		for _, imp := range pkgs[dir] {
			target, inModule := moduleRel(modPath, imp)
			if !inModule {
				if from.rank <= r.isolatedUpTo && matchAny(r.isolatedFrom, imp) {
					out = append(out, fmt.Sprintf("%s (%s) imports %s: packages at rank %s or lower must not see the network",
						dir, from.rank, imp, r.isolatedUpTo))
				}
				continue
			}
			to, ok := r.lookup(target)
			if !ok {
				if _, exists := pkgs[target]; !exists {
					out = append(out, fmt.Sprintf("%s imports %s, which is not in the layer table; "+
						"add it to quiverRules in internal/lint/arch_test.go", dir, target))
				}
				continue
			}
			if to.rank > from.rank {
				out = append(out, fmt.Sprintf("%s (%s) imports %s (%s): imports must point down the layers",
					dir, from.rank, target, to.rank))
			}
			if from.sealed && target == from.prefix && dir != from.prefix {
				out = append(out, fmt.Sprintf("%s imports %s: packages under %s must not import %s itself",
					dir, target, from.prefix, from.prefix))
			}
		}
	}
	return out
}

// lookup returns the layer with the longest prefix covering dir.
func (r archRules) lookup(dir string) (layer, bool) {
	var best layer
	found := false
	for _, l := range r.layers {
		if (dir == l.prefix || strings.HasPrefix(dir, l.prefix+"/")) && (!found || len(l.prefix) > len(best.prefix)) {
			best, found = l, true
		}
	}
	return best, found
}

// moduleRel returns the module-relative directory of an import path inside
// the module ("." for the module's root package).
func moduleRel(modPath, imp string) (string, bool) {
	if imp == modPath {
		return ".", true
	}
	rest, ok := strings.CutPrefix(imp, modPath+"/")
	return rest, ok
}

// matchAny reports whether imp matches one of the patterns ("p" or "p/...").
func matchAny(patterns []string, imp string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if imp == base || strings.HasPrefix(imp, base+"/") {
				return true
			}
		} else if imp == p {
			return true
		}
	}
	return false
}

func TestCheckArch(t *testing.T) {
	const mod = "example.com/m"
	rules := archRules{
		layers: []layer{
			{prefix: "internal/message", rank: rankPure},
			{prefix: "internal/timer/wheel", rank: rankPure},
			{prefix: "internal/vfs", rank: rankVFS},
			{prefix: "internal/store", rank: rankStore, sealed: true},
			{prefix: "internal/timer", rank: rankDomain},
			{prefix: "internal/broker", rank: rankRole},
			{prefix: "internal/proxy", rank: rankRole},
			{prefix: "cmd", rank: rankCmd},
		},
		isolatedUpTo: rankStore,
		isolatedFrom: []string{"net", "net/http/...", "google.golang.org/grpc/..."},
	}
	tests := []struct {
		name string
		pkgs map[string][]string
		want []string // substrings, one per expected violation, in order
	}{
		{
			name: "downward and equal-rank imports pass",
			pkgs: map[string][]string{
				"internal/message":       {"bytes", "net/netip"},
				"internal/vfs":           {"golang.org/x/sys/unix", "os"},
				"internal/store":         {mod + "/internal/store/segment", mod + "/internal/vfs", mod + "/internal/message"},
				"internal/store/segment": {mod + "/internal/store/index", mod + "/internal/vfs"},
				"internal/store/index":   {"encoding/binary"},
				"internal/timer":         {mod + "/internal/timer/wheel", mod + "/internal/store"},
				"internal/timer/wheel":   {"time"},
				"internal/broker":        {"net", "google.golang.org/grpc", mod + "/internal/timer"},
				"internal/proxy":         {mod + "/internal/broker"},
				"cmd/quiver":             {mod + "/internal/broker", mod + "/internal/proxy"},
			},
		},
		{
			name: "upward import is flagged",
			pkgs: map[string][]string{
				"internal/store":  {mod + "/internal/broker"},
				"internal/broker": {mod + "/internal/store"},
			},
			want: []string{"internal/store (store) imports internal/broker (role)"},
		},
		{
			name: "longest prefix decides the rank",
			pkgs: map[string][]string{
				"internal/timer":       {},
				"internal/timer/wheel": {mod + "/internal/timer"},
			},
			want: []string{"internal/timer/wheel (pure) imports internal/timer (domain)"},
		},
		{
			name: "sub-package of a sealed layer imports its root",
			pkgs: map[string][]string{
				"internal/store":           {mod + "/internal/store/commitlog"},
				"internal/store/commitlog": {mod + "/internal/store"},
			},
			want: []string{"internal/store/commitlog imports internal/store: packages under internal/store must not import internal/store itself"},
		},
		{
			name: "store must not see the network",
			pkgs: map[string][]string{
				"internal/store/segment": {"net"},
				"internal/vfs":           {"net/http/httptest"},
				"internal/message":       {"google.golang.org/grpc/codes"},
			},
			want: []string{
				"internal/message (pure) imports google.golang.org/grpc/codes",
				"internal/store/segment (store) imports net:",
				"internal/vfs (vfs) imports net/http/httptest",
			},
		},
		{
			name: "unknown packages are flagged",
			pkgs: map[string][]string{
				"internal/config": {},
				"internal/broker": {mod + "/internal/gone"},
				".":               {},
			},
			want: []string{
				".: package is not in the layer table",
				"internal/broker imports internal/gone, which is not in the layer table",
				"internal/config: package is not in the layer table",
			},
		},
		{
			name: "a prefix matches whole path elements only",
			pkgs: map[string][]string{
				"internal/brokerage": {},
			},
			want: []string{"internal/brokerage: package is not in the layer table"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkArch(rules, mod, tt.pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
