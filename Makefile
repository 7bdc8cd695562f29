# echogate — `make run` serves the example config, `make test` runs the whole suite.
GO      ?= go
# The one version: the VERSION file's, in the binary (echogate version), the manual pages and the package.
VERSION ?= $(shell cat VERSION)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin

.PHONY: all build run test test-systemd check bench fuzz soak man deb lintian clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/echogate ./cmd/echogate
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/stampsend ./cmd/stampsend

run: build
	$(BIN)/echogate run -config examples/echogate.toml

check: build
	$(BIN)/echogate check -config examples/echogate.toml

# The whole suite: vet, unit and integration tests under the race detector (the integration tests start a
# race-enabled daemon binary), fuzz seed corpora, and unit-file checks.
test:
	$(GO) vet ./...
	$(GO) build -race -tags echogate_testhooks -o $(BIN)/echogate-race ./cmd/echogate
	ECHOGATE_BIN=$(CURDIR)/$(BIN)/echogate-race $(GO) test -race -count=1 -timeout 20m ./...

# Longer fuzzing of the parsers (FUZZTIME per target).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./listeners -run '^$$' -fuzz '^FuzzFramer$$' -fuzztime $(FUZZTIME)
	$(GO) test ./listeners -run '^$$' -fuzz '^FuzzParseCommand$$' -fuzztime $(FUZZTIME)
	$(GO) test ./listeners -run '^$$' -fuzz '^FuzzProxyHeader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./listeners -run '^$$' -fuzz '^FuzzTLSFramer$$' -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/stamp -run '^$$' -fuzz '^FuzzReflect$$' -fuzztime $(FUZZTIME)

# Server CPU per round trip against a minimal C epoll loop, interleaved, pinned (see cmd/echobench).
bench: build
	$(GO) build -o $(BIN)/echoload ./cmd/echoload
	$(GO) build -o $(BIN)/echobench ./cmd/echobench
	$(CC) -O2 -o $(BIN)/echo-c cmd/echoload/cbaseline/echo.c
	$(CC) -O2 -o $(BIN)/stamp-c cmd/echoload/cbaseline/stamp.c
	$(CC) -O2 -o $(BIN)/ping-c cmd/echoload/cbaseline/ping.c
	$(GO) test -run '^$$' -bench . -benchmem ./listeners ./policy ./config
	$(BIN)/echobench -echogate $(BIN)/echogate -cbaseline $(BIN)/echo-c -echoload $(BIN)/echoload \
		-stampsend $(BIN)/stampsend -stamp-c $(BIN)/stamp-c -ping-c $(BIN)/ping-c

# Two minutes of mixed good and hostile traffic with reloads; prints fds, RSS, goroutines and CPU at both ends.
soak: build
	$(GO) build -o $(BIN)/echoload ./cmd/echoload
	ECHOGATE_BIN=$(CURDIR)/$(BIN)/echogate ECHOGATE_SOAK=2m $(GO) test -count=1 -timeout 10m -run '^TestSoak$$' -v ./cmd/echogate

# The manual pages echogate(8) and echogate.toml(5), from the Markdown in internal/man, as troff in bin/man.
man:
	$(GO) run ./internal/man/mangen -o $(BIN)/man -version $(VERSION)

# The .deb: this tree's static binary (or DEB_BIN=FILE, e.g. another build to try with these units), the units
# in systemd/, the packaged default config systemd/echogate.toml as /etc/echogate/echogate.toml, the manual
# pages and the completions. Its version is VERSION with the Debian revision DEB_REVISION.
DEB_REVISION ?= 1
DEB_VERSION  ?= $(VERSION)-$(DEB_REVISION)
DEB_ARCH     := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB          := dist/echogate_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_BIN      ?=
deb: man
ifeq ($(DEB_BIN),)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/echogate ./cmd/echogate
	MAN_DIR=$(BIN)/man bash systemd/build-deb.sh $(DEB_VERSION) dist $(BIN)/echogate systemd/echogate.toml
else
	MAN_DIR=$(BIN)/man bash systemd/build-deb.sh $(DEB_VERSION) dist $(DEB_BIN) systemd/echogate.toml
endif

# Debian's package checker on the .deb: no error and no warning (TestLintian in systemd/lintian_test.go).
lintian: deb
	ECHOGATE_DEB=$(CURDIR)/$(DEB) $(GO) test -count=1 -run '^TestLintian$$' -v ./systemd

# The .deb under a real systemd: boots a Debian root (built once with mmdebstrap, cached in SYSTEMD_CACHE)
# with systemd-nspawn and runs TestSystemdPackage in systemd/package_systemd_test.go. Needs root, mmdebstrap
# and systemd-container; skipped with a message where the container cannot boot. SYSTEMD_SUITE=trixie runs
# it on Debian 13 (systemd 257).
SYSTEMD_SUITE ?= bookworm
SYSTEMD_CACHE ?= /var/cache/echogate-test
test-systemd: deb
	ECHOGATE_SYSTEMD_TEST=1 ECHOGATE_DEB=$(CURDIR)/$(DEB) ECHOGATE_SYSTEMD_SUITE=$(SYSTEMD_SUITE) \
	ECHOGATE_SYSTEMD_CACHE=$(SYSTEMD_CACHE) $(GO) test -count=1 -timeout 10m -run '^TestSystemdPackage' -v ./systemd

clean:
	rm -rf $(BIN) dist
