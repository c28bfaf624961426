package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxDepth bounds the depth of an expression's tree, in operators: "a = 1"
// is 2 levels deep, "NOT (a = 1)" 3; parentheses add none, and a chain of
// ANDs or ORs counts as one operator. Parentheses and prefix operators may
// nest up to 2*MaxDepth+2 deep, enough for String's form of any expression
// Compile accepts. Java has no such limits; it runs out of stack somewhere
// past a thousand nested parentheses instead.
const MaxDepth = 1000

// maxNesting bounds the recursion of the parser.
const maxNesting = 2*MaxDepth + 2

// CompileError is the error Compile returns, for bad syntax and for
// expressions RocketMQ's parser refuses to build, such as "a > 'x'".
type CompileError struct {
	Offset int    // byte offset in the expression where the problem is
	Line   int    // line of Offset, from 1
	Column int    // column of Offset in characters, from 1
	Msg    string // what is wrong, and what was expected
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("filter: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func errorAt(src string, offset int, msg string) *CompileError {
	line, col := 1, 1
	for i, r := range src[:offset] {
		switch {
		case r == '\n' && i > 0 && src[i-1] == '\r':
			// the second half of "\r\n"
		case r == '\n' || r == '\r':
			line++
			col = 1
		default:
			col++
		}
	}
	return &CompileError{Offset: offset, Line: line, Column: col, Msg: msg}
}

// Compile parses a SQL92 selector as RocketMQ's broker does
// (SelectorParser.parse) and returns the compiled expression, or a
// *CompileError. It accepts exactly the expressions Java accepts, except
// those nested deeper than MaxDepth. Like Java, it stops at the first token
// that cannot continue a complete expression and ignores the rest of the
// text (see the package documentation).
func Compile(expr string) (*Expr, error) {
	p := parser{lx: lexer{src: expr}}
	n := p.orExpr()
	if n != nil {
		n = p.asBoolean(n)
	}
	if n == nil {
		if p.err == nil {
			panic("filter: the parser failed without saying why")
		}
		return nil, p.err
	}
	e := &Expr{root: n}
	var b strings.Builder
	n.write(&b)
	e.text = b.String()
	n.collectProps(&e.props)
	return e, nil
}

// parser is a recursive-descent copy of the JavaCC parser generated from
// SelectorParser.jj: the same rules, the same choices on one or two tokens
// of lookahead, and the same checks where Java builds each expression. A
// method returns nil after it has set err.
type parser struct {
	lx    lexer
	la    [2]token // lookahead
	nla   int      // tokens in la
	depth int
	err   *CompileError
}

// peek returns the next token, lexing it if needed; a lexing error stops
// the parse there, as Java's TokenMgrError does.
func (p *parser) peek() (token, bool) { return p.peekN(0) }

// peek2 returns the token after the next.
func (p *parser) peek2() (token, bool) { return p.peekN(1) }

func (p *parser) peekN(i int) (token, bool) {
	for p.nla <= i {
		t, err := p.lx.next()
		if err != nil {
			p.err = err
			return token{}, false
		}
		p.la[p.nla] = t
		p.nla++
	}
	return p.la[i], true
}

// take consumes the next token, which the caller has peeked.
func (p *parser) take() token {
	t := p.la[0]
	p.la[0] = p.la[1]
	p.nla--
	return t
}

// expect consumes a token of kind k or fails, naming what was wanted.
func (p *parser) expect(k tokKind, want string) (token, bool) {
	t, ok := p.peek()
	if !ok {
		return token{}, false
	}
	if t.kind != k {
		p.unexpected(t, want)
		return token{}, false
	}
	return p.take(), true
}

func (p *parser) unexpected(t token, want string) {
	p.fail(t.pos, fmt.Sprintf("unexpected %s, expected %s", t.describe(p.lx.src), want))
}

func (p *parser) fail(offset int, msg string) {
	if p.err == nil {
		p.err = errorAt(p.lx.src, offset, msg)
	}
}

// orExpr: andExpr ( OR andExpr )*
func (p *parser) orExpr() *node {
	left := p.andExpr()
	for left != nil {
		t, ok := p.peek()
		if !ok {
			return nil
		}
		if t.kind != tOr {
			break
		}
		p.take()
		right := p.andExpr()
		if right == nil {
			return nil
		}
		left = p.logic(opOr, left, right)
	}
	return left
}

// andExpr: equalityExpr ( AND equalityExpr )*
func (p *parser) andExpr() *node {
	left := p.equalityExpr()
	for left != nil {
		t, ok := p.peek()
		if !ok {
			return nil
		}
		if t.kind != tAnd {
			break
		}
		p.take()
		right := p.equalityExpr()
		if right == nil {
			return nil
		}
		left = p.logic(opAnd, left, right)
	}
	return left
}

// logic builds AND or OR. A chain becomes one node with every operand:
// left to right with short circuits, three-valued AND and OR are
// associative, so this evaluates as Java's nested pairs do. The chain grows
// in place, so a long one compiles in linear time.
func (p *parser) logic(o op, left, right *node) *node {
	l, r := p.asBoolean(left), p.asBoolean(right)
	if l == nil || r == nil {
		return nil
	}
	n := l
	if l.op != o {
		n = &node{op: o, pos: l.pos, depth: l.depth + 1, kids: []*node{l}}
	}
	add := []*node{r}
	if r.op == o {
		add = r.kids
	}
	for _, k := range add {
		n.kids = append(n.kids, k)
		n.depth = max(n.depth, k.depth+1)
	}
	if n.depth > MaxDepth {
		p.fail(n.pos, fmt.Sprintf("expression more than %d operators deep", MaxDepth))
		return nil
	}
	return n
}

// equalityExpr: comparisonExpr ( "=" comparisonExpr | "<>" comparisonExpr
// | IS NULL | IS NOT NULL )*
func (p *parser) equalityExpr() *node {
	left := p.comparisonExpr()
	for left != nil {
		t, ok := p.peek()
		if !ok {
			return nil
		}
		switch t.kind {
		case tEq, tNe:
			p.take()
			right := p.comparisonExpr()
			if right == nil {
				return nil
			}
			o := opEq
			if t.kind == tNe {
				o = opNe
			}
			left = p.equality(o, t, left, right)
		case tIs:
			t2, ok := p.peek2()
			if !ok {
				return nil
			}
			p.take()
			o := opIsNull
			if t2.kind != tNull {
				if _, ok := p.expect(tNot, "NULL or NOT NULL after IS"); !ok {
					return nil
				}
				o = opIsNotNull
			}
			if _, ok := p.expect(tNull, "NULL after IS NOT"); !ok {
				return nil
			}
			left = p.check(&node{op: o, pos: left.pos, kids: []*node{left}})
		default:
			return left
		}
	}
	return nil
}

// equality applies ComparisonExpression.createEqual's checks: NULL cannot
// be an operand, and TRUE or FALSE on the left of a constant needs TRUE or
// FALSE on the right.
func (p *parser) equality(o op, t token, left, right *node) *node {
	for _, k := range [2]*node{left, right} {
		if k.op == opConst && k.val.k == kNull {
			p.fail(k.pos, fmt.Sprintf("NULL cannot be compared with %s; use IS NULL or IS NOT NULL", punct[t.kind]))
			return nil
		}
	}
	if left.op == opConst && right.op == opConst && left.val.k == kBool && right.val.k != kBool {
		p.fail(t.pos, fmt.Sprintf("%s cannot be compared with %s", left.operandString(), right.operandString()))
		return nil
	}
	return p.check(&node{op: o, pos: left.pos, kids: []*node{left, right}})
}

// comparisonExpr: unaryExpr ( (">" | ">=" | "<" | "<=") unaryExpr
// | [NOT] (CONTAINS | STARTSWITH | ENDSWITH) string
// | [NOT] BETWEEN unaryExpr AND unaryExpr
// | [NOT] IN "(" string ("," string)* ")" )*
func (p *parser) comparisonExpr() *node {
	left := p.unaryExpr()
	for left != nil {
		t, ok := p.peek()
		if !ok {
			return nil
		}
		neg := false
		switch t.kind {
		case tGt, tGe, tLt, tLe:
			p.take()
			right := p.unaryExpr()
			if right == nil {
				return nil
			}
			left = p.ordering(orderOps[t.kind], left, right)
			continue
		case tContains, tStartsWith, tEndsWith, tBetween, tIn:
		case tNot:
			// Java looks two tokens ahead for each of the five NOT forms.
			t2, ok := p.peek2()
			if !ok {
				return nil
			}
			switch t2.kind {
			case tContains, tStartsWith, tEndsWith, tBetween, tIn:
			default:
				p.unexpected(t2, "CONTAINS, STARTSWITH, ENDSWITH, BETWEEN or IN after NOT")
				return nil
			}
			p.take()
			neg = true
			t = t2
		default:
			return left
		}
		p.take()
		switch t.kind {
		case tContains, tStartsWith, tEndsWith:
			s, ok := p.expect(tString, "a string constant after "+t.describe(p.lx.src))
			if !ok {
				return nil
			}
			o := stringOps[t.kind]
			if neg {
				o++ // each NOT form follows its operator
			}
			left = p.check(&node{op: o, pos: left.pos, kids: []*node{left}, str: s.str})
		case tBetween:
			left = p.between(neg, t, left)
		case tIn:
			left = p.in(neg, left)
		}
	}
	return nil
}

var orderOps = [...]op{tGt: opGt, tGe: opGe, tLt: opLt, tLe: opLe}

var stringOps = [...]op{tContains: opContains, tStartsWith: opStartsWith, tEndsWith: opEndsWith}

// ordering applies checkLessThanOperand to both operands: only properties,
// numbers and negations may be ordered.
func (p *parser) ordering(o op, left, right *node) *node {
	if !p.orderable(o, left) || !p.orderable(o, right) {
		return nil
	}
	return p.check(&node{op: o, pos: left.pos, kids: []*node{left, right}})
}

func (p *parser) orderable(o op, n *node) bool {
	if (n.op == opConst && !n.val.isNumber()) || n.isBoolean() {
		p.fail(n.pos, fmt.Sprintf("%s cannot be compared with %s; only numbers can", n.operandString(), opSymbols[o]))
		return false
	}
	return true
}

// between parses "low AND high" after [NOT] BETWEEN. Java turns BETWEEN into
// (v >= low AND v <= high) and NOT BETWEEN into (v < low OR v > high), with
// the ordering checks, and rejects constant bounds in the wrong order.
func (p *parser) between(neg bool, t token, v *node) *node {
	low := p.unaryExpr()
	if low == nil {
		return nil
	}
	if _, ok := p.expect(tAnd, "AND between the bounds of BETWEEN"); !ok {
		return nil
	}
	high := p.unaryExpr()
	if high == nil {
		return nil
	}
	if !neg && low.op == opConst && high.op == opConst {
		if low.val.k == kNull || high.val.k == kNull {
			p.fail(t.pos, "the bounds of BETWEEN cannot be NULL")
			return nil
		}
		if low.val.isNumber() && high.val.isNumber() {
			if c, _ := compareValues(high.val, low.val); c < 0 {
				p.fail(t.pos, fmt.Sprintf("the lower bound of BETWEEN, %s, is greater than the upper bound, %s", low, high))
				return nil
			}
		}
	}
	o1, o2 := opGe, opLe
	if neg {
		o1, o2 = opLt, opGt
	}
	if !p.orderable(o1, v) || !p.orderable(o1, low) || !p.orderable(o2, v) || !p.orderable(o2, high) {
		return nil
	}
	o := opBetween
	if neg {
		o = opNotBetween
	}
	return p.check(&node{op: o, pos: v.pos, kids: []*node{v, low, high}})
}

// in parses the list after [NOT] IN. Its left side must be a property.
func (p *parser) in(neg bool, v *node) *node {
	if _, ok := p.expect(tLParen, `"(" after IN`); !ok {
		return nil
	}
	var list []string
	for {
		s, ok := p.expect(tString, "a string constant in the IN list")
		if !ok {
			return nil
		}
		list = append(list, s.str)
		t, ok := p.peek()
		if !ok {
			return nil
		}
		if t.kind != tComma {
			break
		}
		p.take()
	}
	if _, ok := p.expect(tRParen, `"," or ")" in the IN list`); !ok {
		return nil
	}
	if v.op != opProp {
		p.fail(v.pos, fmt.Sprintf("IN needs a property name on its left, not %s", v.operandString()))
		return nil
	}
	o := opIn
	if neg {
		o = opNotIn
	}
	n := &node{op: o, pos: v.pos, kids: []*node{v}, list: list}
	if len(list) > smallIn {
		n.set = make(map[string]struct{}, len(list))
		for _, s := range list {
			n.set[s] = struct{}{}
		}
	}
	return p.check(n)
}

// smallIn is the longest IN list searched element by element.
const smallIn = 4

// unaryExpr: "+" unaryExpr | "-" unaryExpr | NOT unaryExpr | primaryExpr
func (p *parser) unaryExpr() *node {
	p.depth++
	defer func() { p.depth-- }()
	t, ok := p.peek()
	if !ok {
		return nil
	}
	if p.depth > maxNesting {
		p.fail(t.pos, fmt.Sprintf("parentheses and prefix operators nested more than %d levels deep", maxNesting))
		return nil
	}
	switch t.kind {
	case tPlus:
		// Java checks that a unary expression follows before taking "+",
		// and then drops it.
		p.take()
		return p.unaryExpr()
	case tMinus:
		p.take()
		k := p.unaryExpr()
		if k == nil {
			return nil
		}
		return p.check(&node{op: opNeg, pos: t.pos, kids: []*node{k}})
	case tNot:
		p.take()
		k := p.unaryExpr()
		if k == nil {
			return nil
		}
		if k = p.asBoolean(k); k == nil {
			return nil
		}
		return p.check(&node{op: opNot, pos: t.pos, kids: []*node{k}})
	}
	return p.primaryExpr()
}

// primaryExpr: literal | property | "(" orExpr ")"
func (p *parser) primaryExpr() *node {
	t, ok := p.peek()
	if !ok {
		return nil
	}
	text := p.lx.src[t.pos:t.end]
	n := &node{op: opConst, pos: t.pos, depth: 1}
	switch t.kind {
	case tString:
		n.val = value{k: kString, s: t.str}
	case tDecimal:
		v, ok := decimalConstant(text)
		if !ok {
			p.fail(t.pos, fmt.Sprintf("integer %s is out of range (at most %d)", clip(text), int64(math.MaxInt64)))
			return nil
		}
		n.val = v
	case tFloat:
		f, err := strconv.ParseFloat(text, 64)
		switch {
		case err != nil && !math.IsInf(f, 0):
			p.fail(t.pos, fmt.Sprintf("bad number %s", clip(text))) // not reached: the lexer checked it
			return nil
		case math.IsInf(f, 0):
			p.fail(t.pos, fmt.Sprintf("number %s is out of range (at most %g)", clip(text), math.MaxFloat64))
			return nil
		case f == 0:
			// ConstantExpression.createFloat rejects values below
			// Double.MIN_VALUE, the smallest positive double.
			p.fail(t.pos, fmt.Sprintf("RocketMQ rejects the decimal %s: it is zero or rounds to zero; write 0", clip(text)))
			return nil
		}
		n.val = value{k: kDouble, f: f}
	case tTrue, tFalse:
		n.val = value{k: kBool, b: t.kind == tTrue}
	case tNull:
		n.val = value{}
	case tIdent:
		n.op, n.str = opProp, text
	case tLParen:
		p.take()
		k := p.orExpr()
		if k == nil {
			return nil
		}
		if _, ok := p.expect(tRParen, `an operator or ")"`); !ok {
			return nil
		}
		return k
	default:
		p.unexpected(t, "a property name, a constant, \"(\", \"-\" or NOT")
		return nil
	}
	p.take()
	return n
}

// decimalConstant is ConstantExpression.createFromDecimal: an integer that
// fits in a Java int is an Integer, a bigger one a Long.
func decimalConstant(text string) (value, bool) {
	text = strings.TrimRight(text, "lL")
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return value{}, false
	}
	if v <= math.MaxInt32 {
		return value{k: kInt, n: v}, true
	}
	return value{k: kLong, n: v}, true
}

// asBoolean is SelectorParser.asBooleanExpression: AND, OR and NOT operands
// and the whole selector must be boolean expressions; a property is read as
// a boolean, anything else is an error.
func (p *parser) asBoolean(n *node) *node {
	if n.isBoolean() {
		return n
	}
	if n.op == opProp {
		return p.check(&node{op: opBoolCast, pos: n.pos, kids: []*node{n}})
	}
	p.fail(n.pos, fmt.Sprintf("%s is not a condition: a selector and the operands of AND, OR and NOT must be comparisons, TRUE, FALSE, NULL or property names", n))
	return nil
}

// check sets n's depth and fails if it is too deep.
func (p *parser) check(n *node) *node {
	d := 0
	for _, k := range n.kids {
		d = max(d, int(k.depth))
	}
	if d+1 > MaxDepth {
		p.fail(n.pos, fmt.Sprintf("expression more than %d operators deep", MaxDepth))
		return nil
	}
	n.depth = int32(d + 1)
	return n
}
