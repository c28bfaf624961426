package processor

import (
	"context"
	"errors"
	"strconv"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
	"github.com/quiver-mq/quiver/internal/txn"
)

// endTransaction handles END_TRANSACTION (37): commit or roll back a half
// message (package txn). The Go client sends it one-way, so the answer is
// usually dropped; an unknown state gets no answer at all, as in Java.
func (p *Processor) endTransaction(ctx context.Context, _ *remoting.Conn, req *protocol.Command) *protocol.Command {
	if p.cfg.BrokerID != 0 {
		return resp(req, protocol.SlaveNotAvailable, "the broker is a slave: end transaction is forbidden")
	}
	f := fields{c: req}
	r := txn.EndRequest{
		ProducerGroup:        f.required("producerGroup"),
		TranStateTableOffset: f.int64("tranStateTableOffset", -1),
		CommitLogOffset:      f.int64("commitLogOffset", -1),
		CommitOrRollback:     f.int32("commitOrRollback", 0),
		FromTransactionCheck: f.bool("fromTransactionCheck"),
		MsgID:                f.str("msgId"),
		TransactionID:        f.str("transactionId"),
	}
	if f.err != nil {
		return resp(req, protocol.SystemError, f.err.Error())
	}
	if r.CommitOrRollback != txn.StateCommit && r.CommitOrRollback != txn.StateRollback {
		return nil // unknown (0) or not a state: nothing to do, no answer
	}
	if p.Txn == nil {
		return resp(req, protocol.SystemError, "transactions are not enabled on this broker")
	}
	// A transaction's end is not abandoned because its requester went
	// away: the store bounds its own waits.
	err := p.Txn.End(context.WithoutCancel(ctx), r)
	code, remark := txnErrorCode(err)
	if code != protocol.Success {
		p.log.Warn("end transaction failed", "group", r.ProducerGroup, "msgId", r.MsgID,
			"commitLogOffset", r.CommitLogOffset, "state", r.CommitOrRollback, "fromCheck", r.FromTransactionCheck, "err", err)
	}
	return resp(req, code, remark)
}

// TransactionChecker sends CHECK_TRANSACTION_STATE (39, one-way) to a live
// producer of a group: the broker's txn.Checker.
type TransactionChecker struct {
	clients *Clients
}

// NewTransactionChecker returns a checker over the producers in clients.
func NewTransactionChecker(clients *Clients) *TransactionChecker {
	return &TransactionChecker{clients: clients}
}

// CheckTransactionState hands the check to one live connection of r.Group
// (ProducerConns comes in map order, so the choice spreads), trying the
// next one when a connection turns out closed.
func (tc *TransactionChecker) CheckTransactionState(ctx context.Context, r txn.CheckRequest) error {
	if r.Group == "" {
		return txn.ErrNoProducer
	}
	err := txn.ErrNoProducer
	for _, c := range tc.clients.ProducerConns(r.Group) {
		select {
		case <-c.Done():
			continue
		default:
		}
		req := protocol.NewRequest(protocol.CheckTransactionState, map[string]string{
			"topic":                r.Topic,
			"tranStateTableOffset": strconv.FormatInt(r.TranStateTableOffset, 10),
			"commitLogOffset":      strconv.FormatInt(r.CommitLogOffset, 10),
			"msgId":                r.MsgID,
			"transactionId":        r.TransactionID,
			"offsetMsgId":          r.OffsetMsgID,
			"bname":                r.BrokerName,
		})
		req.Body = r.Body
		if err = c.InvokeOneway(ctx, req); err == nil || !errors.Is(err, remoting.ErrClosed) {
			return err
		}
	}
	return err
}
