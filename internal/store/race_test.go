//go:build race

package store

// raceEnabled: the race detector is on. Tests that take a crash image of an
// in-memory disk while the store is writing to it race by design (a real
// disk is written by the kernel, outside the program) and skip themselves.
const raceEnabled = true
