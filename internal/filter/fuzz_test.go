package filter

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// fuzzSeeds are the hand-picked conformance expressions and a few random
// ones of the kind the conformance file holds.
func fuzzSeeds() []string {
	seeds := append([]string(nil), handPickedExprs...)
	r := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		seeds = append(seeds, randomExpr(r))
	}
	return seeds
}

// FuzzCompile checks that Compile never panics or hangs, fails only with a
// *CompileError that points into the expression, and that what it accepts
// prints as a normalized form that compiles back to itself and evaluates
// like the original.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile(expr)
		if err != nil {
			ce, ok := errors.AsType[*CompileError](err)
			if !ok {
				t.Fatalf("Compile(%q): %T %v", expr, err, err)
			}
			if ce.Offset < 0 || ce.Offset > len(expr) || ce.Line < 1 || ce.Column < 1 || ce.Msg == "" {
				t.Fatalf("Compile(%q): bad error %+v", expr, ce)
			}
			return
		}
		s := e.String()
		e2, err := Compile(s)
		if err != nil {
			t.Fatalf("Compile(%q).String() = %q does not compile: %v", expr, s, err)
		}
		if s2 := e2.String(); s2 != s {
			t.Fatalf("Compile(%q).String() = %q, compiles to %q", expr, s, s2)
		}
		if !slices.Equal(e.Properties(), e2.Properties()) {
			t.Fatalf("%q: properties %q, of its String() %q", expr, e.Properties(), e2.Properties())
		}
		for _, ps := range javaPropSets {
			if v1, v2 := evalCode(e, ps), evalCode(e2, ps); v1 != v2 {
				t.Fatalf("%q with %v = %s, its String() %q = %s", expr, ps, v1, s, v2)
			}
		}
	})
}

// FuzzMatch checks that evaluation never panics on any expression and any
// property values, that Match agrees with the evaluation, and that the
// normalized form evaluates the same.
func FuzzMatch(f *testing.F) {
	values := []string{"5", "abc", "", "5.0", "true", "NaN", "-0.0", "3000000000", "٥", " 7 ", "0x1p3", "x'y"}
	for i, s := range fuzzSeeds() {
		f.Add(s, values[i%len(values)], values[(i/len(values))%len(values)])
	}
	f.Fuzz(func(t *testing.T, expr, a, b string) {
		e, err := Compile(expr)
		if err != nil {
			return
		}
		ps := map[string]string{"a": a, "b": b, "c": a + b, "TAGS": b}
		code := evalCode(e, ps)
		if code == "?" {
			t.Fatalf("%q with %v: not a boolean", expr, ps)
		}
		if got := e.Match(mapProps(ps)); got != (code == "T") {
			t.Fatalf("%q with %v: Match = %v, evaluates to %s", expr, ps, got, code)
		}
		e2, err := Compile(e.String())
		if err != nil {
			t.Fatalf("Compile(%q).String() = %q does not compile: %v", expr, e.String(), err)
		}
		if code2 := evalCode(e2, ps); code2 != code {
			t.Fatalf("%q with %v = %s, its String() %q = %s", expr, ps, code, e.String(), code2)
		}
	})
}
