# lakestream build, test and demo targets. Everything a target needs is
# installed by the targets themselves (Go modules, pinned tools under .tools/).

GO          ?= go
TOOLS       := $(CURDIR)/.tools
VERSITYGW   := $(TOOLS)/versitygw
VERSITYGW_VERSION := v1.8.0
# promtool checks and unit-tests deploy/'s Prometheus rules (make deploy-test).
PROMTOOL    := $(TOOLS)/promtool
PROMTOOL_VERSION := v0.316.0

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

# Static binaries without the symbol table and DWARF (-s -w: a third of
# their size; stack traces and pprof keep function names and lines), as the
# image builds them (deploy/Dockerfile).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/ingestd ./cmd/ingestd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/compactor ./cmd/compactor

# The main job on embedded defaults: in-process Kafka, a table under
# ./demo-warehouse, DuckDB reading the result.
demo: build
	$(GO) run ./e2e/demo -ingestd bin/ingestd -warehouse demo-warehouse

tools: $(VERSITYGW) kafka

$(VERSITYGW):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# promtool (Prometheus's), about 120 MB; its first build takes minutes.
.PHONY: promtool deploy-test
promtool: $(PROMTOOL)

$(PROMTOOL):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

# The deployment files under deploy/ (docs/operations.md), a Go module of
# their own: the Kubernetes manifests decoded strictly and built with
# Kustomize, each topic's table.yaml through ingestd's validation, the
# Dockerfile parsed and its build stage run by hand (docker build is not
# run), promtool check rules and test rules, the dashboard's queries.
# cmd/ingestd's TestDeployMetricsExist (in go test ./...) checks the metric
# names against a real scrape.
deploy-test: $(PROMTOOL)
	cd deploy && $(GO) vet ./...
	cd deploy && LAKESTREAM_PROMTOOL=$(PROMTOOL) LAKESTREAM_REQUIRE_PROMTOOL=1 $(GO) test -count=1 -timeout 15m ./...

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
	$(MAKE) --no-print-directory deploy-test

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
# make test uses a count of executions, not a duration: with a duration,
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when the time runs out under load (golang/go#75804, fixed in Go
# 1.27); a real finding always prints "Failing input written to".
# A count has no deadline to race.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./table/hudi:FuzzParseTimelineFileName ./table/hudi:FuzzParseCommitMetadata \
	./table/hudi:FuzzParseProperties ./table/hudi:FuzzParseCheckpointKey \
	./schemas:FuzzParseType ./schemas:FuzzJSONDecode ./schemas:FuzzAvroDecode \
	./schemas:FuzzParseAvroSchema ./schemas:FuzzAvroPlan ./schemas:FuzzParseDecimal \
	./schemas:FuzzParseTimestamp ./schemas:FuzzTimeParsersMatchReference ./schemas:FuzzStrMatchesReference \
	./schemas:FuzzShortInt ./bucketing:FuzzPartitionPath ./writer:FuzzStagedRow \
	./internal/redact:FuzzURL ./internal/parquetfile:FuzzTruncateBounds \
	./internal/parquetfile:FuzzRemapIndexes ./internal/parquetfile:FuzzPageIndexDecoders \
	./internal/parquetfile:FuzzPageHeaderDecoder ./internal/parquetfile:FuzzZstdStoredContent \
	./iceberg/filestats:FuzzFooterFromTail ./iceberg/filestats:FuzzReadSidecar
# Targets whose executions take milliseconds (whole files written and read
# back) run for FUZZTIME_SLOW.
FUZZ_SLOW_TARGETS := ./internal/parquetfile:FuzzRoundTrip ./internal/parquetfile:FuzzMerge \
	./internal/parquetfile:FuzzMergeCorruptInput
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
	$(GO) test -run '^$$' -bench 'BenchmarkMergePageviews' -benchtime 3x -count 1 ./internal/parquetfile
	$(GO) test -run '^$$' -bench 'BenchmarkHotBucket' -benchtime $(BENCHTIME) -cpu 2 -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkCheckpointStorageLatency' -benchtime 20x -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkManyBuckets' -benchtime 200000x -cpu 2 -count 1 ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkBigCheckpoint' -benchtime 100000x -cpu 2 -count 1 -timeout 30m ./checkpoint
	$(GO) test -run '^$$' -bench 'BenchmarkCommitManyFiles' -benchtime 1x -count 2 ./table/hudi
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
# record checked once in the table, and in its Iceberg snapshot. In
# TestTorture the compactor runs beside the replicas all along: one-shot
# runs, SIGKILLs, a crash at each of its failpoints, two at once, --loop;
# the run must end with a completed replacecommit
# (LAKESTREAM_TORTURE_COMPACTOR=0 leaves it out, LAKESTREAM_TORTURE_ICEBERG=0
# turns Iceberg publishing off). One summary line per run. Kafka faults
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

# Real engines read the tables lakestream writes (docs/compatibility.md):
# Spark 3.5 with the Hudi 0.15 and 1.2 Spark bundles, and hudi-rs; then the
# same tables published as Iceberg, read by DuckDB's iceberg extension,
# pyiceberg, Spark 3.5 with the Iceberg Spark runtime and Trino. Needs
# Java 17 (java on PATH), Java 24 or later for Trino (COMPAT_TRINO_JAVA),
# Python 3.11, Maven and unzip; everything else is downloaded once into
# .tools/ (a Python venv from compat/requirements.txt, pinned with hashes;
# the Maven artifacts of compat/jars.txt, checked against their SHA-256)
# and the run works offline after that. make test needs none of it.
# LAKESTREAM_COMPAT_ENGINES=trino,pyiceberg (engine names as in the
# summary) runs only those readers; LAKESTREAM_COMPAT_TABLES=compacted
# (e2e, torture, late, compacted) makes and checks only those tables.
COMPAT_PYTHON_BIN ?= python3.11
COMPAT_VENV       := $(TOOLS)/compat-venv
COMPAT_M2         := $(TOOLS)/m2
# label=jar for each Hudi Spark bundle, in the order they run.
COMPAT_BUNDLES := $(shell awk '!/^\#/ && NF == 2 && $$1 ~ /^org\.apache\.hudi:/ { split($$1, c, ":"); g = c[1]; gsub(/\./, "/", g); \
	printf "%s=$(COMPAT_M2)/%s/%s/%s/%s-%s.jar ", c[3], g, c[2], c[3], c[2], c[3] }' compat/jars.txt)
# The Iceberg Spark runtime jar.
COMPAT_ICEBERG_SPARK_JAR := $(shell awk '!/^\#/ && NF == 2 && $$1 ~ /^org\.apache\.iceberg:iceberg-spark-runtime/ { split($$1, c, ":"); \
	g = c[1]; gsub(/\./, "/", g); printf "$(COMPAT_M2)/%s/%s/%s/%s-%s.jar", g, c[2], c[3], c[2], c[3] }' compat/jars.txt)
# Trino: the lib/ of trino-server-core (not the full server tarball) and
# the Iceberg plugin, both pinned in compat/jars.txt, unpacked into
# COMPAT_TRINO_HOME; compat/trino_test.go runs it with COMPAT_TRINO_JAVA.
COMPAT_TRINO_VERSION := $(shell awk '!/^\#/ && $$1 ~ /^io\.trino:trino-server-core:/ { split($$1, c, ":"); print c[3] }' compat/jars.txt)
COMPAT_TRINO_HOME    := $(TOOLS)/trino-$(COMPAT_TRINO_VERSION)
COMPAT_TRINO_JAVA    ?= /usr/lib/jvm/temurin-25-jdk-amd64/bin/java

.PHONY: compat compat-tools compat-venv compat-jars compat-trino
compat: compat-tools
	LAKESTREAM_COMPAT_PYTHON=$(COMPAT_VENV)/bin/python \
	LAKESTREAM_COMPAT_SPARK_BUNDLES="$(COMPAT_BUNDLES)" \
	LAKESTREAM_COMPAT_ICEBERG_SPARK_JAR=$(COMPAT_ICEBERG_SPARK_JAR) \
	LAKESTREAM_COMPAT_TRINO_HOME=$(COMPAT_TRINO_HOME) \
	LAKESTREAM_COMPAT_TRINO_JAVA=$(COMPAT_TRINO_JAVA) \
	$(GO) test -tags compat -count=1 -v -timeout 26m ./compat/...

compat-tools: compat-venv compat-jars compat-trino
	@command -v java >/dev/null || { echo "make compat needs Java 17 (java on PATH) for Spark"; exit 1; }
	@[ -x "$(COMPAT_TRINO_JAVA)" ] || { echo "make compat needs Java 24 or later for Trino: COMPAT_TRINO_JAVA=$(COMPAT_TRINO_JAVA) is not there"; exit 1; }

compat-venv: $(COMPAT_VENV)/.installed
$(COMPAT_VENV)/.installed: compat/requirements.txt compat/build-requirements.txt
	@command -v $(COMPAT_PYTHON_BIN) >/dev/null || { echo "make compat needs $(COMPAT_PYTHON_BIN) (the hashes of compat/requirements.txt are for CPython 3.11)"; exit 1; }
	rm -rf $(COMPAT_VENV)
	$(COMPAT_PYTHON_BIN) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install -q --require-hashes -r compat/build-requirements.txt
	$(COMPAT_VENV)/bin/pip install -q --require-hashes --no-build-isolation -r compat/requirements.txt
	touch $@

compat-jars: $(TOOLS)/compat-jars.ok
$(TOOLS)/compat-jars.ok: compat/jars.txt
	@command -v mvn >/dev/null || { echo "make compat needs Maven (mvn) to download the jars of compat/jars.txt"; exit 1; }
	@set -e; grep -v '^#' compat/jars.txt | while read -r coord sum; do \
		[ -n "$$coord" ] || continue; \
		g=$${coord%%:*}; rest=$${coord#*:}; a=$${rest%%:*}; rest=$${rest#*:}; v=$${rest%%:*}; \
		ext=jar; case $$rest in *:*) ext=$${rest#*:};; esac; \
		jar=$(COMPAT_M2)/$$(echo $$g | tr . /)/$$a/$$v/$$a-$$v.$$ext; \
		[ -f "$$jar" ] || mvn -q -B -Dstyle.color=never dependency:get -Dmaven.repo.local=$(COMPAT_M2) -Dtransitive=false -Dartifact=$$coord; \
		echo "$$sum  $$jar" | sha256sum -c --quiet - || { echo "$$jar: SHA-256 differs from compat/jars.txt"; rm -f "$$jar"; exit 1; }; \
	done
	touch $@

# trino-server-core's lib/ and the Iceberg plugin as plugin/iceberg, built
# aside and renamed when complete.
compat-trino: $(COMPAT_TRINO_HOME)/.installed
$(COMPAT_TRINO_HOME)/.installed: $(TOOLS)/compat-jars.ok
	@command -v unzip >/dev/null || { echo "make compat needs unzip for Trino's Iceberg plugin"; exit 1; }
	rm -rf $(COMPAT_TRINO_HOME).tmp
	mkdir -p $(COMPAT_TRINO_HOME).tmp/plugin
	tar xzf $(COMPAT_M2)/io/trino/trino-server-core/$(COMPAT_TRINO_VERSION)/trino-server-core-$(COMPAT_TRINO_VERSION).tar.gz \
		-C $(COMPAT_TRINO_HOME).tmp --strip-components=1 trino-server-core-$(COMPAT_TRINO_VERSION)/lib
	unzip -q -d $(COMPAT_TRINO_HOME).tmp/plugin $(COMPAT_M2)/io/trino/trino-iceberg/$(COMPAT_TRINO_VERSION)/trino-iceberg-$(COMPAT_TRINO_VERSION).zip
	mv $(COMPAT_TRINO_HOME).tmp/plugin/trino-iceberg-$(COMPAT_TRINO_VERSION) $(COMPAT_TRINO_HOME).tmp/plugin/iceberg
	rm -rf $(COMPAT_TRINO_HOME) && mv $(COMPAT_TRINO_HOME).tmp $(COMPAT_TRINO_HOME)
	touch $@
