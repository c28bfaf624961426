package protocol

// Request codes (J RequestCode) used by the 4.x clients, admin tools and
// brokers.
const (
	SendMessage                   int32 = 10
	PullMessage                   int32 = 11
	QueryMessage                  int32 = 12
	QueryConsumerOffset           int32 = 14
	UpdateConsumerOffset          int32 = 15
	UpdateAndCreateTopic          int32 = 17
	GetAllTopicConfig             int32 = 21
	GetBrokerConfig               int32 = 26
	SearchOffsetByTimestamp       int32 = 29
	GetMaxOffset                  int32 = 30
	GetMinOffset                  int32 = 31
	GetEarliestMsgStoreTime       int32 = 32
	ViewMessageByID               int32 = 33
	HeartBeat                     int32 = 34
	UnregisterClient              int32 = 35
	ConsumerSendMsgBack           int32 = 36
	EndTransaction                int32 = 37
	GetConsumerListByGroup        int32 = 38
	CheckTransactionState         int32 = 39
	NotifyConsumerIDsChanged      int32 = 40
	LockBatchMQ                   int32 = 41
	UnlockBatchMQ                 int32 = 42
	GetAllConsumerOffset          int32 = 43
	GetAllDelayOffset             int32 = 45
	CheckClientConfig             int32 = 46
	PutKVConfig                   int32 = 100
	GetKVConfig                   int32 = 101
	DeleteKVConfig                int32 = 102
	RegisterBroker                int32 = 103
	UnregisterBroker              int32 = 104
	GetRouteInfoByTopic           int32 = 105
	GetBrokerClusterInfo          int32 = 106
	UpdateAndCreateSubscription   int32 = 200
	GetAllSubscriptionGroupConfig int32 = 201
	GetTopicStatsInfo             int32 = 202
	GetConsumerConnectionList     int32 = 203
	GetProducerConnectionList     int32 = 204
	WipeWritePermOfBroker         int32 = 205
	GetAllTopicListFromNameserver int32 = 206
	DeleteSubscriptionGroup       int32 = 207
	GetConsumeStats               int32 = 208
	DeleteTopicInBroker           int32 = 215
	DeleteTopicInNamesrv          int32 = 216
	RegisterTopicInNamesrv        int32 = 217
	GetKVListByNamespace          int32 = 219
	ResetConsumerClientOffset     int32 = 220
	GetConsumerStatusFromClient   int32 = 221
	InvokeBrokerToResetOffset     int32 = 222
	GetTopicsByCluster            int32 = 224
	QueryTopicConsumeByWho        int32 = 300
	GetSystemTopicListFromNS      int32 = 304
	GetConsumerRunningInfo        int32 = 307
	ConsumeMessageDirectly        int32 = 309
	SendMessageV2                 int32 = 310
	SendBatchMessage              int32 = 320
	QueryDataVersion              int32 = 322
	SendReplyMessage              int32 = 324
	SendReplyMessageV2            int32 = 325
	PushReplyMessageToClient      int32 = 326
	AddWritePermOfBroker          int32 = 327
	BrokerHeartbeat               int32 = 904
	RecallMessage                 int32 = 370 // RocketMQ 5.3.2

	// Pop consumption (RocketMQ 5.x).
	PopMessage                 int32 = 200050
	AckMessage                 int32 = 200051
	PeekMessage                int32 = 200052
	ChangeMessageInvisibleTime int32 = 200053
	Notification               int32 = 200054
	PollingInfo                int32 = 200055
	BatchAckMessage            int32 = 200151

	// Quiver's own admin codes (no RocketMQ equivalent).
	QuiverTimerStatus     int32 = 40001 // topic, msgId → timer.Status JSON
	QuiverTimerReschedule int32 = 40002 // topic, msgId, deliverTimeMs → timer.Status JSON
)

// Response codes (J ResponseCode, RemotingSysResponseCode).
const (
	Success                   int32 = 0
	SystemError               int32 = 1
	SystemBusy                int32 = 2
	RequestCodeNotSupported   int32 = 3
	TransactionFailed         int32 = 4
	FlushDiskTimeout          int32 = 10
	SlaveNotAvailable         int32 = 11
	FlushSlaveTimeout         int32 = 12
	MessageIllegal            int32 = 13
	ServiceNotAvailable       int32 = 14
	VersionNotSupported       int32 = 15
	NoPermission              int32 = 16
	TopicNotExist             int32 = 17
	TopicExistAlready         int32 = 18
	PullNotFound              int32 = 19
	PullRetryImmediately      int32 = 20
	PullOffsetMoved           int32 = 21
	QueryNotFound             int32 = 22
	SubscriptionParseFailed   int32 = 23
	SubscriptionNotExist      int32 = 24
	SubscriptionNotLatest     int32 = 25
	SubscriptionGroupNotExist int32 = 26
	FilterDataNotExist        int32 = 27
	FilterDataNotLatest       int32 = 28
	InvalidParameter          int32 = 29
	ConsumerNotOnline         int32 = 206
	NoMessage                 int32 = 208 // pop: offset out of range, or (Quiver) an unknown or expired receipt handle
	PollingFull               int32 = 209
	PollingTimeout            int32 = 210 // pop/notification: nothing found within pollTime
	IllegalOperation          int32 = 604
	GoAway                    int32 = 1500
)
