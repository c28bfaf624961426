//go:build race

package server

// raceEnabled: the race detector is on. rocketmq-client-go v2.1.2 has data
// races of its own (rebalance vs. subscription cloning, pull-consumer
// state), so tests that drive the real client skip themselves under it.
const raceEnabled = true
