SHELL := /bin/bash
# berth — build, test, demo and benchmarks.
#
# berth is linked statically (cgo, for libcontainer's nsenter and for
# libseccomp, which the seccomp tag links in to filter containers' system
# calls) so that the same binary runs on any Linux and can serve as a
# container's minimal init.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TAGS      := osusergo netgo seccomp
LDFLAGS   := -s -w -X main.version=$(VERSION) -linkmode external -extldflags -static
TESTFLAGS := -tags "$(TAGS)" -ldflags "-linkmode external -extldflags -static"
BIN       := bin/berth

# Debian packages the build and the tests need: gcc, libc6-dev, and
# libseccomp-dev (its libseccomp.a) with pkg-config to link berth; the busybox
# the test images are made of, a registry server for pull/push, nftables and
# iproute2 to inspect what berth leaves behind, iptables to set the host's
# FORWARD chain as a Docker engine does, runc and crun to compare against in
# benchmarks.
DEB_PACKAGES := busybox-static docker-registry nftables iproute2 iptables runc crun gcc libc6-dev libseccomp-dev pkg-config curl skopeo
# The demo needs fewer: what links berth, the busybox its images are made
# of, and curl to show the stack answering.
DEMO_PACKAGES := busybox-static gcc libc6-dev libseccomp-dev pkg-config curl

.PHONY: all build test unit kube fuzz acceptance deps demo-deps demo demo-down bench bench-peers clean vet lint

all: build

build:
	CGO_ENABLED=1 $(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

# deps installs what the tests need on a fresh Debian machine; demo-deps
# what the demo needs.
deps: PACKAGES = $(DEB_PACKAGES)
demo-deps: PACKAGES = $(DEMO_PACKAGES)
deps demo-deps:
	@missing=""; for p in $(PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# The Debian registry package starts a service on :5000 where an init
	@# system runs; tests start their own on free loopback ports instead.

vet:
	$(GO) vet -tags "$(TAGS)" ./...
	cd project/kube/apicheck && $(GO) vet -mod=mod ./...

# lint runs golangci-lint with .golangci.yml: DESIGN's import rules
# (depguard), nothing below cmd/berth printing, exiting or reading os.Args,
# locks taken through internal/statefile (forbidigo), and gofmt. It installs
# the pinned version with go install when another or none is there.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/golangci-lint

lint:
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q 'version $(patsubst v%,%,$(GOLANGCI_LINT_VERSION)) ' || \
		{ echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); }
	$(GOLANGCI_LINT) run ./...

# test runs the linters, the unit tests (depcheck_test.go among them), the
# Kubernetes API server's validation of what export kubernetes writes, a
# bounded fuzzing run and the root acceptance tests.
test: deps build vet lint unit kube fuzz acceptance

# unit runs the unit tests with the race detector: up starts levels and
# containers in parallel, and the hosts files are rewritten from several
# goroutines.
unit:
	@mkdir -p bin
	CGO_ENABLED=1 $(GO) test -race $(TESTFLAGS) -count=1 -timeout 15m -v $$($(GO) list ./... | grep -v -e /acceptance -e /bench) 2>&1 | tee bin/unit.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|^\s+\S+_test.go' | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}

# kube checks the manifests of every sample, from the library and from the
# binary, with the Kubernetes API server's own validation code. It is a
# module of its own (project/kube/apicheck), so that k8s.io/kubernetes is
# a dependency of this test only; its first build takes minutes. -mod=mod
# lets it follow what berth's own go.mod gains meanwhile.
kube: build
	@mkdir -p bin
	cd project/kube/apicheck && BERTH_BINARY=$(CURDIR)/$(BIN) $(GO) test -mod=mod -count=1 -timeout 20m -v ./... 2>&1 | tee $(CURDIR)/bin/kube.log | grep -E '^(--- |PASS|FAIL|ok|panic)|^\s+\S+_test.go'; exit $${PIPESTATUS[0]}

# fuzz runs each fuzz target for FUZZTIME: the image archive loaders and
# the layer unpacker, from seeds that include every hostile archive and layer
# of the tests. Minimizing a new input is kept short so that the time goes
# to fuzzing; a failing input is written to testdata/fuzz/ for `go test`.
FUZZTIME    ?= 15s
FUZZTARGETS := ./runtime/image:FuzzLoadDocker ./runtime/image:FuzzLoadOCI ./runtime/image:FuzzUnpackLayer

fuzz:
	@mkdir -p bin; : >bin/fuzz.log; for t in $(FUZZTARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		CGO_ENABLED=1 $(GO) test $(TESTFLAGS) -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg >bin/fuzz.$$fn.log 2>&1; \
		rc=$$?; cat bin/fuzz.$$fn.log >>bin/fuzz.log; \
		if [ $$rc -ne 0 ]; then grep -v '^fuzz: elapsed' bin/fuzz.$$fn.log | tail -n 60; exit 1; fi; \
		tail -n 3 bin/fuzz.$$fn.log; \
	done

acceptance: build
	@mkdir -p bin
	BERTH_BINARY=$(CURDIR)/$(BIN) CGO_ENABLED=1 $(GO) test -count=1 -timeout 20m -v ./acceptance/... 2>&1 | tee bin/acceptance.log | grep -E '^(--- |PASS|FAIL|ok|panic)|^\s+\S+_test.go'; exit $${PIPESTATUS[0]}

# demo brings up samples/quickstart and shows it working; its images are
# made on this machine from Debian's busybox-static, nothing is pulled.
# demo-down stops it and removes what it made.
demo: demo-deps build
	./samples/quickstart/demo.sh

demo-down:
	./samples/quickstart/demo.sh down

bench: build
	./bench/run.sh

# bench-peers runs the same compose files through berth, docker compose and
# podman compose (installing them with PEERS_INSTALL=1) with hyperfine, and
# writes the table of ratios to bench/results/peers.md.
bench-peers: build
	./bench/peers.sh $(if $(PEERS_INSTALL),--install)

clean:
	rm -rf bin
