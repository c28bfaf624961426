// Package filter is RocketMQ's SQL92 message filter: the selectors a
// consumer subscribes with (MessageSelector.bySql in Java, expression type
// "SQL92"), compiled once and matched against each message's properties.
//
// It reproduces Apache RocketMQ 5.x's filter module (SelectorParser.jj and
// the classes of org.apache.rocketmq.filter.expression) exactly: Compile
// accepts the expressions Java accepts, and Match gives the answer Java's
// broker gives. The cases in testdata/java_cases.txt and
// testdata/java_values.txt were computed by the Java code, and the tests
// hold this package to them.
//
// It is a pure package: no I/O, no logging, no goroutines. An *Expr is
// immutable, so one compiled selector may be matched from any number of
// goroutines at once. Match does not allocate.
//
// # Use
//
//	e, err := filter.Compile("TAGS IN ('TagA', 'TagB') AND price > 100")
//	if err != nil {
//		// a *CompileError: the broker answers SUBSCRIPTION_PARSE_FAILED (23)
//	}
//	ok := e.Match(func(name string) (string, bool) {
//		v, found := msg.Properties[name]
//		return v, found
//	})
//
// The properties are all the message's properties as the commit log stores
// them, system ones included: the tag is the property TAGS and the keys are
// KEYS, so "TAGS = 'TagA'" filters on the tag. Names are case-sensitive.
//
// # Grammar
//
// In the notation of the Go specification; keywords are matched without
// regard to case ("and", "And" and "AND" are one keyword):
//
//	Selector       = OrExpr .                        // then see "Trailing text"
//	OrExpr         = AndExpr { "OR" AndExpr } .
//	AndExpr        = EqualityExpr { "AND" EqualityExpr } .
//	EqualityExpr   = ComparisonExpr { ( "=" | "<>" ) ComparisonExpr
//	                                | "IS" [ "NOT" ] "NULL" } .
//	ComparisonExpr = UnaryExpr { ( ">" | ">=" | "<" | "<=" ) UnaryExpr
//	                           | [ "NOT" ] "BETWEEN" UnaryExpr "AND" UnaryExpr
//	                           | [ "NOT" ] "IN" "(" string { "," string } ")"
//	                           | [ "NOT" ] ( "CONTAINS" | "STARTSWITH" | "ENDSWITH" ) string } .
//	UnaryExpr      = "+" UnaryExpr | "-" UnaryExpr | "NOT" UnaryExpr | PrimaryExpr .
//	PrimaryExpr    = string | integer | decimal | "TRUE" | "FALSE" | "NULL"
//	               | property | "(" OrExpr ")" .
//
//	property = ( letter | "_" | "$" ) { letter | digit | "_" | "$" } .  // ASCII; not a keyword
//	integer  = "0" | ( "1" … "9" ) { digit } [ "l" | "L" ] .
//	decimal  = digit { digit } "." { digit } [ exponent ]
//	         | "." digit { digit } [ exponent ]
//	         | digit { digit } exponent .
//	exponent = ( "e" | "E" ) [ "+" | "-" ] digit { digit } .
//	string   = "'" { "''" | any character but "'" } "'" .     // '' is one quote
//
// Tokens are separated by space, tab, line feed, carriage return or form
// feed, and by comments: "/* … */", and "--" up to a line break. As in
// JavaCC, the longest token wins: "007" is the three integers 0, 0 and 7,
// and a "--" comment with no line break after it is two minus signs. There
// is no "!=" (write "<>"), no LIKE, no arithmetic but negation, and no dot
// in property names.
//
// Precedence follows from the grammar, loosest first: OR; AND; "=", "<>"
// and IS [NOT] NULL; the other comparisons; the prefix operators "+", "-"
// and NOT. NOT binds tighter than any comparison, as in ActiveMQ's grammar
// that RocketMQ's descends from: "NOT a = 'x'" is "(NOT a) = 'x'", which
// never matches. Write "NOT (a = 'x')" or "a <> 'x'".
//
// Checks at compile time, as Java makes them: a selector and the operands
// of AND, OR and NOT must be conditions (a comparison, TRUE, FALSE, NULL or
// a property name; a property there is TRUE only if it is a Boolean, which
// a property never is); the operands of ">", ">=", "<", "<=" and BETWEEN
// cannot be string, boolean or NULL constants or conditions; NULL cannot be
// an operand of "=" or "<>"; TRUE or FALSE cannot be compared with another
// kind of constant when it is on the left; the left of IN must be a property
// name; the two bounds of BETWEEN, when both are constants, cannot be NULL
// and must be in order ("a BETWEEN 5 AND 1" is an error, "a NOT BETWEEN 5
// AND 1" is not); integers must fit in a Java long; decimals must be finite
// and non-zero (RocketMQ rejects "0.0"; write "0").
//
// # Trailing text
//
// Java's parser stops where the selector can no longer go on and never
// looks past the next token: "a = 1 b = 2" is "a = 1", and "a = 007" is
// "a = 0". Compile does the same. That next token must still be a valid
// token ("a = 1 #" is an error), and it cannot start a continuation that
// then fails ("a = 1 NOT x" is an error).
//
// # Values
//
// Evaluation follows Java's object types. A property's value is a String, or
// NULL when the message lacks it. An integer constant is an Integer if it
// fits in 32 bits and a Long otherwise; a decimal constant is a Double;
// TRUE and FALSE are Booleans. "-x" negates a number and is NULL for
// anything else (a property, since a property is a string).
//
// # Comparisons
//
// "=" and "<>": NULL on the left gives NULL, NULL on the right only FALSE
// ("'x' <> e" is TRUE when e is missing, "e <> 'x'" is NULL), and NULL on
// both sides TRUE. Otherwise two values of one type compare by value, and
// two numbers as the wider of their types. A string compared with a number
// is converted to that number's type: with Integer.valueOf for an Integer
// (so "5.0" = 5 fails, below), Long.valueOf for a Long, Double.valueOf for a
// Double. Integer.valueOf and Long.valueOf take an optional sign and decimal
// digits, Unicode ones included ("٥" = 5), and no spaces; Double.valueOf
// trims spaces and control characters and takes Java's floating-point
// syntax, "NaN", "Infinity" and hexadecimal forms. A string compared with
// TRUE or FALSE is TRUE if it is "true" in any case and FALSE otherwise,
// so "a = FALSE" holds for a = "abc". A Boolean on the left of a string
// fails (below); any other mix of types is unequal.
//
// ">", ">=", "<", "<=": NULL on either side gives NULL. Two strings (two
// properties) are both converted with Double.valueOf; otherwise the values
// convert as for "=". Doubles order as Double.compare does: NaN above
// +Infinity, -0.0 below 0.0. BETWEEN is ">= AND <=" and NOT BETWEEN is "<
// OR >", with the first operand evaluated twice.
//
// A conversion that fails makes Java throw, and the exception ends the whole
// evaluation: the message does not match, whatever the rest of the
// selector says. Evaluation goes left to right and AND and OR stop early,
// so "b = 'x' OR a > 5" matches a message with b = 'x' and a = "abc", but
// "a > 5 OR b = 'x'" does not.
//
// IS NULL and IS NOT NULL are TRUE or FALSE, never NULL. IN and NOT IN give
// NULL for a missing property, and otherwise test whether the value is one
// of the strings. CONTAINS, STARTSWITH and ENDSWITH and their NOT forms give
// FALSE, never NULL, when the left side is not a string (a missing property
// included) or the search string is empty; otherwise they test the text
// byte by byte, case-sensitively.
//
// # Logic
//
// AND, OR and NOT use SQL's three-valued logic: AND is FALSE if either side
// is FALSE, else NULL if either is NULL, else TRUE; OR the same with TRUE
// and FALSE swapped; NOT NULL is NULL. A message matches only if the
// selector is TRUE.
//
// # Differences from Java
//
// Java decodes the selector and the properties from UTF-8 first; Compile and
// Match work on the bytes, which is the same for valid UTF-8. Java counts
// Unicode digits by its own Unicode tables; this package uses Go's, which
// are newer (a handful of digits added since Unicode 6.2, the version of
// Java 8, are digits here). Compile rejects expressions deeper than
// MaxDepth, where Java runs out of stack at a similar depth.
package filter
