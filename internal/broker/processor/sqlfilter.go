package processor

import (
	"fmt"

	"github.com/quiver-mq/quiver/internal/filter"
	"github.com/quiver-mq/quiver/internal/message"
	"github.com/quiver-mq/quiver/internal/protocol"
)

// sqlFilter selects messages by an SQL92 expression over their properties
// (TAGS included, as a property).
type sqlFilter struct{ expr *filter.Expr }

func (sqlFilter) MatchTagsCode(int64) bool { return true }

func (f sqlFilter) MatchRecord(rec []byte) bool {
	m, _, err := message.Decode(rec, false)
	if err != nil {
		return false
	}
	return f.expr.Match(func(name string) (string, bool) { return message.Property(m.Properties, name) })
}

// compileSQL compiles (and caches) an SQL92 subscription. The error result
// is a response code and remark for the pull.
func (p *Processor) compileSQL(expr string) (sqlFilter, int32, string) {
	if !p.cfg.EnablePropertyFilter {
		return sqlFilter{}, protocol.SystemError, "The broker does not support consumer to filter message by SQL92"
	}
	if e, ok := p.sqlCache.Load(expr); ok {
		return sqlFilter{e.(*filter.Expr)}, protocol.Success, ""
	}
	e, err := filter.Compile(expr)
	if err != nil {
		return sqlFilter{}, protocol.SubscriptionParseFailed, fmt.Sprintf("parse the consumer's subscription[%s] failed: %v", expr, err)
	}
	p.sqlCache.Store(expr, e)
	return sqlFilter{e}, protocol.Success, ""
}
