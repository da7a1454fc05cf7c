# lakestream build, test and demo targets. Everything a target needs is
# installed by the targets themselves (Go modules, pinned tools under .tools/).

GO          ?= go
TOOLS       := $(CURDIR)/.tools
VERSITYGW   := $(TOOLS)/versitygw
VERSITYGW_VERSION := v1.8.0

# Tests that need versitygw fail (instead of skipping) when it is missing.
export LAKESTREAM_VERSITYGW := $(VERSITYGW)
export LAKESTREAM_REQUIRE_S3 := 1

.PHONY: all build test test-short fuzz tools demo bench clean

all: build test

build:
	CGO_ENABLED=0 $(GO) build -o bin/ingestd ./cmd/ingestd

# The main job on embedded defaults: in-process Kafka, a table under
# ./demo-warehouse, DuckDB reading the result.
demo: build
	$(GO) run ./e2e/demo -ingestd bin/ingestd -warehouse demo-warehouse

tools: $(VERSITYGW)

$(VERSITYGW):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# The whole suite: unit, golden, S3 acceptance (versitygw) and a short fuzz pass.
test: tools
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseTimelineFileName$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./commitlog
	$(GO) test -run '^$$' -fuzz '^FuzzParseCommitMetadata$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./commitlog
	$(GO) test -run '^$$' -fuzz '^FuzzParseProperties$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./commitlog
	$(GO) test -run '^$$' -fuzz '^FuzzParseCheckpointKey$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./commitlog

clean:
	rm -rf bin
