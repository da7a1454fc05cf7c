# lakestream build, test and demo targets. Everything a target needs is
# installed by the targets themselves (Go modules, pinned tools under .tools/).

GO          ?= go
TOOLS       := $(CURDIR)/.tools
VERSITYGW   := $(TOOLS)/versitygw
VERSITYGW_VERSION := v1.8.0

# Apache Kafka, the broker the e2e tests also run against: the jars of the
# version pinned in tools/kafka/pom.xml, copied by Maven (-C: every
# download's checksum checked) into $(KAFKA_HOME)/libs, then checked
# against the SHA-256 sums pinned in tools/kafka/SHA256SUMS.
KAFKA_VERSION := $(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' tools/kafka/pom.xml)
KAFKA_HOME  := $(TOOLS)/kafka-$(KAFKA_VERSION)
MVN         ?= mvn

# Tests that need versitygw fail (instead of skipping) when it is missing.
export LAKESTREAM_VERSITYGW := $(VERSITYGW)
export LAKESTREAM_REQUIRE_S3 := 1
export LAKESTREAM_KAFKA_HOME := $(KAFKA_HOME)

# Which Kafka the e2e tests (ingest, torture) run against in make test and
# make torture: kfake (in process), kafka (Apache Kafka brokers, JVMs) or
# both. go test alone runs kfake only (LAKESTREAM_KAFKA unset).
E2E_KAFKA ?= both

.PHONY: all build test test-short fuzz tools kafka demo bench clean

all: build test

build:
	CGO_ENABLED=0 $(GO) build -o bin/ingestd ./cmd/ingestd

# The main job on embedded defaults: in-process Kafka, a table under
# ./demo-warehouse, DuckDB reading the result.
demo: build
	$(GO) run ./e2e/demo -ingestd bin/ingestd -warehouse demo-warehouse

tools: $(VERSITYGW) kafka

$(VERSITYGW):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# The broker's jars (about 45 MB; Maven and Java 17+ on the PATH). The
# directory is built aside and renamed once every jar is checked, and
# exactly the pinned jars must be there. Then one broker start writes the
# class data archive that makes the tests' JVMs start faster (kafka.jsa,
# 50 MB). .verified marks a complete installation.
kafka: $(KAFKA_HOME)/.verified

$(KAFKA_HOME)/.verified: tools/kafka/pom.xml tools/kafka/SHA256SUMS
	@command -v $(MVN) >/dev/null || { echo "make kafka: Maven ($(MVN)) is not on the PATH"; exit 1; }
	@command -v java >/dev/null || { echo "make kafka: java (17 or later) is not on the PATH"; exit 1; }
	rm -rf $(KAFKA_HOME).tmp
	$(MVN) -B -q -C -Dstyle.color=never -f tools/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(KAFKA_HOME).tmp/libs
	cd $(KAFKA_HOME).tmp/libs && grep -v '^#' $(CURDIR)/tools/kafka/SHA256SUMS | sha256sum --check --strict --quiet
	@cd $(KAFKA_HOME).tmp/libs && extra=$$(ls | awk 'NR == FNR { pinned[$$2]; next } !($$1 in pinned)' $(CURDIR)/tools/kafka/SHA256SUMS -) && \
		[ -z "$$extra" ] || { echo "make kafka: jars not pinned in tools/kafka/SHA256SUMS:" $$extra; exit 1; }
	rm -rf $(KAFKA_HOME) && mv $(KAFKA_HOME).tmp $(KAFKA_HOME)
	$(GO) run ./e2e/kafkaclasses $(KAFKA_HOME)
	touch $@

# The whole suite: unit, golden, S3 acceptance (versitygw), the e2e tests
# on kfake and on Apache Kafka (E2E_KAFKA) and a short fuzz pass.
test: tools
	$(GO) vet ./...
	LAKESTREAM_KAFKA=$(E2E_KAFKA) $(GO) test -count=1 -timeout 12m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=30000x FUZZTIME_SLOW=1000x

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
# make test uses a count of executions, not a duration: with a duration,
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when the time runs out under load (golang/go#75804, fixed in Go
# 1.27); a real finding always prints "Failing input written to".
# A count has no deadline to race.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./commitlog:FuzzParseTimelineFileName ./commitlog:FuzzParseCommitMetadata \
	./commitlog:FuzzParseProperties ./commitlog:FuzzParseCheckpointKey \
	./schemas:FuzzParseType ./schemas:FuzzJSONDecode ./schemas:FuzzAvroDecode \
	./schemas:FuzzParseAvroSchema ./schemas:FuzzAvroPlan ./schemas:FuzzParseDecimal \
	./schemas:FuzzParseTimestamp ./schemas:FuzzTimeParsersMatchReference ./schemas:FuzzStrMatchesReference \
	./schemas:FuzzShortInt ./bucketing:FuzzPartitionPath ./writer:FuzzStagedRow \
	./internal/redact:FuzzURL ./internal/parquetfile:FuzzTruncateBounds
# Targets whose executions take milliseconds (whole files written and read
# back) run for FUZZTIME_SLOW.
FUZZ_SLOW_TARGETS := ./internal/parquetfile:FuzzRoundTrip
FUZZTIME_SLOW ?= $(FUZZTIME)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS) $(FUZZ_SLOW_TARGETS:%=slow:%); do \
		fuzztime=$(FUZZTIME); case $$t in slow:*) t=$${t#slow:}; fuzztime=$(FUZZTIME_SLOW);; esac; \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$pkg $$name for $$fuzztime"; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$fuzztime -fuzzminimizetime 2s $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		echo "$$out" | tail -1; \
	done

# Benchmarks: the pipeline in process (GOMAXPROCS 1 and 2) against DuckDB
# converting the same records, and the decoders and writers on their own.
# The pipeline comparison runs PIPELINE_BENCHTIME records (steady state:
# the pipeline's buffers and dictionary tables grow in its first second),
# PIPELINE_COUNT times each; the machine's speed varies from run to run,
# so compare ranges (docs/benchmarks.md).
BENCHTIME ?= 200000x
PIPELINE_BENCHTIME ?= 2000000x
PIPELINE_COUNT ?= 3
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkPipeline$$|BenchmarkPipelineFetch$$|BenchmarkDuckDBReference$$' -benchtime $(PIPELINE_BENCHTIME) -cpu 1,2 -count $(PIPELINE_COUNT) ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkWriteColumns|BenchmarkParquetGoWriteRows' -benchtime 2000000x -cpu 1 -count 3 ./internal/parquetfile
	$(GO) test -run '^$$' -bench 'BenchmarkHotBucket' -benchtime $(BENCHTIME) -cpu 2 -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkCheckpointStorageLatency' -benchtime 20x -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkManyBuckets' -benchtime 200000x -cpu 2 -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkBigCheckpoint' -benchtime 100000x -cpu 2 -count 1 -timeout 30m ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkCommitManyFiles' -benchtime 1x -count 2 ./commitlog
	$(GO) test -run '^$$' -bench 'BenchmarkSkew' -benchtime 1x -cpu 2 -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench . -cpu 1 -count 1 ./schemas ./writer
	$(GO) test -run '^$$' -bench 'KeyGroupBalance' -benchtime 1x -count 1 ./bucketing
	$(GO) test -run '^$$' -bench 'Route|Worker|Hash' -benchmem -count 1 ./bucketing
	$(GO) test -run '^$$' -bench 'Fairness' -benchtime 1x -count 1 ./source
	$(GO) test -run '^$$' -bench 'ObserveEventTime' -benchtime 200000x -count 1 ./source

clean:
	rm -rf bin

# The exactly-once torture test at length: ingestd replicas SIGKILLed,
# crashed at every failpoint, stopped, added and removed for TORTURE_CYCLES
# cycles per storage (local filesystem and versitygw S3) and per Kafka
# (E2E_KAFKA: kfake and three Apache Kafka brokers), then every produced
# record checked once in the table. One summary line per run. Kafka faults
# and SIGSTOP zombies are in every run: on kfake NOT_LEADER, dropped
# connections, broker restarts, leader elections, coordinator moves; on
# Apache Kafka the leader of a partition stopped (SIGTERM) or killed
# (SIGKILL) and started again. TestTortureKafkaRestart restarts a
# single-broker cluster's only broker TORTURE_RESTART_CYCLES times (with
# replica kills). LAKESTREAM_TORTURE_ZOMBIES=1 adds zombies stalled before
# their commit and runs TestTortureZombie too. LAKESTREAM_TORTURE_SEED=<n>
# replays a run's actions. Runs on Apache Kafka are strict (a replica that
# exits on its own across a Kafka restart, or a SIGTERM that does not exit
# 0, fails them); on kfake they are counted only. LAKESTREAM_TORTURE_STRICT=1
# or 0 says so for both. TestChurn SIGKILLs and restarts two replicas
# CHURN_CYCLES times with the default session settings, on both group
# protocols (make test runs 4 cycles, classic protocol only).
TORTURE_CYCLES ?= 250
TORTURE_RESTART_CYCLES ?= 30
CHURN_CYCLES ?= 20
.PHONY: torture
torture: tools
	LAKESTREAM_KAFKA=$(E2E_KAFKA) LAKESTREAM_TORTURE_ZOMBIES=1 LAKESTREAM_TORTURE_CYCLES=$(TORTURE_CYCLES) \
		LAKESTREAM_TORTURE_RESTART_CYCLES=$(TORTURE_RESTART_CYCLES) LAKESTREAM_CHURN_CYCLES=$(CHURN_CYCLES) \
		$(GO) test -count=1 -v -run '^TestTorture|^TestChurn$$' -timeout 240m ./e2e/
