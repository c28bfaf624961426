package metadata

import "errors"

// Errors returned by this package. Test with errors.Is; the returned errors
// wrap these with the name involved.
var (
	// ErrTopicNotExist is returned by Topics.CreateOnSend when auto-creation
	// is off or TBW102 does not allow it, and by Topics.Delete for an
	// unknown topic. Processors answer 17 TOPIC_NOT_EXIST.
	ErrTopicNotExist = errors.New("metadata: topic does not exist")
	// ErrInvalidTopic is returned by ValidateTopic, Topics.Put,
	// Topics.CreateOnSend and Topics.CreateIfAbsent for a name that is
	// blank, has characters outside [%|a-zA-Z0-9_-] or is too long, and by
	// Topics.Put for bad queue counts, perm or filter type.
	// Processors answer 29 INVALID_PARAMETER (admin requests: 1).
	ErrInvalidTopic = errors.New("metadata: invalid topic")
	// ErrTopicNotAllowed is returned by ValidateTopic and
	// Topics.CreateOnSend for system topics clients must not send to
	// (SCHEDULE_TOPIC_XXXX, the transaction topics, SELF_TEST_TOPIC,
	// OFFSET_MOVED_EVENT, …). Processors answer 16 NO_PERMISSION.
	ErrTopicNotAllowed = errors.New("metadata: sending to this topic is not allowed")
	// ErrGroupNotExist is returned by Groups.Ensure when the group is
	// unknown and cannot be auto-created (auto-creation off, or an invalid
	// name, in which case the error wraps ErrInvalidGroup too), and by
	// Groups.Delete for an unknown group. Processors answer 26
	// SUBSCRIPTION_GROUP_NOT_EXIST.
	ErrGroupNotExist = errors.New("metadata: subscription group does not exist")
	// ErrInvalidGroup is returned by ValidateGroup and Groups.Put for a
	// name that is blank, has characters outside [%|a-zA-Z0-9_-] or is
	// longer than 120 characters, and by Groups.Put for negative counts.
	ErrInvalidGroup = errors.New("metadata: invalid subscription group")
)
