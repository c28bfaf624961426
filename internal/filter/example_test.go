package filter_test

import (
	"errors"
	"fmt"

	"github.com/quiver-mq/quiver/internal/filter"
)

func Example() {
	e, err := filter.Compile("TAGS IN ('TagA', 'TagB') and price > 100")
	if err != nil {
		panic(err)
	}
	msg := map[string]string{"TAGS": "TagA", "KEYS": "order-1", "price": "250"}
	fmt.Println(e.Match(func(name string) (string, bool) {
		v, ok := msg[name]
		return v, ok
	}))
	fmt.Println(e)
	fmt.Println(e.Properties())
	// Output:
	// true
	// (TAGS IN ('TagA', 'TagB')) AND (price > 100)
	// [TAGS price]
}

func ExampleCompile_error() {
	_, err := filter.Compile("price != 100")
	fmt.Println(err)
	if ce, ok := errors.AsType[*filter.CompileError](err); ok {
		fmt.Println(ce.Offset)
	}
	// Output:
	// filter: line 1, column 7: "!=" is not an operator here; write "<>"
	// 6
}
