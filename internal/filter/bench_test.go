package filter

import "testing"

// benchExprs are selectors of the shapes consumers use.
var benchExprs = []struct{ name, expr string }{
	{"tags", "TAGS IN ('TagA', 'TagB', 'TagC')"},
	{"number", "price > 100 AND price <= 1000.5"},
	{"mixed", "TAGS IN ('TagA', 'TagB', 'TagC', 'TagD', 'TagE') AND region = 'eu' AND " +
		"(amount BETWEEN 10 AND 500 OR vip = TRUE) AND name NOT STARTSWITH 'test' AND trace IS NULL"},
}

var benchProps = map[string]string{
	"TAGS": "TagC", "price": "250", "region": "eu", "amount": "120", "vip": "false",
	"name": "order-42", "KEYS": "k1", "UNIQ_KEY": "7F0000010B6C18B4AAC2", "WAIT": "true",
}

func BenchmarkCompile(b *testing.B) {
	for _, c := range benchExprs {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.expr)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(c.expr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	props := func(name string) (string, bool) {
		v, ok := benchProps[name]
		return v, ok
	}
	for _, c := range benchExprs {
		b.Run(c.name, func(b *testing.B) {
			e, err := Compile(c.expr)
			if err != nil {
				b.Fatal(err)
			}
			if !e.Match(props) {
				b.Fatal("no match")
			}
			b.ReportAllocs()
			for b.Loop() {
				e.Match(props)
			}
		})
	}
}
