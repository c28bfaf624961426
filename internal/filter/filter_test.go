package filter

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// evalCases evaluates each expression on props and compares with want: T
// (TRUE, a match), F (FALSE), N (NULL) or X (Java throws; no match).
type evalCase struct {
	expr  string
	props map[string]string
	want  string
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		e, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		if got := evalCode(e, c.props); got != c.want {
			t.Errorf("%q with %v = %s, want %s", c.expr, c.props, got, c.want)
		}
		if got, want := e.Match(mapProps(c.props)), c.want == "T"; got != want {
			t.Errorf("%q with %v: Match = %v, want %v", c.expr, c.props, got, want)
		}
	}
}

type props = map[string]string

// TestOperators covers every operator on matching and non-matching
// messages.
func TestOperators(t *testing.T) {
	five := props{"a": "5"}
	runEvalCases(t, []evalCase{
		{"a = 5", five, "T"},
		{"a = 6", five, "F"},
		{"a <> 6", five, "T"},
		{"a <> 5", five, "F"},
		{"a > 4", five, "T"},
		{"a > 5", five, "F"},
		{"a >= 5", five, "T"},
		{"a >= 6", five, "F"},
		{"a < 6", five, "T"},
		{"a < 5", five, "F"},
		{"a <= 5", five, "T"},
		{"a <= 4", five, "F"},
		{"a = 'x'", props{"a": "x"}, "T"},
		{"a = 'x'", props{"a": "X"}, "F"},
		{"a <> 'x'", props{"a": "y"}, "T"},
		{"a BETWEEN 1 AND 5", five, "T"},
		{"a BETWEEN 5 AND 5", five, "T"},
		{"a BETWEEN 6 AND 9", five, "F"},
		{"a NOT BETWEEN 6 AND 9", five, "T"},
		{"a NOT BETWEEN 1 AND 5", five, "F"},
		{"a IN ('4', '5')", five, "T"},
		{"a IN ('4', '6')", five, "F"},
		{"a IN ('1', '2', '3', '4', '5', '6')", five, "T"},
		{"a IN ('1', '2', '3', '4', '6', '7')", five, "F"},
		{"a NOT IN ('4', '6')", five, "T"},
		{"a NOT IN ('4', '5')", five, "F"},
		{"a IS NULL", props{}, "T"},
		{"a IS NULL", five, "F"},
		{"a IS NOT NULL", five, "T"},
		{"a IS NOT NULL", props{}, "F"},
		{"a IS NOT NULL", props{"a": ""}, "T"},
		{"a CONTAINS 'x'", props{"a": "axb"}, "T"},
		{"a CONTAINS 'y'", props{"a": "axb"}, "F"},
		{"a NOT CONTAINS 'y'", props{"a": "axb"}, "T"},
		{"a NOT CONTAINS 'x'", props{"a": "axb"}, "F"},
		{"a STARTSWITH 'ax'", props{"a": "axb"}, "T"},
		{"a STARTSWITH 'xb'", props{"a": "axb"}, "F"},
		{"a NOT STARTSWITH 'xb'", props{"a": "axb"}, "T"},
		{"a ENDSWITH 'xb'", props{"a": "axb"}, "T"},
		{"a ENDSWITH 'ax'", props{"a": "axb"}, "F"},
		{"a NOT ENDSWITH 'ax'", props{"a": "axb"}, "T"},
		{"a CONTAINS 'X'", props{"a": "axb"}, "F"}, // case-sensitive
		{"a = 5 AND b = 6", props{"a": "5", "b": "6"}, "T"},
		{"a = 5 AND b = 6", props{"a": "5", "b": "7"}, "F"},
		{"a = 5 OR b = 6", props{"a": "4", "b": "6"}, "T"},
		{"a = 5 OR b = 6", props{"a": "4", "b": "7"}, "F"},
		{"NOT (a = 5)", five, "F"},
		{"NOT (a = 6)", five, "T"},
		{"TRUE", nil, "T"},
		{"FALSE", nil, "F"},
		{"a = -5", props{"a": "-5"}, "T"},
		{"a > -(-4)", five, "T"},
		{"a = +5", five, "T"},
		{"(a = 5)", five, "T"},
		{"TAGS = 'TagA'", props{"TAGS": "TagA"}, "T"},
		{"TAGS IN ('TagA', 'TagB') AND KEYS = 'k1'", props{"TAGS": "TagB", "KEYS": "k1"}, "T"},
		{"a = 'it''s'", props{"a": "it's"}, "T"},
		{"a = ''''", props{"a": "'"}, "T"},
		{"a = ''", props{"a": ""}, "T"},
		{"a > b", props{"a": "20", "b": "10"}, "T"},
		{"a > b", props{"a": "10", "b": "20"}, "F"},
		{"a = b", props{"a": "x", "b": "x"}, "T"},
		{"a > 3.1E10", props{"a": "31415000000"}, "T"},
	})
}

// TestPrecedence: NOT binds tighter than every comparison, comparisons
// tighter than AND, AND tighter than OR.
func TestPrecedence(t *testing.T) {
	runEvalCases(t, []evalCase{
		// a = 1 OR (b = 1 AND c = 1)
		{"a = 1 OR b = 1 AND c = 1", props{"a": "1", "b": "0", "c": "0"}, "T"},
		{"(a = 1 OR b = 1) AND c = 1", props{"a": "1", "b": "0", "c": "0"}, "F"},
		// (a = 1 AND b = 1) OR c = 1
		{"a = 1 AND b = 1 OR c = 1", props{"a": "0", "b": "0", "c": "1"}, "T"},
		{"a = 1 AND (b = 1 OR c = 1)", props{"a": "0", "b": "0", "c": "1"}, "F"},
		// NOT a = 'x' is (NOT a) = 'x': a Boolean next to a string throws.
		{"NOT a = 'x'", props{"a": "y"}, "X"},
		{"NOT a = 'x'", props{"a": "x"}, "X"},
		{"NOT (a = 'x')", props{"a": "y"}, "T"},
		// (NOT a) = 5: a Boolean next to an Integer is just unequal.
		{"NOT a = 5", props{"a": "5"}, "F"},
		// NOT applies to the next operand only.
		{"NOT a = 'x' OR b = 1", props{"a": "y", "b": "1"}, "X"},
		{"b = 1 OR NOT a = 'x'", props{"a": "y", "b": "1"}, "T"},
		{"a = 1 AND NOT (b = 1)", props{"a": "1", "b": "2"}, "T"},
		// A comparison inside "=": (a > 1) = TRUE.
		{"a > 1 = TRUE", props{"a": "2"}, "T"},
		{"a > 1 = FALSE", props{"a": "2"}, "F"},
		{"a IS NULL = TRUE", props{}, "T"},
	})
	for _, bad := range []string{
		"NOT a > 1",      // (NOT a) > 1: a condition cannot be ordered
		"NOT a IN ('x')", // (NOT a) IN: not a property
		"NOT a BETWEEN 1 AND 2",
	} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q) succeeded", bad)
		}
	}
}

// TestNullSemantics covers missing properties and the three-valued logic
// of AND, OR and NOT, as Java implements them.
func TestNullSemantics(t *testing.T) {
	none := props{}
	runEvalCases(t, []evalCase{
		// A missing property makes comparisons NULL...
		{"e = 5", none, "N"},
		{"e <> 5", none, "N"},
		{"e > 5", none, "N"},
		{"5 > e", none, "N"},
		{"e BETWEEN 1 AND 5", none, "N"},
		{"e NOT BETWEEN 1 AND 5", none, "N"},
		{"e IN ('x')", none, "N"},
		{"e NOT IN ('x')", none, "N"},
		// ...except on the right of "=", where it only makes them FALSE,
		// so their negation is TRUE.
		{"5 = e", none, "F"},
		{"'x' = e", none, "F"},
		{"5 <> e", none, "T"},
		{"NOT (5 = e)", none, "T"},
		{"NOT (e = 5)", none, "N"},
		// Two NULLs are equal.
		{"-e = -f", none, "T"},
		{"(e > 1) = (f > 1)", none, "T"},
		// String tests are FALSE, never NULL, the NOT forms included.
		{"e CONTAINS 'x'", none, "F"},
		{"e NOT CONTAINS 'x'", none, "F"},
		{"e NOT STARTSWITH 'x'", none, "F"},
		{"e NOT ENDSWITH 'x'", none, "F"},
		{"NOT (e CONTAINS 'x')", none, "T"},
		// IS [NOT] NULL are never NULL.
		{"e IS NULL", none, "T"},
		{"e IS NOT NULL", none, "F"},
		{"NULL IS NULL", none, "T"},
		{"(e = 1) IS NULL", none, "T"},
		// AND.
		{"e = 1 AND TRUE", none, "N"},
		{"TRUE AND e = 1", none, "N"},
		{"e = 1 AND FALSE", none, "F"},
		{"FALSE AND e = 1", none, "F"},
		{"e = 1 AND f = 1", none, "N"},
		{"NULL AND NULL", none, "N"},
		// OR.
		{"e = 1 OR TRUE", none, "T"},
		{"TRUE OR e = 1", none, "T"},
		{"e = 1 OR FALSE", none, "N"},
		{"FALSE OR e = 1", none, "N"},
		{"NULL OR NULL", none, "N"},
		// NOT.
		{"NOT (e = 1)", none, "N"},
		{"NOT NULL", none, "N"},
		{"NOT e", none, "N"},
		// A property as a condition is NULL when missing, FALSE otherwise:
		// it is a string, never a Boolean.
		{"e", none, "N"},
		{"a", props{"a": "true"}, "F"},
		{"NOT a", props{"a": "true"}, "T"},
		{"a OR TRUE", props{"a": "x"}, "T"},
		// The negation of a non-number is NULL.
		{"-a = 5", props{"a": "-5"}, "N"},
		{"-'x' = -'y'", none, "T"},
		// NULL as a constant.
		{"NULL", none, "N"},
		{"NULL OR TRUE", none, "T"},
		{"NULL AND FALSE", none, "F"},
		// A nil props is a message without properties.
		{"e IS NULL", nil, "T"},
	})
}

// TestNumericVersusString covers how a property, always a string, compares
// with constants of each Java type.
func TestNumericVersusString(t *testing.T) {
	runEvalCases(t, []evalCase{
		// With an Integer constant the property goes through
		// Integer.valueOf: "5.0", " 5" and "abc" throw.
		{"a = 5", props{"a": "5"}, "T"},
		{"a = 5", props{"a": "+5"}, "T"},
		{"a = 5", props{"a": "05"}, "T"},
		{"a = 5", props{"a": "٥"}, "T"}, // ARABIC-INDIC DIGIT FIVE
		{"a = 5", props{"a": "5.0"}, "X"},
		{"a = 5", props{"a": " 5"}, "X"},
		{"a = 5", props{"a": "abc"}, "X"},
		{"a = 5", props{"a": ""}, "X"},
		{"a <> 5", props{"a": "abc"}, "X"},
		{"a > 5", props{"a": "3000000000"}, "X"}, // no Integer
		// With a Long constant, Long.valueOf.
		{"a > 3000000000", props{"a": "3000000001"}, "T"},
		{"a = 3000000000", props{"a": "3000000000"}, "T"},
		{"a > 3000000000", props{"a": "9223372036854775808"}, "X"},
		{"a > -2147483648", props{"a": "3000000000"}, "T"}, // -(2147483648) is a Long
		// With a Double constant, Double.valueOf, which is lenient.
		{"a = 5.0", props{"a": "5"}, "T"},
		{"a = 5.0", props{"a": " 5 "}, "T"},
		{"a = 5.0", props{"a": "5e0"}, "T"},
		{"a = 5.0", props{"a": "5d"}, "T"},
		{"a = 5.0", props{"a": "0x1.4p2"}, "T"},
		{"a > 1.5", props{"a": "Infinity"}, "T"},
		{"a > 1.5", props{"a": "NaN"}, "T"}, // NaN is above everything
		{"a < 1.5", props{"a": "NaN"}, "F"},
		{"a = 5.0", props{"a": "٥"}, "X"}, // Double.valueOf wants ASCII
		{"a = 5.0", props{"a": "five"}, "X"},
		// Two properties: ordered through Double.valueOf, compared for
		// equality as strings.
		{"a > b", props{"a": "10", "b": "9.5"}, "T"},
		{"a > b", props{"a": "10", "b": "x"}, "X"},
		{"a = b", props{"a": "5", "b": "5.0"}, "F"},
		{"a < b", props{"a": "-0.0", "b": "0"}, "T"},
		// Strings never order, constants are rejected at compile time and
		// comparing properties with string constants is only equality.
		{"a = '5'", props{"a": "5.0"}, "F"},
		// With TRUE or FALSE, Boolean.valueOf: "true" in any case.
		{"a = TRUE", props{"a": "TRUE"}, "T"},
		{"a = TRUE", props{"a": "yes"}, "F"},
		{"a = FALSE", props{"a": "abc"}, "T"},
		{"a = FALSE", props{"a": "true"}, "F"},
		{"a <> TRUE", props{"a": "false"}, "T"},
		// A Boolean on the left of a string throws; of a number it is unequal.
		{"TRUE = a", props{"a": "true"}, "X"},
		{"(a = 1) = 'x'", props{"a": "1"}, "X"},
		{"1 = TRUE", nil, "F"},
		{"TRUE = TRUE", nil, "T"},
		// Mixed numeric constants widen.
		{"5 = 5.0", nil, "T"},
		{"3000000000 > 5", nil, "T"},
		{"3000000000 > 5.5", nil, "T"},
		{"1 BETWEEN 0.5 AND 1.5", nil, "T"},
		// A string constant on the left converts the same way.
		{"'5' = 5", nil, "T"},
		{"'x' = 5", nil, "X"},
	})
}

// TestExceptionEndsEvaluation: where Java throws, the whole selector fails,
// unless a short circuit skipped the throwing part.
func TestExceptionEndsEvaluation(t *testing.T) {
	p := props{"a": "abc", "b": "x"}
	runEvalCases(t, []evalCase{
		{"a > 5 OR b = 'x'", p, "X"},
		{"b = 'x' OR a > 5", p, "T"},
		{"a > 5 AND b = 'y'", p, "X"},
		{"b = 'y' AND a > 5", p, "F"},
		{"NOT (a > 5)", p, "X"},
		{"(a > 5) IS NULL", p, "X"},
		{"a CONTAINS ''", p, "F"},
		{"-(a > 5) IS NULL", p, "X"},
		// A NULL left side of an ordering skips its right side; "=" always
		// evaluates both.
		{"e > -(a > 5)", p, "N"},
		{"5 > -(a > 5)", p, "X"},
		{"e = -(a > 5)", p, "X"},
		// An empty search string skips the left side.
		{"-(a > 5) CONTAINS ''", p, "F"},
		{"-(a > 5) CONTAINS 'x'", p, "X"},
	})
}

// TestKeywordsIgnoreCase: keywords in any case; property names as written.
func TestKeywordsIgnoreCase(t *testing.T) {
	p := props{"a": "5", "c": "axb", "A": "6"}
	runEvalCases(t, []evalCase{
		{"a between 1 and 9", p, "T"},
		{"a Between 1 And 9", p, "T"},
		{"a NoT bEtWeEn 1 aNd 4", p, "T"},
		{"a in ('5') or FALSE", p, "T"},
		{"a is not null and e iS nUlL", p, "T"},
		{"c contains 'x' and c startsWith 'a' and c EndsWith 'b'", p, "T"},
		{"true and not false", p, "T"},
		{"A = 6", p, "T"},
		{"A = 5", p, "F"},
	})
	if got := mustCompile(t, "a between 1 and 9 and not c contains 'x'").String(); got != "(a BETWEEN 1 AND 9) AND ((NOT c) CONTAINS 'x')" {
		t.Errorf("String() = %q", got)
	}
}

// TestSyntax covers white space, comments, literals and the longest-match
// rule of the lexer.
func TestSyntax(t *testing.T) {
	p := props{"a": "5", "a_1": "1", "$b": "2", "_": "3"}
	runEvalCases(t, []evalCase{
		{"a=5", p, "T"},
		{"\ta\n=\r5\f", p, "T"},
		{"a = /* five */ 5", p, "T"},
		{"/**/a = 5/***/", p, "T"},
		{"-- leading comment\na = 5", p, "T"},
		{"a = 5 -- trailing comment\n", p, "T"},
		{"a = --5\n5", p, "T"}, // a comment
		{"a < --5", p, "F"},    // no line break: two minus signs
		{"a = 5L", p, "T"},     // Java's long suffix
		{"a = 5.", p, "T"},     // a Double: "5" goes through Double.valueOf
		{"a > .5e1", p, "F"},   // 5.0
		{"a >= 5E0", p, "T"},   // 5.0
		{"a_1 = 1 AND $b = 2 AND _ = 3", p, "T"},
	})
}

// TestTrailingTextIgnored: Java stops at the first token that cannot
// continue the expression.
func TestTrailingTextIgnored(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"a = 1 b = 2", "a = 1"},
		{"a = 007", "a = 0"},
		{"a = 1 )", "a = 1"},
		{"a = 1 'x'", "a = 1"},
		{"a = 1 x #", "a = 1"},
		{"a = 1 -- comment", "a = 1"},
	} {
		e, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("Compile(%q).String() = %q, want %q", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{
		"a = 1 #",     // the next token must lex
		"a = 1 'x",    // ...
		"a = 1 /*",    // ...
		"a = 1 NOT x", // NOT starts a continuation, which fails
		"a = 1 IS 2",
		"a = 1 AND",
		"a = 1 !=",
		// The longest string constant at the quote holds x and a quote;
		// the lone quote after it is the next token, and does not lex.
		"a = 'x'''' ",
	} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q) succeeded", bad)
		}
	}
}

func mustCompile(t testing.TB, expr string) *Expr {
	t.Helper()
	e, err := Compile(expr)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	return e
}

// TestCompileErrors checks that bad expressions fail with a message saying
// where and what was expected.
func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		expr string
		err  string
	}{
		{"", `filter: line 1, column 1: unexpected end of expression, expected a property name, a constant, "(", "-" or NOT`},
		{"a =", `filter: line 1, column 4: unexpected end of expression, expected a property name, a constant, "(", "-" or NOT`},
		{"a > 1 AND\n  b <", `filter: line 2, column 6: unexpected end of expression, expected a property name, a constant, "(", "-" or NOT`},
		{"a != 5", `filter: line 1, column 3: "!=" is not an operator here; write "<>"`},
		{"a = 'x", `filter: line 1, column 5: unterminated string constant: ' has no closing '`},
		{"a = /* x", `filter: line 1, column 5: unterminated comment: /* has no */`},
		{"a.b = 1", `filter: line 1, column 2: unexpected character '.': a property name holds only ASCII letters, digits, '_' and '$'`},
		{"a = 1\nAND b = é", `filter: line 2, column 9: unexpected character 'é'`},
		{"a IS 5", `filter: line 1, column 6: unexpected number 5, expected NULL or NOT NULL after IS`},
		{"a IS NOT 5", `filter: line 1, column 10: unexpected number 5, expected NULL after IS NOT`},
		{"a NOT x", `filter: line 1, column 7: unexpected property name x, expected CONTAINS, STARTSWITH, ENDSWITH, BETWEEN or IN after NOT`},
		{"a IN (5)", `filter: line 1, column 7: unexpected number 5, expected a string constant in the IN list`},
		{"a IN ('x' 'y')", `filter: line 1, column 11: unexpected string 'y', expected "," or ")" in the IN list`},
		{"a IN ()", `filter: line 1, column 7: unexpected ")", expected a string constant in the IN list`},
		{"a BETWEEN 1 5", `filter: line 1, column 13: unexpected number 5, expected AND between the bounds of BETWEEN`},
		{"a CONTAINS 5", `filter: line 1, column 12: unexpected number 5, expected a string constant after CONTAINS`},
		{"(a = 1", `filter: line 1, column 7: unexpected end of expression, expected an operator or ")"`},
		{"5", `filter: line 1, column 1: 5 is not a condition: a selector and the operands of AND, OR and NOT must be comparisons, TRUE, FALSE, NULL or property names`},
		{"a = 1 AND 'x'", `filter: line 1, column 11: 'x' is not a condition: a selector and the operands of AND, OR and NOT must be comparisons, TRUE, FALSE, NULL or property names`},
		{"NOT -a", `filter: line 1, column 5: -a is not a condition: a selector and the operands of AND, OR and NOT must be comparisons, TRUE, FALSE, NULL or property names`},
		{"a > 'x'", `filter: line 1, column 5: 'x' cannot be compared with >; only numbers can`},
		{"a <= TRUE", `filter: line 1, column 6: TRUE cannot be compared with <=; only numbers can`},
		{"(a > 1) > 2", `filter: line 1, column 2: (a > 1) cannot be compared with >; only numbers can`},
		{"a BETWEEN 'x' AND 'y'", `filter: line 1, column 11: 'x' cannot be compared with >=; only numbers can`},
		{"a = NULL", `filter: line 1, column 5: NULL cannot be compared with =; use IS NULL or IS NOT NULL`},
		{"NULL <> a", `filter: line 1, column 1: NULL cannot be compared with <>; use IS NULL or IS NOT NULL`},
		{"TRUE = 1", `filter: line 1, column 6: TRUE cannot be compared with 1`},
		{"5 IN ('x')", `filter: line 1, column 1: IN needs a property name on its left, not 5`},
		{"a BETWEEN 5 AND 1", `filter: line 1, column 3: the lower bound of BETWEEN, 5, is greater than the upper bound, 1`},
		{"a BETWEEN NULL AND 1", `filter: line 1, column 3: the bounds of BETWEEN cannot be NULL`},
		{"a > 9223372036854775808", `filter: line 1, column 5: integer 9223372036854775808 is out of range (at most 9223372036854775807)`},
		{"a > 1e400", `filter: line 1, column 5: number 1e400 is out of range (at most 1.7976931348623157e+308)`},
		{"a > 0.0", `filter: line 1, column 5: RocketMQ rejects the decimal 0.0: it is zero or rounds to zero; write 0`},
		{"a > 1e-400", `filter: line 1, column 5: RocketMQ rejects the decimal 1e-400: it is zero or rounds to zero; write 0`},
	} {
		_, err := Compile(c.expr)
		if err == nil {
			t.Errorf("Compile(%q) succeeded", c.expr)
			continue
		}
		if err.Error() != c.err {
			t.Errorf("Compile(%q):\n got %s\nwant %s", c.expr, err, c.err)
		}
		if _, ok := errors.AsType[*CompileError](err); !ok {
			t.Errorf("Compile(%q): %T is not a *CompileError", c.expr, err)
		}
	}
}

func TestCompileErrorPosition(t *testing.T) {
	_, err := Compile("a = 1 AND\r\n  b ! 2")
	ce, ok := errors.AsType[*CompileError](err)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	if ce.Offset != 15 || ce.Line != 2 || ce.Column != 5 {
		t.Errorf("got offset %d, line %d, column %d; want 15, 2, 5", ce.Offset, ce.Line, ce.Column)
	}
}

// TestString checks the normalized form and that it compiles back to
// itself.
func TestString(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"a=5", "a = 5"},
		{"a = 5 and b = 'x' or not c", "((a = 5) AND (b = 'x')) OR (NOT c)"},
		{"a = 5 AND (b = 6 AND c = 7)", "(a = 5) AND (b = 6) AND (c = 7)"},
		{"(a = 5 OR b = 6) OR c = 7", "(a = 5) OR (b = 6) OR (c = 7)"},
		{"a between -1 and 2.5", "a BETWEEN -1 AND 2.5"},
		{"a not between 1 and 2", "a NOT BETWEEN 1 AND 2"},
		{"a in ('x', 'it''s')", "a IN ('x', 'it''s')"},
		{"a not in ('x')", "a NOT IN ('x')"},
		{"a is null or b is not null", "(a IS NULL) OR (b IS NOT NULL)"},
		{"a not contains 'x' and b startswith 'y' and c not endswith 'z'", "(a NOT CONTAINS 'x') AND (b STARTSWITH 'y') AND (c NOT ENDSWITH 'z')"},
		{"a <> 5.0", "a <> 5.0"},
		{"a > 1e21", "a > 1e+21"},
		{"a > 5L", "a > 5"},
		{"a > 3000000000", "a > 3000000000"},
		{"a > - -5", "a > -(-5)"},
		{"a > +5", "a > 5"},
		{"NOT NOT a", "NOT (NOT a)"},
		{"NOT a = 'x'", "(NOT a) = 'x'"},
		{"a = TRUE", "a = TRUE"},
		{"null", "NULL"},
		{"a /* c */ = 5 -- c\n", "a = 5"},
		{"(((a)))", "a"},
	} {
		e := mustCompile(t, c.expr)
		if got := e.String(); got != c.want {
			t.Errorf("Compile(%q).String() = %q, want %q", c.expr, got, c.want)
		}
		if again := mustCompile(t, e.String()).String(); again != e.String() {
			t.Errorf("Compile(%q).String() = %q, compiles to %q", c.expr, e.String(), again)
		}
	}
}

func TestProperties(t *testing.T) {
	e := mustCompile(t, "b = 1 AND (a IN ('x') OR b > a) AND TAGS IS NOT NULL AND 5 = 5")
	if got, want := e.Properties(), []string{"b", "a", "TAGS"}; !slices.Equal(got, want) {
		t.Errorf("Properties() = %q, want %q", got, want)
	}
	e.Properties()[0] = "changed"
	if e.Properties()[0] != "b" {
		t.Error("Properties() returned the Expr's own slice")
	}
	if got := mustCompile(t, "TRUE").Properties(); len(got) != 0 {
		t.Errorf("Properties() = %q, want none", got)
	}
}

func TestDepthLimit(t *testing.T) {
	// n NOTs over a property read as a condition: n+2 levels.
	deep := func(n int) string { return strings.Repeat("NOT ", n) + "a" }
	if _, err := Compile(deep(MaxDepth - 2)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if _, err := Compile(deep(MaxDepth - 1)); err == nil {
		t.Errorf("depth %d compiled", MaxDepth+1)
	}
	// Parentheses add no depth, but they are bounded too.
	parens := func(n int) string { return strings.Repeat("(", n) + "a" + strings.Repeat(")", n) }
	if _, err := Compile(parens(maxNesting - 1)); err != nil {
		t.Errorf("%d parentheses: %v", maxNesting-1, err)
	}
	if _, err := Compile(parens(maxNesting + 1)); err == nil {
		t.Errorf("%d parentheses compiled", maxNesting+1)
	}
	// The deepest expression's String form compiles too.
	e := mustCompile(t, deep(MaxDepth-2))
	if _, err := Compile(e.String()); err != nil {
		t.Errorf("String() of depth %d: %v", MaxDepth, err)
	}
	chain := "a = 1" + strings.Repeat(" = TRUE", MaxDepth-2)
	e = mustCompile(t, chain)
	if _, err := Compile(e.String()); err != nil {
		t.Errorf("String() of a chain %d deep: %v", MaxDepth, err)
	}
	// Long AND and OR chains are flat.
	long := "a = 1" + strings.Repeat(" AND a = 1 OR b = 2", 10000)
	if _, err := Compile(long); err != nil {
		t.Errorf("long chain: %v", err)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	e := mustCompile(t, "TAGS IN ('a', 'b', 'c', 'd', 'e', 'TagA') AND price BETWEEN 10 AND 100.5 AND "+
		"region <> 'eu' AND name STARTSWITH 'x' AND (flag = TRUE OR e IS NULL) AND a > b")
	m := props{"TAGS": "TagA", "price": "50", "region": "us", "name": "xyz", "flag": "true", "a": "2.5", "b": "1e0"}
	p := mapProps(m)
	if !e.Match(p) {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { e.Match(p) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

func TestConcurrentMatch(t *testing.T) {
	e := mustCompile(t, "a > 5 AND TAGS IN ('x', 'y')")
	done := make(chan bool)
	for i := range 8 {
		go func() {
			ok := true
			for j := range 1000 {
				want := (i+j)%2 == 0
				v := "1"
				if want {
					v = "9"
				}
				if e.Match(mapProps(props{"a": v, "TAGS": "x"})) != want {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("wrong answer under concurrency")
		}
	}
}

func TestParseJavaInt(t *testing.T) {
	for _, c := range []struct {
		s    string
		bits int
		want int64
		ok   bool
	}{
		{"0", 32, 0, true}, {"-0", 32, 0, true}, {"+7", 32, 7, true},
		{"2147483647", 32, 2147483647, true}, {"2147483648", 32, 0, false},
		{"-2147483648", 32, -2147483648, true}, {"-2147483649", 32, 0, false},
		{"2147483648", 64, 2147483648, true},
		{"9223372036854775807", 64, 9223372036854775807, true},
		{"-9223372036854775808", 64, -9223372036854775808, true},
		{"9223372036854775808", 64, 0, false},
		{"", 32, 0, false}, {"-", 32, 0, false}, {"+", 32, 0, false}, {"1 ", 32, 0, false},
		{"١٢", 32, 12, true}, {"１２", 32, 12, true}, {"𝟏", 32, 0, false}, {"\xff", 32, 0, false},
	} {
		got, ok := parseJavaInt(c.s, c.bits)
		if got != c.want || ok != c.ok {
			t.Errorf("parseJavaInt(%q, %d) = %d, %v; want %d, %v", c.s, c.bits, got, ok, c.want, c.ok)
		}
	}
}

// TestLargeInputs compiles megabyte-sized expressions of shapes that could
// go quadratic; it would time out if they did.
func TestLargeInputs(t *testing.T) {
	const n = 1 << 20
	for name, expr := range map[string]string{
		"and chain":      strings.Repeat("a = 1 AND ", n/10) + "TRUE",
		"or of ands":     strings.Repeat("a = 1 AND b = 2 OR ", n/20) + "TRUE",
		"parenthesized":  strings.Repeat("(a = 1) AND ", n/12) + "TRUE",
		"minus signs":    "a = " + strings.Repeat("-", n),
		"dashes":         strings.Repeat("a = 1 OR --", n/11),
		"open comment":   "a = 1 OR /*" + strings.Repeat("x", n),
		"open string":    "a = '" + strings.Repeat("''", n/2),
		"long string":    "a = '" + strings.Repeat("x''", n/3) + "'",
		"long IN list":   "a IN (" + strings.Repeat("'x', ", n/5) + "'y')",
		"long name":      strings.Repeat("a", n) + " IS NULL",
		"long number":    "a > " + strings.Repeat("1", n) + ".5",
		"many parens":    strings.Repeat("(", n) + "a",
		"equality chain": "a = 1" + strings.Repeat(" = TRUE", n/7),
	} {
		e, err := Compile(expr)
		if err == nil {
			e.Match(mapProps(props{"a": "1", "b": "2"}))
			_ = e.String()
		}
		t.Logf("%s: %v", name, err != nil)
	}
}
