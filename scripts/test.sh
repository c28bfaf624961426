#!/usr/bin/env bash
# Runs every check and test of the module; CI runs it through .ci/run.
#
#   gofmt   no file differs from gofmt's output
#   vet     go vet ./...
#   test    go test ./... (full suite, storage crash tests included)
#   race    go test -race -short ./... (race mode makes long tests slow)
#
# Every step runs even when an earlier one fails; the last line sums them up
# and the exit status is non-zero if any failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# go needs a home for its build and module caches.
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export PATH="/usr/local/go/bin:${HOME:+$HOME/go/bin:}$PATH"

# The race detector needs cgo and a C compiler.
export CGO_ENABLED=1
if ! command -v gcc >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	echo "== installing gcc for the race detector"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null
fi

# The gRPC proxy's tests drive the Node.js 5.x client (test/node).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		echo "== installing nodejs and npm for the Node.js client tests"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
	fi
fi
if command -v npm >/dev/null 2>&1 && [ ! -d test/node/node_modules/rocketmq-client-nodejs ]; then
	echo "== npm ci in test/node"
	(cd test/node && npm ci --no-audit --no-fund --loglevel=error) || echo "npm ci failed; the Node.js tests will say why"
fi

go version

passed=()
failed=()
start=$SECONDS

step() {
	local name=$1
	shift
	echo "== $name: $*"
	local t0=$SECONDS
	if "$@"; then
		passed+=("$name")
		echo "== $name: ok ($((SECONDS - t0))s)"
	else
		failed+=("$name")
		echo "== $name: FAILED ($((SECONDS - t0))s)"
	fi
}

gofmt_clean() {
	local files
	files=$(find . -name '*.go' -not -path './.*' | grep -v -E '(^|/)(vendor|testdata)/' | xargs -r gofmt -l)
	if [ -n "$files" ]; then
		echo "not gofmt-ed (run gofmt -w on them):"
		echo "$files"
		return 1
	fi
}

step gofmt gofmt_clean
step vet go vet ./...
step test go test -count=1 -timeout 40m ./...
step race go test -race -short -count=1 -timeout 20m ./...

total=$((SECONDS - start))
if [ ${#failed[@]} -gt 0 ]; then
	echo "test.sh: FAIL (${failed[*]}) after ${total}s"
	echo "steps: ${#passed[@]} passed, ${#failed[@]} failed"
	exit 1
fi
echo "test.sh: PASS (${passed[*]}) in ${total}s"
echo "steps: ${#passed[@]} passed, ${#failed[@]} failed"
