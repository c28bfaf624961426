# Conveniences only; scripts/test.sh is what CI runs.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo "(devel)")
LDFLAGS := -X github.com/quiver-mq/quiver/internal/buildinfo.version=$(VERSION)

.PHONY: build test lint fmt

build:
	go build -ldflags '$(LDFLAGS)' -o bin/quiver ./cmd/quiver

test:
	bash scripts/test.sh

lint:
	go vet ./...
	go test -count=1 ./internal/lint/...

fmt:
	go fmt ./...
