// Package lint holds no code: its tests enforce the module's conventions over
// every Go file in the module.
//
//   - arch_test.go: imports point down the layers of the architecture (pure
//     packages, vfs, store, domain services, remoting, adapters, roles, cmd);
//     the store never sees the network; every package has a place in the table.
//   - lint_test.go: typed atomics only (no sync/atomic function forms) and no
//     func init() outside tests.
//
// The tests read the sources with go/parser, so they check files of every
// GOOS and build tag alike, and need neither the go tool nor a build.
package lint
