package filter

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The conformance cases in testdata/java_cases.txt and java_values.txt were
// run through Apache RocketMQ's own filter module (SelectorParser and the
// expression classes, filter/src/main/java in apache/rocketmq, 5.3.3+ at
// commit 8fc57f1) by testdata/java/Harness.java. To run them against Java
// again, with a checkout of apache/rocketmq in $RMQ:
//
//	mkdir -p /tmp/jf && javac -nowarn -d /tmp/jf \
//		$(find testdata/java $RMQ/filter/src/main/java -name '*.java' \
//			-not -path '*/util/*' -not -name 'Filter*.java' -not -name SqlFilter.java)
//	go test -run TestJava -java=/tmp/jf                  # compare the files with Java
//	go test -run TestJava -java=/tmp/jf -random=100000   # and many random cases
//	go test -run TestJava -java=/tmp/jf -corpus=$(go env GOCACHE)/fuzz/github.com/quiver-mq/quiver/internal/filter/FuzzCompile
//	go test -run TestJava -java=/tmp/jf -update          # rewrite the files
//
// testdata/java holds a stub of the one Guava class the parser imports.
var (
	javaClasspath = flag.String("java", "", "classpath of the compiled Java harness; empty skips the live comparison")
	javaRandom    = flag.Int("random", 0, "with -java: also compare this many random expressions")
	javaUpdate    = flag.Bool("update", false, "with -java: rewrite testdata/java_cases.txt")
	javaCorpus    = flag.String("corpus", "", "with -java: also compare the string inputs of this fuzz corpus directory")
)

// javaPropSets are the messages every conformance case is evaluated on.
var javaPropSets = []map[string]string{
	{},
	{"a": "5", "b": "5", "c": "x", "TAGS": "TagA"},
	{"a": "5.0", "b": "-5", "c": "", "d": "true"},
	{"a": "abc", "b": "TRUE", "c": "axb", "d": "2147483648"},
	{"a": "3000000000", "b": "NaN", "c": "-Infinity", "d": " 7 "},
	{"a": "+7", "b": "0x1p3", "c": "1e3", "d": "10L"},
	{"a": "١٢", "b": "7d", "c": "-0.0", "d": "0"},
	{"a": "x'y", "b": "false", "c": "9223372036854775807", "d": "9223372036854775808"},
	{"a": "-2147483648", "b": "2147483647", "c": "1.5", "d": "tag"},
	{"a": "", "b": "", "c": "5", "d": "-1"},
}

// javaResult evaluates e on each prop set: T, F, N (NULL) or X (Java
// throws), as the harness prints them.
func javaResult(e *Expr) string {
	var b strings.Builder
	b.WriteString("OK")
	for _, ps := range javaPropSets {
		b.WriteByte(' ')
		b.WriteString(evalCode(e, ps))
	}
	return b.String()
}

func evalCode(e *Expr, props map[string]string) string {
	v, ok := e.root.eval(mapProps(props))
	switch {
	case !ok:
		return "X"
	case v.k == kNull:
		return "N"
	case v.k == kBool && v.b:
		return "T"
	case v.k == kBool:
		return "F"
	}
	return "?"
}

func mapProps(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// tooDeep reports whether Compile rejects expr for exceeding MaxDepth,
// where Java has no limit but its stack.
func tooDeep(expr string) bool {
	_, err := Compile(expr)
	return err != nil && strings.Contains(err.Error(), " deep")
}

func goResult(expr string) string {
	e, err := Compile(expr)
	if err != nil {
		return "ERR"
	}
	return javaResult(e)
}

const javaCasesFile = "testdata/java_cases.txt"

func readJavaCases(t *testing.T) (exprs, want []string) {
	t.Helper()
	f, err := os.Open(javaCasesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		q, res, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		expr, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		exprs = append(exprs, expr)
		want = append(want, res)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return exprs, want
}

// TestJavaConformance checks that Compile accepts what RocketMQ's Java
// parser accepts and that evaluation gives what Java's gives.
func TestJavaConformance(t *testing.T) {
	var exprs []string
	if *javaClasspath != "" && *javaUpdate {
		exprs = javaCaseExprs()
	} else {
		var want []string
		exprs, want = readJavaCases(t)
		if len(exprs) < 1000 {
			t.Fatalf("only %d cases", len(exprs))
		}
		for i, expr := range exprs {
			if got := goResult(expr); got != want[i] {
				t.Errorf("%q: got %s, Java %s", expr, got, want[i])
			}
		}
		if *javaClasspath == "" {
			return
		}
	}
	if *javaRandom > 0 {
		r := rand.New(rand.NewPCG(uint64(*javaRandom), 2))
		for range *javaRandom {
			exprs = append(exprs, randomExpr(r))
		}
	}
	if *javaCorpus != "" {
		exprs = append(exprs, readCorpus(t, *javaCorpus)...)
	}
	java := runJava(t, exprs, javaPropSets)
	bad := 0
	for i, expr := range exprs {
		if got := goResult(expr); got != java[i] && !tooDeep(expr) {
			if bad++; bad <= 50 {
				t.Errorf("%q: got %s, Java %s", expr, got, java[i])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d differ from Java", bad, len(exprs))
	}
	if *javaUpdate {
		var b strings.Builder
		b.WriteString("# Generated by go test -run TestJava -java=CLASSPATH -update: an expression, then\n")
		b.WriteString("# ERR, or OK and its value on each of javaPropSets (T, F, N = NULL, X = exception),\n")
		b.WriteString("# all as Apache RocketMQ's filter module computed them.\n")
		for i, expr := range exprs[:len(javaCaseExprs())] {
			fmt.Fprintf(&b, "%q\t%s\n", expr, java[i])
		}
		if err := os.WriteFile(javaCasesFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runJava evaluates exprs with the Java harness.
func runJava(t *testing.T, exprs []string, propSets []map[string]string) []string {
	t.Helper()
	var in strings.Builder
	for _, expr := range exprs {
		in.WriteString(hex.EncodeToString([]byte(expr)))
		for _, ps := range propSets {
			in.WriteByte('\t')
			first := true
			for k, v := range ps {
				if !first {
					in.WriteByte(',')
				}
				first = false
				in.WriteString(hex.EncodeToString([]byte(k)) + "=" + hex.EncodeToString([]byte(v)))
			}
		}
		in.WriteByte('\n')
	}
	cp, err := filepath.Abs(*javaClasspath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("java", "-Xss16m", "-cp", cp, "Harness")
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(exprs) {
		t.Fatalf("java answered %d lines for %d expressions", len(lines), len(exprs))
	}
	return lines
}

// javaCaseExprs are the expressions of testdata/java_cases.txt: hand-picked
// edges, then random ones from a fixed seed.
func javaCaseExprs() []string {
	exprs := append([]string(nil), handPickedExprs...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2500 {
		exprs = append(exprs, randomExpr(r))
	}
	return exprs
}

var handPickedExprs = []string{
	// Operators.
	"a = 5", "a = '5'", "a <> 5", "a <> '5'", "a > 5", "a >= 5", "a < 5", "a <= 5",
	"a > 5.0", "a > 3000000000", "a > -5", "a > b", "a = b", "a <> b",
	"a BETWEEN 1 AND 10", "a NOT BETWEEN 1 AND 10", "a BETWEEN 10 AND 1", "a NOT BETWEEN 10 AND 1",
	"a BETWEEN 1 AND 1", "a BETWEEN 1.5 AND 1", "a BETWEEN 1 AND 1.5", "a BETWEEN -10 AND -20",
	"a BETWEEN 'x' AND 'y'", "a BETWEEN NULL AND 1", "a NOT BETWEEN NULL AND 1", "a BETWEEN TRUE AND FALSE",
	"a IN ('5', 'abc')", "a NOT IN ('5', 'abc')", "a IN ('1','2','3','4','5','6','7')",
	"a IN ()", "a IN (5)", "5 IN ('5')", "(a) IN ('5')", "+a IN ('5')", "-a IN ('5')",
	"a IS NULL", "a IS NOT NULL", "e IS NULL", "e IS NOT NULL", "a IS NOT", "a IS 5",
	"c CONTAINS 'x'", "c NOT CONTAINS 'x'", "c STARTSWITH 'a'", "c NOT STARTSWITH 'a'",
	"c ENDSWITH 'b'", "c NOT ENDSWITH 'b'", "c CONTAINS ''", "c NOT CONTAINS ''", "e NOT CONTAINS 'x'",
	"c CONTAINS x", "c CONTAINS 5", "5 CONTAINS '5'", "'axb' CONTAINS 'x'",
	"a = 5 AND b = 5", "a = 5 OR b = 5", "NOT a = 5", "NOT (a = 5)", "NOT a", "NOT NOT a",
	"a", "TRUE", "FALSE", "NULL", "5", "'x'", "-a", "-5 = -5", "-a = -b", "NOT 5", "NOT 'x'",
	// NULL logic.
	"e = 5", "5 = e", "NOT (e = 5)", "NOT (5 = e)", "e <> 5", "5 <> e", "'x' <> e",
	"e = 5 OR TRUE", "e = 5 AND FALSE", "e = 5 OR FALSE", "e = 5 AND TRUE", "NULL OR TRUE", "NULL AND FALSE",
	"NULL IS NULL", "NULL IS NOT NULL", "NULL = NULL", "a = NULL", "NULL = a", "NOT NULL",
	"(e > 1) = (e > 2)", "-e = -e",
	// Booleans.
	"a = TRUE", "b = TRUE", "b = FALSE", "d = TRUE", "TRUE = b", "TRUE = TRUE", "TRUE = FALSE",
	"TRUE = 1", "1 = TRUE", "TRUE = 'x'", "'x' = TRUE", "(a = 5) = TRUE", "(a = 5) = 'true'",
	"TRUE > 1", "a > TRUE", "(a > 1) > 2", "a = 5 = TRUE",
	// Numbers and strings.
	"a = 5.0", "a > 0", "a > 0.0", "a > 0.", "a > .0", "a > 0e5", "a > 1e-400", "a > 1e400",
	"a > 1e308", "a > 4.9e-324", "a > 2147483647", "a > 2147483648", "a > -2147483648",
	"a > 9223372036854775807", "a > 9223372036854775808", "a > -9223372036854775808",
	"a > 5L", "a > 5l", "a > 0L", "a > 007", "a > 007.5", "a > 5e", "a > 5.5e3", "a > .5",
	"a > 5.E3", "a > 1..2", "a > 1.2.3", "a = 'x''y'", "a = ''''", "a = 'x'''''", "a = 'x''''",
	"a = 'x''", "a = 'x", "a = 'a'''' ", "a = ''", "a = ' '",
	// Case, spacing, comments.
	"a between 1 and 10", "A = 5", "a Is Not Null", "c contains 'x' AnD a iN ('5')",
	"a=5", "a\t=\n5", "a = 5 -- comment\n", "a = 5 -- comment", "a = --5\n5", "a > --5",
	"a = /* c */ 5", "a = /* c 5", "a = /**/5", "a = 5 /*", "/* x */ a = 5",
	"a\f=\r5", "a\u00a0= 5", "a\v= 5",
	// Trailing text.
	"a = 5 b", "a = 5 5", "a = 5 )", "a = 5 (", "a = 5 NOT", "a = 5 NOT x", "a = 5 IS",
	"a = 5 #", "a = 5 'x", "a = 5 'x'", "a = 5 x #", "a = 5 != 3", "a != 5",
	"a = 5 AND", "a = 5 OR", "(a = 5", "a = 5)", "", " ", "()", "(a)",
	// Identifiers.
	"a_b = 5", "$a = 5", "_ = 5", "a1 = 5", "1a = 5", "a.b = 5", "a-b = 5", "TAGS = 'TagA'",
	"TAGS IN ('TagA', 'TagB')", "tags = 'TagA'", "NOTa = 5", "INa = 5", "é = 5",
	// Unary.
	"+5 = 5", "a = +5", "a = -(-5)", "a = - -5", "a = -'x'", "a = -TRUE", "a > -a", "-(a = 5)",
	"+(a = 5)", "+", "-", "a = +", "NOT", "a = 5 AND NOT b = 5", "a = 5 AND NOT (b = 5)",
	// Precedence.
	"a = 5 OR b = 5 AND c = 'x'", "(a = 5 OR b = 5) AND c = 'x'", "NOT a = 5 OR b = 5",
	"a = 5 AND b = 5 OR c = 'x'", "a = 5 AND (b = 5 OR c = 'x')",
}

// randomExpr writes a random expression, usually well formed, sometimes
// mutated into a malformed one.
func randomExpr(r *rand.Rand) string {
	var b strings.Builder
	g := exprGen{r: r, b: &b}
	g.expr(0)
	s := b.String()
	switch r.IntN(8) {
	case 0:
		// Mutate a few bytes.
		bs := []byte(s)
		const alphabet = "'()=<>!-+.,eL059aAnNot /*\n\t#"
		for range 1 + r.IntN(3) {
			i := r.IntN(len(bs) + 1)
			switch r.IntN(3) {
			case 0:
				bs = append(bs[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, bs[i:]...)...)
			case 1:
				if i < len(bs) {
					bs = append(bs[:i], bs[i+1:]...)
				}
			default:
				if i < len(bs) {
					bs[i] = alphabet[r.IntN(len(alphabet))]
				}
			}
		}
		s = string(bs)
	case 1:
		// A soup of tokens and near-tokens.
		soup := []string{"a", "b", "e", "TAGS", "NOT", "not", "AND", "OR", "IN", "IS", "NULL", "TRUE",
			"BETWEEN", "CONTAINS", "STARTSWITH", "ENDSWITH", "5", "0", "007", "5L", "1.5", ".5", "5.",
			"1e3", "1e", "0.0", "2147483648", "'x'", "''", "'''", "'x''", "'", "(", ")", ",", "=",
			"<>", "<", ">", ">=", "<=", "!=", "+", "-", "--", "/*", "*/", "#", ".", "\n", " ", " ", " "}
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteString(soup[r.IntN(len(soup))])
			if r.IntN(3) > 0 {
				b.WriteByte(' ')
			}
		}
		s = b.String()
	case 2:
		// Trailing text.
		tails := []string{" x", " 5", " )", " NOT", " NOT x", " IS", " #", " 'x", " --", " -- c\n", " /*", " AND", " OR 1"}
		s += tails[r.IntN(len(tails))]
	}
	return s
}

type exprGen struct {
	r *rand.Rand
	b *strings.Builder
}

func (g exprGen) pick(opts ...string) string { return opts[g.r.IntN(len(opts))] }

func (g exprGen) w(s string) { g.b.WriteString(s) }

// kw writes a keyword in a random case.
func (g exprGen) kw(s string) {
	switch g.r.IntN(4) {
	case 0:
		s = strings.ToLower(s)
	case 1:
		s = strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
	}
	g.w(s)
}

func (g exprGen) sp() {
	g.w(g.pick(" ", " ", " ", "  ", "\t", "\n", " /* c */ ", "-- c\n"))
}

func (g exprGen) expr(depth int) {
	if depth > 3 {
		g.cond(depth)
		return
	}
	switch g.r.IntN(6) {
	case 0:
		g.expr(depth + 1)
		g.sp()
		g.kw(g.pick("AND", "OR"))
		g.sp()
		g.expr(depth + 1)
	case 1:
		g.kw("NOT")
		g.sp()
		if g.r.IntN(3) > 0 {
			g.w("(")
			g.expr(depth + 1)
			g.w(")")
		} else {
			g.operand(depth + 1)
		}
	case 2:
		g.w("(")
		g.expr(depth + 1)
		g.w(")")
	default:
		g.cond(depth)
	}
}

func (g exprGen) cond(depth int) {
	switch g.r.IntN(10) {
	case 0, 1, 2:
		g.operand(depth)
		g.sp()
		g.w(g.pick("=", "<>", ">", ">=", "<", "<="))
		g.sp()
		g.operand(depth)
	case 3:
		g.operand(depth)
		g.sp()
		if g.r.IntN(2) == 0 {
			g.kw("NOT")
			g.sp()
		}
		g.kw("BETWEEN")
		g.sp()
		g.operand(depth)
		g.sp()
		g.kw("AND")
		g.sp()
		g.operand(depth)
	case 4:
		g.operand(depth)
		g.sp()
		if g.r.IntN(2) == 0 {
			g.kw("NOT")
			g.sp()
		}
		g.kw("IN")
		g.w(" (")
		for i := range 1 + g.r.IntN(6) {
			if i > 0 {
				g.w(", ")
			}
			g.w(g.str())
		}
		g.w(")")
	case 5:
		g.operand(depth)
		g.sp()
		g.kw("IS")
		g.sp()
		if g.r.IntN(2) == 0 {
			g.kw("NOT")
			g.sp()
		}
		g.kw("NULL")
	case 6:
		g.operand(depth)
		g.sp()
		if g.r.IntN(2) == 0 {
			g.kw("NOT")
			g.sp()
		}
		g.kw(g.pick("CONTAINS", "STARTSWITH", "ENDSWITH"))
		g.sp()
		g.w(g.str())
	case 7:
		g.operand(depth)
	default:
		g.operand(depth)
		g.sp()
		g.w(g.pick("=", "<>"))
		g.sp()
		g.kw(g.pick("TRUE", "FALSE"))
	}
}

func (g exprGen) operand(depth int) {
	switch g.r.IntN(12) {
	case 0, 1, 2, 3:
		g.w(g.pick("a", "b", "c", "d", "e", "TAGS"))
	case 4:
		g.w(g.pick("0", "1", "5", "7", "12", "2147483647", "2147483648", "3000000000", "9223372036854775807", "10L"))
	case 5:
		g.w(g.pick("5.0", "1.5", "0.5", ".5", "5.", "1e3", "7E0", "3.1E10", "1e-3", "1e308", "0.0"))
	case 6:
		g.w(g.str())
	case 7:
		g.kw(g.pick("TRUE", "FALSE", "NULL"))
	case 8:
		g.w(g.pick("-", "+"))
		g.operand(depth + 1)
	case 9:
		if depth < 4 {
			g.w("(")
			g.expr(depth + 1)
			g.w(")")
			return
		}
		g.w("a")
	default:
		g.w(g.pick("a", "b", "c", "d"))
	}
}

func (g exprGen) str() string {
	return g.pick("'5'", "'x'", "'abc'", "''", "'x''y'", "'TagA'", "'true'", "'a'", "'1.5'", "' '", "'٣'")
}

// valueExprs compare the property a, a string, with constants of every Java
// type and with the property b = "1"; testdata/java_values.txt holds what
// Java gives for many values of a.
var valueExprs = []string{
	"a = 5", "a = 12", "a > 5", "a = -5", "a = 3000000000", "a > 3000000000", "a = -2147483648",
	"a = 5.0", "a > 1.5", "a < 1.5", "a = TRUE", "a = FALSE", "a > b", "a < b", "a = b",
	"a CONTAINS '5'", "a IN ('5', '')", "a IS NULL",
}

const javaValuesFile = "testdata/java_values.txt"

func valueCodes(v string) string {
	var b strings.Builder
	for i, expr := range valueExprs {
		e, err := Compile(expr)
		if err != nil {
			panic(err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(evalCode(e, map[string]string{"a": v, "b": "1"}))
	}
	return b.String()
}

// TestJavaValueConversions checks Integer.valueOf, Long.valueOf,
// Double.valueOf and Boolean.valueOf as the comparisons use them.
func TestJavaValueConversions(t *testing.T) {
	var values []string
	if *javaClasspath != "" && *javaUpdate {
		values = javaCaseValues()
	} else {
		f, err := os.ReadFile(javaValuesFile)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, line := range strings.Split(strings.TrimSuffix(string(f), "\n"), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			q, res, ok := strings.Cut(line, "\t")
			v, err := strconv.Unquote(q)
			if !ok || err != nil {
				t.Fatalf("bad line %q", line)
			}
			values = append(values, v)
			want = append(want, res)
		}
		if len(values) < 500 {
			t.Fatalf("only %d values", len(values))
		}
		for i, v := range values {
			if got := valueCodes(v); got != want[i] {
				t.Errorf("a = %q: got %s, Java %s (for %q)", v, got, want[i], valueExprs)
			}
		}
		if *javaClasspath == "" {
			return
		}
	}
	if *javaRandom > 0 {
		r := rand.New(rand.NewPCG(uint64(*javaRandom), 3))
		for range *javaRandom {
			values = append(values, randomValue(r))
		}
	}
	sets := make([]map[string]string, len(values))
	for i, v := range values {
		sets[i] = map[string]string{"a": v, "b": "1"}
	}
	java := runJava(t, valueExprs, sets)
	// java[i] is "OK" and one code per value; transpose.
	perExpr := make([][]string, len(valueExprs))
	for i, line := range java {
		perExpr[i] = strings.Fields(line)[1:]
	}
	var out strings.Builder
	out.WriteString("# Generated by go test -run TestJava -java=CLASSPATH -update: a value of the\n")
	out.WriteString("# property a, then what each of valueExprs gives with it (and b = \"1\"), as Apache\n")
	out.WriteString("# RocketMQ's filter module computed it: T, F, N = NULL, X = exception.\n")
	bad := 0
	for j, v := range values {
		codes := make([]string, len(valueExprs))
		for i := range valueExprs {
			codes[i] = perExpr[i][j]
		}
		want := strings.Join(codes, " ")
		if got := valueCodes(v); got != want {
			if bad++; bad <= 50 {
				t.Errorf("a = %q: got %s, Java %s", v, got, want)
			}
		}
		if j < len(javaCaseValues()) {
			fmt.Fprintf(&out, "%q\t%s\n", v, want)
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d values differ from Java", bad, len(values))
	}
	if *javaUpdate {
		if err := os.WriteFile(javaValuesFile, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// javaCaseValues are the values of testdata/java_values.txt.
func javaCaseValues() []string {
	values := []string{
		"", "5", "05", "+5", "-5", "--5", "+-5", " 5", "5 ", "5\t", "\t5", "5.0", "5.", ".5", "5e0",
		"5E0", "5e", "5e+0", "5e-0", "5d", "5D", "5f", "5F", "5L", "5l", "5dd", "5.0.0", "1_0", "0x5",
		"0x5p0", "0X5P0", "0x.8p1", "0x1.p1", "0xp1", "0x1", "-0x1p1", "0x1p1d", "NaN", "+NaN", "-NaN",
		"nan", "NaNd", "Infinity", "-Infinity", "+Infinity", "infinity", "Inf", "12", "١٢", "٥", "۵",
		"५", "５", "５.０", "𝟓", "5\u00a0", "\u00a05", "\u20005", "\x005", "5\x00", "\x1f5\x1f",
		"2147483647", "2147483648", "-2147483648", "-2147483649", "3000000000", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "1e308", "1e309",
		"-1e309", "1e-400", "4.9e-324", "0", "-0", "0.0", "-0.0", "1.5", "1.50", "1.4999999999999999999",
		"true", "TRUE", "True", "tRuE", "true ", " true", "false", "yes", "1", "t", "x", "abc", "5abc",
		"١", "1", "00001", "+", "-", ".", "e5", "0e0", "9999999999999999999999", "4.999999999999999999",
		"5.000000000000000001", "123456789012345678901234567890", "0.1e1", "50e-1", "0.5e1",
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1500 {
		values = append(values, randomValue(r))
	}
	return values
}

// randomValue makes a string that is often close to a number.
func randomValue(r *rand.Rand) string {
	parts := []string{"0", "1", "5", "9", "12", "+", "-", ".", "e", "E", "x", "p", "L", "d", "f",
		"NaN", "Infinity", " ", "\t", "١", "٥", "a", "true", "00", "2147483648", "9223372036854775808"}
	var b strings.Builder
	for range 1 + r.IntN(5) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// readCorpus returns the first string argument of each entry of a fuzz
// corpus directory, such as $(go env GOCACHE)/fuzz/<package>/FuzzCompile.
func readCorpus(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, ent := range entries {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "string("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil && utf8.ValidString(s) {
					exprs = append(exprs, s)
				}
				break
			}
		}
	}
	return exprs
}
