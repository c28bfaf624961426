package namesrv

import (
	"errors"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
)

// Errors of the handlers; errorResponse maps them, and those of package
// routes, to response codes.
var (
	// errInvalid: a request lacks an ext field, has one that does not parse,
	// or carries a body that cannot be used (every handler).
	errInvalid = errors.New("namesrv: invalid request")
	// errCRC: a REGISTER_BROKER body does not match its bodyCrc32.
	errCRC = errors.New("namesrv: register broker: body crc32 mismatch")
	// errStarted, errClosed: Start called twice, or after Close.
	errStarted = errors.New("namesrv: already started")
	errClosed  = errors.New("namesrv: closed")
)

// errorResponse answers req with the code RocketMQ uses for err. Remarks
// the Java name server sends verbatim are kept verbatim.
func errorResponse(req *protocol.Command, err error) *protocol.Command {
	switch {
	case errors.Is(err, errCRC):
		return protocol.NewResponse(req, protocol.SystemError, "crc32 not match")
	case errors.Is(err, routes.ErrNotRegistered):
		return protocol.NewResponse(req, protocol.SystemError, "register broker failed")
	case errors.Is(err, errInvalid), errors.Is(err, routes.ErrInvalid):
		return protocol.NewResponse(req, protocol.InvalidParameter, err.Error())
	default:
		return protocol.NewResponse(req, protocol.SystemError, err.Error())
	}
}

// ok answers req with SUCCESS and body.
func ok(req *protocol.Command, body []byte) *protocol.Command {
	resp := protocol.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}
