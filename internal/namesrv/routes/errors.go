package routes

import "errors"

// Errors returned by the table and the decoders.
var (
	// ErrInvalid: a request or a JSON body is malformed (RegisterBroker,
	// RegisterTopic, every Decode function).
	ErrInvalid = errors.New("routes: invalid input")
	// ErrNotRegistered: a broker id sent a single-topic registration before
	// its first full one (RegisterBroker). RocketMQ answers it with
	// SYSTEM_ERROR "register broker failed"; the broker's next periodic
	// registration fixes it.
	ErrNotRegistered = errors.New("routes: broker not registered yet")
	// ErrUnknownBroker: queue data names a brokerName the table does not
	// know (RegisterTopic).
	ErrUnknownBroker = errors.New("routes: unknown broker")
)
