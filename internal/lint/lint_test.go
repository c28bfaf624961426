package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestTypedAtomicsOnly forbids the function forms of sync/atomic
// (atomic.AddInt64, atomic.LoadPointer, atomic.CompareAndSwapUint32, …) in
// every file, tests included: a field declared atomic.Int64 cannot be read
// without the atomic by mistake, a plain int64 can.
func TestTypedAtomicsOnly(t *testing.T) { testConventions(t, "sync/atomic") }

// TestNoInitFuncs forbids func init() outside tests: no registration at
// import time, no hidden global state.
func TestNoInitFuncs(t *testing.T) { testConventions(t, "init") }

func testConventions(t *testing.T, rule string) {
	m := loadModule(t)
	for _, f := range m.files {
		for _, v := range checkFile(m.fset, f.ast, f.test) {
			if v.rule == rule {
				t.Errorf("%s:%d: %s", f.rel, v.pos.Line, v.msg)
			}
		}
	}
}

type violation struct {
	rule string // "sync/atomic" or "init"
	pos  token.Position
	msg  string
}

// isAtomicType reports whether name is an exported type of sync/atomic: the
// only names of the package we use.
func isAtomicType(name string) bool {
	switch name {
	case "Bool", "Int32", "Int64", "Uint32", "Uint64", "Uintptr", "Pointer", "Value":
		return true
	}
	return false
}

// checkFile returns the convention violations in one parsed file. The file
// must have been parsed with object resolution, so that a local variable
// named atomic is not taken for the package.
func checkFile(fset *token.FileSet, f *ast.File, isTest bool) []violation {
	var out []violation
	report := func(rule string, pos token.Pos, format string, args ...any) {
		out = append(out, violation{rule: rule, pos: fset.Position(pos), msg: fmt.Sprintf(format, args...)})
	}

	if !isTest {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				report("init", fn.Pos(), "func init() in a non-test file: construct state explicitly and pass it in")
			}
		}
	}

	atomicName := ""
	for _, spec := range f.Imports {
		if p, _ := strconv.Unquote(spec.Path.Value); p != "sync/atomic" {
			continue
		}
		switch {
		case spec.Name == nil:
			atomicName = "atomic"
		case spec.Name.Name == ".":
			report("sync/atomic", spec.Pos(), "dot-import of sync/atomic: import it by name and use its types")
		case spec.Name.Name != "_":
			atomicName = spec.Name.Name
		}
	}
	if atomicName == "" {
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok || id.Name != atomicName || id.Obj != nil { // Obj != nil: a local shadows the package
			return true
		}
		if !isAtomicType(sel.Sel.Name) {
			report("sync/atomic", sel.Pos(), "%s.%s: use the typed atomics (atomic.Int64, atomic.Pointer[T], …), not the function forms",
				atomicName, sel.Sel.Name)
		}
		return true
	})
	return out
}

func TestCheckFile(t *testing.T) {
	tests := []struct {
		name string
		src  string
		test bool
		want []string // "rule: message substring", in order
	}{
		{
			name: "typed atomics pass",
			src: `package p
import "sync/atomic"
type s struct {
	n atomic.Int64
	p atomic.Pointer[s]
	v atomic.Value
}
func f(x *s) int64 { x.n.Add(1); var b atomic.Bool; b.Store(true); return x.n.Load() }
var _ = new(atomic.Uint32)
`,
		},
		{
			name: "function forms are flagged",
			src: `package p
import "sync/atomic"
var n int64
var u uint32
func f() int64 {
	atomic.AddInt64(&n, 1)
	atomic.StoreInt32(nil, 1)
	atomic.CompareAndSwapUint32(&u, 0, 1)
	load := atomic.LoadInt64
	return load(&n)
}
`,
			want: []string{
				"sync/atomic: atomic.AddInt64",
				"sync/atomic: atomic.StoreInt32",
				"sync/atomic: atomic.CompareAndSwapUint32",
				"sync/atomic: atomic.LoadInt64",
			},
		},
		{
			name: "renamed import is followed",
			src: `package p
import at "sync/atomic"
var n int64
func f() { at.AddInt64(&n, 1); var x at.Int64; x.Add(1) }
`,
			want: []string{"sync/atomic: at.AddInt64"},
		},
		{
			name: "dot import is flagged",
			src: `package p
import . "sync/atomic"
var n Int64
`,
			want: []string{"sync/atomic: dot-import"},
		},
		{
			name: "a local named atomic is not the package",
			src: `package p
import "sync/atomic"
type counter struct{ AddInt64 func() }
var _ atomic.Int64
func f() { atomic := counter{}; atomic.AddInt64() }
`,
		},
		{
			name: "other packages named atomic are not checked",
			src: `package p
import "go.uber.org/atomic"
func f() { atomic.NewInt64(1) }
`,
		},
		{
			name: "init in a non-test file is flagged",
			src: `package p
func init() {}
`,
			want: []string{"init: func init()"},
		},
		{
			name: "init in a test file passes, atomics in it do not",
			src: `package p
import "sync/atomic"
var n int32
func init() { atomic.AddInt32(&n, 1) }
`,
			test: true,
			want: []string{"sync/atomic: atomic.AddInt32"},
		},
		{
			name: "an init method passes",
			src: `package p
type t struct{}
func (t) init() {}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "x.go", tt.src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range checkFile(fset, f, tt.test) {
				got = append(got, v.rule+": "+v.msg)
			}
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
