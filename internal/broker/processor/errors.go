package processor

import (
	"errors"

	"github.com/quiver-mq/quiver/internal/pop"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/internal/timer"
	"github.com/quiver-mq/quiver/internal/txn"
)

// storeErrorCode maps a store error to a response code; this file is the
// only place domain errors become wire codes.
func storeErrorCode(err error) (int32, string) {
	switch {
	case err == nil:
		return protocol.Success, ""
	case errors.Is(err, store.ErrFlushTimeout):
		return protocol.FlushDiskTimeout, err.Error()
	case errors.Is(err, store.ErrMessageIllegal), errors.Is(err, store.ErrMessageTooLarge):
		return protocol.MessageIllegal, err.Error()
	case errors.Is(err, store.ErrDiskFull), errors.Is(err, store.ErrNotWritable), errors.Is(err, store.ErrClosed):
		return protocol.ServiceNotAvailable, err.Error()
	case errors.Is(err, timer.ErrIllegal):
		return protocol.MessageIllegal, err.Error()
	}
	return protocol.SystemError, err.Error()
}

// timerErrorCode maps a timer error to a response code.
func timerErrorCode(err error) (int32, string) {
	switch {
	case errors.Is(err, timer.ErrNotFound):
		return protocol.QueryNotFound, err.Error()
	case errors.Is(err, timer.ErrTooLate), errors.Is(err, timer.ErrBadHandle), errors.Is(err, timer.ErrIllegal):
		return protocol.IllegalOperation, err.Error()
	case errors.Is(err, timer.ErrClosed):
		return protocol.ServiceNotAvailable, err.Error()
	}
	return storeErrorCode(err)
}

// txnErrorCode maps a txn error to a response code.
func txnErrorCode(err error) (int32, string) {
	switch {
	case err == nil:
		return protocol.Success, ""
	case errors.Is(err, txn.ErrImmunityExpired):
		return protocol.IllegalOperation, err.Error()
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrMismatch), errors.Is(err, txn.ErrBadState):
		return protocol.SystemError, err.Error()
	}
	return storeErrorCode(err)
}

// popErrorCode maps a pop error to a response code: a malformed handle or
// body is INVALID_PARAMETER, an unknown or expired handle NO_MESSAGE (the
// proxy answers INVALID_RECEIPT_HANDLE for it).
func popErrorCode(err error) (int32, string) {
	switch {
	case errors.Is(err, pop.ErrBadHandle):
		return protocol.InvalidParameter, err.Error()
	case errors.Is(err, pop.ErrHandleUnknown), errors.Is(err, pop.ErrHandleExpired):
		return protocol.NoMessage, err.Error()
	}
	return storeErrorCode(err)
}
