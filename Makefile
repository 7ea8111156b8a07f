# Khalid Tracker. `make run` starts the native stack, `make check` runs every test
# (release and ASan/UBSan builds, the worker under valgrind too); `make SANITIZE=1 …` builds
# with ASan/UBSan into build/sanitize/, and `make SANITIZE=1 check` tests that build only.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKG_CONFIG ?= pkg-config

STD      := -std=c11
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wvla -Wundef
OPTIMIZE ?= -O2 -g
CPPFLAGS += -D_POSIX_C_SOURCE=200809L
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BUILD    := build/sanitize
else
SANFLAGS :=
BUILD    := build/release
endif

PKGS        := fcgi hiredis
PKG_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS     = $(shell $(PKG_CONFIG) --libs $(PKGS))
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check)
ALL_CFLAGS   = $(STD) $(WARNINGS) $(OPTIMIZE) $(SANFLAGS) $(CFLAGS)

WORKER   := $(BUILD)/khalid-fcgi
# The same worker with a clock that tests can set (KHALID_FAKE_NOW_FILE); never installed.
FAKECLOCK_WORKER := $(BUILD)/khalid-fcgi-fakeclock
# Code that reads outside data, with no libfcgi and no hiredis: unit tests and fuzz
# targets link these alone.
PURE_SRCS := buf.c chart.c cidr.c clock.c config.c file.c format.c log.c metrics.c referrer.c request.c response.c siphash.c \
             template.c ua.c
# The site behind the FastCGI loop: views, pages, routes and the Redis store.
SITE_SRCS := $(PURE_SRCS) metricspage.c pages.c resolve.c routes.c stats.c statspage.c store.c track.c trackpages.c \
             tracksums.c view.c
PURE_OBJS := $(PURE_SRCS:%.c=$(BUILD)/%.o)
SITE_OBJS := $(SITE_SRCS:%.c=$(BUILD)/%.o)
UNIT     := $(BUILD)/unit-tests
STORE    := $(BUILD)/store-tests
# The unit-test program: the pure suites, plus routes through the real templates.
UNIT_OBJS := $(addprefix $(BUILD)/unit/,test_unit_main.o test_template.o test_config.o \
             test_request.o test_response.o test_routes.o test_ua.o test_referrer.o test_cidr.o \
             test_siphash.o test_chart.o test_clock.o test_stats.o test_metrics.o scratch.o)

# Native stack settings, passed through to scripts/stack.sh, which holds their defaults:
# make run PORT=8080 WORKERS=4 FCGI_THREADS=32 STATE_DIR=/tmp/kt
export PORT WORKERS STATE_DIR FCGI_THREADS FASTCGI_KEEPALIVE NGINX_WORKER_PROCESSES

.PHONY: all worker fakeclock-worker check check-mutants unit-tests store-tests integration-tests check-compose check-browser \
        run monitor bench bench-sizing bench-deploy install uninstall clean deps deps-check

all: worker

worker: $(WORKER)

fakeclock-worker: $(FAKECLOCK_WORKER)

$(BUILD)/%.o: fcgi-app/%.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit/%.o: tests/unit/%.c | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -Ifcgi-app \
	    -DTEST_TEMPLATE_DIR=\"$(CURDIR)/templates\" -MMD -MP -c -o $@ $<

$(WORKER): $(SITE_OBJS) $(BUILD)/worker.o $(BUILD)/main.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -pthread

$(BUILD)/clock-fake.o: fcgi-app/clock.c | $(BUILD)
	$(CC) $(CPPFLAGS) -DKT_FAKE_CLOCK $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(FAKECLOCK_WORKER): $(filter-out $(BUILD)/clock.o,$(SITE_OBJS)) $(BUILD)/clock-fake.o $(BUILD)/worker.o $(BUILD)/main.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -pthread

$(UNIT): $(SITE_OBJS) $(UNIT_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -pthread

$(STORE): $(BUILD)/store.o $(BUILD)/resolve.o $(BUILD)/log.o $(BUILD)/unit/test_store.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -pthread

$(BUILD):
	mkdir -p $@

# Installs missing Debian packages when run as root, or says which command to run.
deps:
	@scripts/deps.sh

# Pure unit tests: no server, no network.
unit-tests: $(UNIT)
	$(UNIT)

# The Redis store against a real redis-server on a free port.
store-tests: $(STORE)
	$(STORE)

# The whole native stack (redis-server, spawn-fcgi workers, nginx) on free ports.
integration-tests: $(WORKER)
	/usr/bin/python3 tests/integration/run.py --worker $(WORKER)

check: deps
	@CHECK_SANITIZE=$(SANITIZE) tests/check.sh

# Deliberate bugs that make check must catch (minutes; not part of check): tests/mutants.sh
check-mutants: deps
	@tests/mutants.sh

# COMPOSE="docker-compose" (1.29) or a Compose v2 command tests that one; unset, both: v2 is
# the installed `docker compose` or built from the Go module proxy once and cached
# (scripts/compose-v2.sh); when it cannot be had, 1.29 alone, saying so.
check-compose:
	bash tests/check-compose.sh

# Docker Swarm, from the same compose.yml (README, Scaling out), on a manager node: the
# images built and tagged khalid-tracker/<service>:<version>, then `docker stack deploy`.
#   make swarm-deploy [STACK=khalid] [HTTP_PORT=5000] [WORKERS=3]
#   make swarm-rm [STACK=khalid]       (the volumes, and so the count, stay)
# scripts/swarm.sh holds the defaults; make check-swarm tests it on a single-node swarm.
.PHONY: swarm-deploy swarm-rm check-swarm
swarm-deploy:
	@scripts/swarm.sh deploy

swarm-rm:
	@scripts/swarm.sh rm

check-swarm:
	bash tests/check-swarm.sh

check-browser: deps $(WORKER)
	@scripts/deps.sh chromium chromium-driver python3-selenium
	/usr/bin/python3 tests/browser/run.py --worker $(WORKER)

run: deps $(WORKER)
	@KHALID_WORKER=$(WORKER) exec scripts/stack.sh run

# Prometheus (and the exporters it scrapes) for the stack `make run` started, with the same
# PORT and STATE_DIR, in the foreground: make monitor [PROMETHEUS_PORT=9090]
monitor: deps
	@exec monitoring/run.sh

# Redis's data (scripts/backup.sh; README, Operations). make backup [BACKUP_DIR=backups]
# while the stack runs; make restore FILE=backups/khalid-....rdb while it is stopped. The
# compose-* targets do the same to the compose deployment's volume (COMPOSE: its command).
.PHONY: backup restore compose-backup compose-restore
backup:
	@scripts/backup.sh backup

restore:
	@scripts/backup.sh restore "$(FILE)"

compose-backup:
	@scripts/backup.sh --compose backup

compose-restore:
	@scripts/backup.sh --compose restore "$(FILE)"

# Benchmarks (never part of check): make bench [DURATION=10] [CONNECTIONS=64]
DURATION    ?= 10
CONNECTIONS ?= 64
bench: $(WORKER)
	@scripts/deps.sh wrk
	/usr/bin/python3 bench/bench.py --worker $(WORKER) --duration $(DURATION) --connections $(CONNECTIONS)

bench-sizing: $(WORKER)
	@scripts/deps.sh wrk
	/usr/bin/python3 bench/bench.py --sizing --worker $(WORKER) --duration $(DURATION) --connections $(CONNECTIONS)

# The compose deployment (published port, and inside nginx's network namespace) beside the
# native stack, with the same wrk settings; needs a Docker engine.
bench-deploy: $(WORKER)
	@scripts/deps.sh wrk
	/usr/bin/python3 bench/deploy.py --worker $(WORKER) --duration $(DURATION) --connections $(CONNECTIONS)

# The compose deployment under mixed load, a Redis restart and a worker scale-down and up for
# SOAK_SECONDS, its processes' memory and descriptors compared at the start and the end
# (bench/soak.py; needs a Docker engine; never part of check or CI). make soak-native: the
# same against the native stack.
SOAK_SECONDS ?= 600
.PHONY: soak soak-native
soak:
	/usr/bin/python3 bench/soak.py --seconds $(SOAK_SECONDS)

soak-native: $(WORKER)
	/usr/bin/python3 bench/soak.py --native --worker $(WORKER) --seconds $(SOAK_SECONDS)

# --- Fuzzing ---------------------------------------------------------------------------
# libFuzzer targets tests/fuzz/fuzz_<name>.c, built with clang and ASan/UBSan into
# build/fuzz/ against the pure sources only. `make fuzz [FUZZ_SECONDS=60]` fuzzes each for
# FUZZ_SECONDS from a scratch copy of its seed corpus tests/fuzz/corpus/<name>/; `make
# fuzz-smoke` (CI) runs every corpus file through every target, then fuzzes them for
# FUZZ_SMOKE_SECONDS in all (plus a second or so a target to start and stop: under a
# minute for ten). Any crash, leak or UBSan report fails, its input kept in
# build/fuzz/artifacts/. Never part of check.
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_DIR       := build/fuzz
# Not the release flags: libFuzzer wants light optimisation and every sanitizer fatal.
FUZZ_CFLAGS    := $(STD) $(WARNINGS) -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=all
FUZZ_TARGETS   := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_PURE_OBJS := $(PURE_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)

.PHONY: fuzz fuzz-smoke fuzz-deps

fuzz: $(FUZZ_TARGETS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Each target's share is rounded up: libFuzzer reads -max_total_time=0 as no limit.
fuzz-smoke: $(FUZZ_TARGETS)
	tests/fuzz/run.sh --replay $(FUZZ_TARGETS)
	tests/fuzz/run.sh $$(( ($(FUZZ_SMOKE_SECONDS) + $(words $(FUZZ_TARGETS)) - 1) / $(words $(FUZZ_TARGETS)) )) \
	    $(FUZZ_TARGETS)

fuzz-deps:
	@scripts/deps.sh clang libfuzzer-14-dev libclang-rt-14-dev

# Coverage-instrumented, without libFuzzer's main(); archived so that each target links
# only the pure modules it calls.
$(FUZZ_DIR)/obj/%.o: fcgi-app/%.c | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libpure.a: $(FUZZ_PURE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_TARGETS): $(FUZZ_DIR)/%: tests/fuzz/%.c $(FUZZ_DIR)/libpure.a | fuzz-deps
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Ifcgi-app -MMD -MP -MF $@.d -o $@ $< \
	    $(FUZZ_DIR)/libpure.a

-include $(wildcard $(FUZZ_DIR)/*.d $(FUZZ_DIR)/obj/*.d)
# --- end of Fuzzing --------------------------------------------------------------------

install: $(WORKER)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/khalid-tracker/templates/static
	install -m 0755 $(WORKER) $(DESTDIR)$(PREFIX)/bin/khalid-fcgi
	install -m 0644 templates/*.html templates/quotes.txt $(DESTDIR)$(PREFIX)/share/khalid-tracker/templates/
	install -m 0644 templates/static/* $(DESTDIR)$(PREFIX)/share/khalid-tracker/templates/static/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/khalid-fcgi
	rm -rf $(DESTDIR)$(PREFIX)/share/khalid-tracker

clean:
	rm -rf build

-include $(wildcard $(BUILD)/*.d $(BUILD)/unit/*.d)
