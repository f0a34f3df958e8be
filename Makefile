# drydock — see README.md. Every target that needs dockerd, buildkitd or the
# registry brings them up first with hack/dev-env (idempotent).
GO           ?= go
BIN          ?= bin/drydock
TEST_TIMEOUT ?= 60m
# testdata/ holds Go packages (the fixture MCP server, image fixtures) that
# ./... does not match, so they are listed explicitly.
PKGS         := ./... $(shell find testdata -name '*.go' -printf './%h\n' | sort -u)

.PHONY: build build-kms test test-kyverno unit lint test-mutation demo bench env-up env-kube env-down clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/drydock

# The same binary with sigstore's KMS providers (awskms, gcpkms, azurekms,
# hashivault) compiled in; about 16 MB larger.
build-kms:
	CGO_ENABLED=0 $(GO) build -trimpath -tags kms -o $(BIN) ./cmd/drydock

# Unit, integration and end-to-end tests against the real components.
# hack/gotest runs go test through gotestsum and, under CI, fails on any
# skipped test.
test: lint env-up env-kube
	eval "$$(hack/dev-env env)" && hack/gotest all -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	# attest again with the KMS providers compiled in (their own tests).
	eval "$$(hack/dev-env env)" && hack/gotest kms -count=1 -tags kms ./attest/

# The Kyverno CLI cases (launch/kube, build tag kyverno): `kubectl-kyverno
# test` over the generated ClusterPolicy and Pods. They need the CLI that
# `hack/dev-env kyverno` caches (a long cold build), so they are not part
# of make test; .ci/run runs them when that cache holds the CLI.
test-kyverno: env-up
	$(GO) vet -tags kyverno ./launch/kube/
	eval "$$(hack/dev-env env)" && DRYDOCK_KYVERNO_BIN="$$(hack/dev-env kyverno-bin)" \
		hack/gotest kyverno -count=1 -tags kyverno -run '^TestKyverno' -timeout $(TEST_TIMEOUT) ./launch/kube/

# Tests that need no daemon (the others skip locally, and fail under CI=true).
unit:
	$(GO) test -count=1 -short $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# The mutation check over the security-critical conditions (hack/mutate,
# targets in hack/mutate/targets.txt): every surviving mutation is printed
# and fails the target. MUTATE_JOBS=2 at most on a 2-core machine.
MUTATE_JOBS  ?= 2
test-mutation:
	$(GO) run ./hack/mutate -j $(MUTATE_JOBS)

demo: env-up build
	eval "$$(hack/dev-env env)" && hack/demo $(BIN)

# Benchmarks against the baselines users would pick instead (not part of
# make test; CI runs the harness once in smoke mode). BENCH_WRITE=1 also
# writes docs/benchmarks.md.
BENCH_REPS ?= 7
bench: env-up
	eval "$$(hack/dev-env env)" && $(GO) run ./hack/bench -reps $(BENCH_REPS) $(if $(BENCH_WRITE),-write docs/benchmarks.md)

env-up:
	hack/dev-env up

# The Kubernetes test components (kube-apiserver, etcd, policy-tester):
# cached, but a long cold build, so only make test waits for it.
env-kube:
	hack/dev-env kube

env-down:
	hack/dev-env down

clean:
	rm -rf bin
