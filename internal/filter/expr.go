package filter

import (
	"slices"
	"strconv"
	"strings"
)

// Expr is a compiled selector. It is immutable: any number of goroutines
// may call its methods at once.
type Expr struct {
	root  *node
	text  string   // String()
	props []string // Properties()
}

// Match reports whether a message with the given properties passes the
// selector: whether the expression evaluates to TRUE, as Java's
// ExpressionMessageFilter requires. FALSE, NULL (unknown) and an evaluation
// Java would abort with an exception all fail to match.
//
// props looks up a message property by name and reports whether the message
// has it. Pass every property of the message as stored, system ones
// included: RocketMQ filters on the tag through the property "TAGS", and
// on the keys through "KEYS". A nil props means a message with no
// properties. Match may call props more than once for one name, and never
// keeps it.
func (e *Expr) Match(props func(name string) (string, bool)) bool {
	v, ok := e.root.eval(props)
	return ok && v.k == kBool && v.b
}

// String returns the expression in a normalized form that Compile accepts
// and that compiles to an equivalent expression: keywords in upper case,
// single spaces, parentheses around every operand that is not a constant or
// a property, and none of the comments or ignored trailing text of the
// original.
func (e *Expr) String() string { return e.text }

// Properties returns the names of the properties the expression reads, each
// once, in the order they first appear.
func (e *Expr) Properties() []string { return slices.Clone(e.props) }

// op is what a node computes.
type op uint8

const (
	opConst         op = iota // val
	opProp                    // the property str
	opBoolCast                // kids[0], a property, read as a boolean
	opNeg                     // -kids[0]
	opNot                     // NOT kids[0]
	opAnd                     // kids[0] AND kids[1] AND ...
	opOr                      // kids[0] OR kids[1] OR ...
	opEq                      // kids[0] = kids[1]
	opNe                      // kids[0] <> kids[1], that is NOT (kids[0] = kids[1])
	opIsNull                  // kids[0] IS NULL
	opIsNotNull               // kids[0] IS NOT NULL
	opGt                      // kids[0] > kids[1]
	opGe                      // kids[0] >= kids[1]
	opLt                      // kids[0] < kids[1]
	opLe                      // kids[0] <= kids[1]
	opBetween                 // kids[0] BETWEEN kids[1] AND kids[2]
	opNotBetween              // kids[0] NOT BETWEEN kids[1] AND kids[2]
	opIn                      // kids[0] IN list
	opNotIn                   // kids[0] NOT IN list
	opContains                // kids[0] CONTAINS str
	opNotContains             // kids[0] NOT CONTAINS str
	opStartsWith              // kids[0] STARTSWITH str
	opNotStartsWith           // kids[0] NOT STARTSWITH str
	opEndsWith                // kids[0] ENDSWITH str
	opNotEndsWith             // kids[0] NOT ENDSWITH str
)

var opSymbols = [...]string{
	opAnd: "AND", opOr: "OR", opEq: "=", opNe: "<>", opGt: ">", opGe: ">=",
	opLt: "<", opLe: "<=", opBetween: "BETWEEN", opNotBetween: "NOT BETWEEN",
	opIn: "IN", opNotIn: "NOT IN", opContains: "CONTAINS",
	opNotContains: "NOT CONTAINS", opStartsWith: "STARTSWITH",
	opNotStartsWith: "NOT STARTSWITH", opEndsWith: "ENDSWITH",
	opNotEndsWith: "NOT ENDSWITH",
}

// node is one operation of the expression tree.
type node struct {
	op    op
	depth int32 // 1 for a leaf
	pos   int   // byte offset of the node's text, for compile errors
	kids  []*node
	val   value               // opConst
	str   string              // opProp: the name; CONTAINS and friends: the operand
	list  []string            // opIn, opNotIn
	set   map[string]struct{} // list as a set, when it is long
}

// isBoolean reports whether Java types n as a BooleanExpression: the
// constants TRUE, FALSE and NULL, and every comparison and logical
// operation.
func (n *node) isBoolean() bool {
	switch n.op {
	case opConst:
		return n.val.k == kBool || n.val.k == kNull
	case opProp, opNeg:
		return false
	}
	return true
}

// kind is the Java type of a value.
type kind uint8

const (
	kNull   kind = iota // null: a missing property, NULL, or unknown
	kBool               // Boolean
	kInt                // Integer: an integer constant that fits in 32 bits
	kLong               // Long: a bigger integer constant
	kDouble             // Double: a constant with a point or exponent
	kString             // String: a property value or a string constant
)

// value is what Java's Expression.evaluate returns.
type value struct {
	k kind
	b bool    // kBool
	n int64   // kInt, kLong
	f float64 // kDouble
	s string  // kString
}

func (v value) isNumber() bool { return v.k == kInt || v.k == kLong || v.k == kDouble }

var (
	vNull  = value{}
	vTrue  = value{k: kBool, b: true}
	vFalse = value{k: kBool}
)

func boolValue(b bool) value { return value{k: kBool, b: b} }

// eval evaluates n as Java does, in the same order. ok is false where Java
// throws (a string that does not parse as the number it is compared with,
// for one): the exception ends the whole evaluation, and the broker
// treats the message as not matching.
func (n *node) eval(props func(string) (string, bool)) (v value, ok bool) {
	switch n.op {
	case opConst:
		return n.val, true
	case opProp:
		if props == nil {
			return vNull, true
		}
		s, found := props(n.str)
		if !found {
			return vNull, true
		}
		return value{k: kString, s: s}, true
	case opBoolCast:
		v, ok := n.kids[0].eval(props)
		if !ok || v.k == kNull || v.k == kBool {
			return v, ok
		}
		return vFalse, true
	case opNeg:
		v, ok := n.kids[0].eval(props)
		if !ok {
			return v, false
		}
		switch v.k {
		case kInt:
			return value{k: kInt, n: int64(-int32(v.n))}, true
		case kLong:
			return value{k: kLong, n: -v.n}, true
		case kDouble:
			return value{k: kDouble, f: -v.f}, true
		}
		return vNull, true
	case opNot:
		v, ok := n.kids[0].eval(props)
		return not(v, ok)
	case opAnd, opOr:
		// AND stops at the first FALSE, OR at the first TRUE; otherwise
		// any NULL makes the result NULL.
		stop := n.op == opOr
		unknown := false
		for _, k := range n.kids {
			v, ok := k.eval(props)
			switch {
			case !ok || v.k != kBool && v.k != kNull:
				return vNull, false
			case v.k == kNull:
				unknown = true
			case v.b == stop:
				return v, true
			}
		}
		if unknown {
			return vNull, true
		}
		return boolValue(!stop), true
	case opEq, opNe:
		l, ok := n.kids[0].eval(props)
		if !ok {
			return vNull, false
		}
		r, ok := n.kids[1].eval(props)
		if !ok {
			return vNull, false
		}
		v, ok := equal(l, r)
		if n.op == opNe {
			return not(v, ok)
		}
		return v, ok
	case opIsNull, opIsNotNull:
		v, ok := n.kids[0].eval(props)
		return boolValue((v.k == kNull) == (n.op == opIsNull)), ok
	case opGt, opGe, opLt, opLe:
		return order(n.op, n.kids[0], n.kids[1], props)
	case opBetween:
		// v >= low AND v <= high
		ge, ok := order(opGe, n.kids[0], n.kids[1], props)
		if !ok || ge == vFalse {
			return ge, ok
		}
		le, ok := order(opLe, n.kids[0], n.kids[2], props)
		if !ok || le == vFalse {
			return le, ok
		}
		if ge.k == kNull || le.k == kNull {
			return vNull, true
		}
		return vTrue, true
	case opNotBetween:
		// v < low OR v > high
		lt, ok := order(opLt, n.kids[0], n.kids[1], props)
		if !ok || lt == vTrue {
			return lt, ok
		}
		gt, ok := order(opGt, n.kids[0], n.kids[2], props)
		if !ok || gt == vTrue {
			return gt, ok
		}
		if lt.k == kNull || gt.k == kNull {
			return vNull, true
		}
		return vFalse, true
	case opIn, opNotIn:
		v, ok := n.kids[0].eval(props)
		if !ok || v.k != kString {
			return vNull, ok
		}
		var in bool
		if n.set != nil {
			_, in = n.set[v.s]
		} else {
			in = slices.Contains(n.list, v.s)
		}
		return boolValue(in != (n.op == opNotIn)), true
	case opContains, opNotContains, opStartsWith, opNotStartsWith, opEndsWith, opNotEndsWith:
		// An empty operand is FALSE before the left side is evaluated;
		// anything but a string on the left is FALSE, for the NOT forms too.
		if n.str == "" {
			return vFalse, true
		}
		v, ok := n.kids[0].eval(props)
		if !ok || v.k != kString {
			return vFalse, ok
		}
		var has bool
		switch n.op {
		case opContains, opNotContains:
			has = strings.Contains(v.s, n.str)
		case opStartsWith, opNotStartsWith:
			has = strings.HasPrefix(v.s, n.str)
		default:
			has = strings.HasSuffix(v.s, n.str)
		}
		negated := n.op == opNotContains || n.op == opNotStartsWith || n.op == opNotEndsWith
		return boolValue(has != negated), true
	}
	return vNull, false
}

// not is Java's NOT: NULL stays NULL.
func not(v value, ok bool) (value, bool) {
	switch {
	case !ok || v.k == kNull:
		return v, ok
	case v.k == kBool:
		return boolValue(!v.b), true
	}
	return vNull, false // a ClassCastException in Java; the parser prevents it
}

// equal is the "=" of ComparisonExpression.doCreateEqual. A NULL on the
// left gives NULL, a NULL on the right only gives FALSE, and two NULLs are
// equal; otherwise the values are compared as by compareValues.
func equal(l, r value) (value, bool) {
	switch {
	case l.k == kNull && r.k == kNull:
		return vTrue, true
	case l.k == kNull:
		return vNull, true
	case r.k == kNull:
		return vFalse, true
	}
	c, ok := compareValues(l, r)
	if !ok {
		return vNull, false
	}
	return boolValue(c == 0), true
}

// order evaluates an ordering comparison as ComparisonExpression.evaluate
// does: a NULL on the left gives NULL without evaluating the right, two
// strings are both converted with Double.valueOf, and anything else goes
// through compareValues.
func order(o op, a, b *node, props func(string) (string, bool)) (value, bool) {
	l, ok := a.eval(props)
	if !ok || l.k == kNull {
		return vNull, ok
	}
	r, ok := b.eval(props)
	if !ok || r.k == kNull {
		return vNull, ok
	}
	var c int
	if l.k == kString && r.k == kString {
		lf, ok1 := parseJavaDouble(l.s)
		rf, ok2 := parseJavaDouble(r.s)
		if !ok1 || !ok2 {
			return vNull, false
		}
		c = compareJavaDouble(lf, rf)
	} else if c, ok = compareValues(l, r); !ok {
		return vNull, false
	}
	switch o {
	case opGt:
		return boolValue(c > 0), true
	case opGe:
		return boolValue(c >= 0), true
	case opLt:
		return boolValue(c < 0), true
	}
	return boolValue(c <= 0), true
}

// compareValues is ComparisonExpression.__compare with string conversion
// on, for two non-null values. Values of one type compare naturally.
// Numbers of two types compare as the wider: Integer, Long, Double. A
// string next to a number is parsed as that number's type
// (Integer.valueOf, Long.valueOf, Double.valueOf) and next to a Boolean as
// a Boolean; a Boolean on the left of a string throws a ClassCastException
// in Java (ok is false); any other pair compares as "less" (-1). ok is false
// where Java throws.
func compareValues(l, r value) (c int, ok bool) {
	if l.k == r.k {
		switch l.k {
		case kBool:
			return compareInt64(b2i(l.b), b2i(r.b)), true
		case kInt, kLong:
			return compareInt64(l.n, r.n), true
		case kDouble:
			return compareJavaDouble(l.f, r.f), true
		case kString:
			// Only equality is asked of two strings here: ordering two
			// strings goes through Double.valueOf in order.
			return strings.Compare(l.s, r.s), true
		}
		return 0, true
	}
	switch l.k {
	case kBool:
		if r.k == kString {
			return 0, false
		}
	case kInt, kLong:
		switch r.k {
		case kInt, kLong:
			return compareInt64(l.n, r.n), true
		case kDouble:
			return compareJavaDouble(float64(l.n), r.f), true
		case kString:
			n, ok := parseJavaInt(r.s, intBits(l.k))
			return compareInt64(l.n, n), ok
		}
	case kDouble:
		switch r.k {
		case kInt, kLong:
			return compareJavaDouble(l.f, float64(r.n)), true
		case kString:
			f, ok := parseJavaDouble(r.s)
			return compareJavaDouble(l.f, f), ok
		}
	case kString:
		switch r.k {
		case kBool:
			return compareInt64(b2i(parseJavaBoolean(l.s)), b2i(r.b)), true
		case kInt, kLong:
			n, ok := parseJavaInt(l.s, intBits(r.k))
			return compareInt64(n, r.n), ok
		case kDouble:
			f, ok := parseJavaDouble(l.s)
			return compareJavaDouble(f, r.f), ok
		}
	}
	return -1, true
}

func intBits(k kind) int {
	if k == kInt {
		return 32
	}
	return 64
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// String writes n as the expression text it stands for.
func (n *node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

// operandString is n as writeOperand writes it, for messages.
func (n *node) operandString() string {
	var b strings.Builder
	n.writeOperand(&b)
	return b.String()
}

// write appends n in a form the parser reads back as n.
func (n *node) write(b *strings.Builder) {
	switch n.op {
	case opConst:
		n.val.write(b)
	case opProp:
		b.WriteString(n.str)
	case opBoolCast:
		n.kids[0].write(b)
	case opNeg:
		// Never "--": that would start a comment.
		b.WriteByte('-')
		if k := n.kids[0]; k.op == opConst || k.op == opProp {
			k.write(b)
		} else {
			k.writeParens(b)
		}
	case opNot:
		b.WriteString("NOT ")
		n.kids[0].writeOperand(b)
	case opAnd, opOr:
		for i, k := range n.kids {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(opSymbols[n.op])
				b.WriteByte(' ')
			}
			k.writeOperand(b)
		}
	case opIsNull, opIsNotNull:
		n.kids[0].writeOperand(b)
		if n.op == opIsNull {
			b.WriteString(" IS NULL")
		} else {
			b.WriteString(" IS NOT NULL")
		}
	case opBetween, opNotBetween:
		n.kids[0].writeOperand(b)
		b.WriteByte(' ')
		b.WriteString(opSymbols[n.op])
		b.WriteByte(' ')
		n.kids[1].writeOperand(b)
		b.WriteString(" AND ")
		n.kids[2].writeOperand(b)
	case opIn, opNotIn:
		n.kids[0].write(b)
		b.WriteByte(' ')
		b.WriteString(opSymbols[n.op])
		b.WriteString(" (")
		for i, s := range n.list {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(b, s)
		}
		b.WriteByte(')')
	case opContains, opNotContains, opStartsWith, opNotStartsWith, opEndsWith, opNotEndsWith:
		n.kids[0].writeOperand(b)
		b.WriteByte(' ')
		b.WriteString(opSymbols[n.op])
		b.WriteByte(' ')
		writeString(b, n.str)
	default: // the binary comparisons
		n.kids[0].writeOperand(b)
		b.WriteByte(' ')
		b.WriteString(opSymbols[n.op])
		b.WriteByte(' ')
		n.kids[1].writeOperand(b)
	}
}

// writeOperand writes n, in parentheses unless it is a constant, a
// property or a negation. A negation writes its own parentheses where it
// needs them, and binds tighter than anything it can be an operand of.
func (n *node) writeOperand(b *strings.Builder) {
	switch n.op {
	case opConst, opProp, opBoolCast, opNeg:
		n.write(b)
	default:
		n.writeParens(b)
	}
}

func (n *node) writeParens(b *strings.Builder) {
	b.WriteByte('(')
	n.write(b)
	b.WriteByte(')')
}

func (v value) write(b *strings.Builder) {
	switch v.k {
	case kNull:
		b.WriteString("NULL")
	case kBool:
		if v.b {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case kInt, kLong:
		b.WriteString(strconv.FormatInt(v.n, 10))
	case kDouble:
		// Shortest form that reads back as the same double, and reads as a
		// decimal, not an integer.
		s := strconv.FormatFloat(v.f, 'g', -1, 64)
		b.WriteString(s)
		if !strings.ContainsAny(s, ".e") {
			b.WriteString(".0")
		}
	case kString:
		writeString(b, v.s)
	}
}

func (v value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

// writeString writes s as a string constant: in single quotes, a quote
// doubled.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", "''"))
	b.WriteByte('\'')
}

// collectProps appends the property names under n not yet in names.
func (n *node) collectProps(names *[]string) {
	if n.op == opProp && !slices.Contains(*names, n.str) {
		*names = append(*names, n.str)
	}
	for _, k := range n.kids {
		k.collectProps(names)
	}
}
