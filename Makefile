# ngx_http_adcp_module: build, test, demo and bench entry points.
#
#   make            build build/ngx_http_adcp_module.so against Debian's
#                   nginx-dev tree (objects stay under build/)
#   make check      unit tests + integration tests
#   make test       make check, the integration tests under valgrind and
#                   under ASan + UBSan, and the fuzz smoke runs
#   make test-asan  the integration tests against an nginx built from
#                   Debian's source with ASan + UBSan and NGX_DEBUG_PALLOC
#   make fuzz       every libFuzzer target for FUZZ_SECONDS
#   make demo       start the demo gateway (conf-examples/quickstart.conf)
#   make bench      run bench/ (bench/run.sh: installs what it needs, prints
#                   a table, writes bench/RESULTS.md; BENCH_QUICK=1 fast)

SHELL       := /bin/bash
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
BUILD       := build
NGX         := $(BUILD)/nginx
MODULE      := $(BUILD)/ngx_http_adcp_module.so
CC_OPT      ?= -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -Wdate-time \
               -D_FORTIFY_SOURCE=2 -Werror
LD_OPT      ?= -Wl,-z,relro -Wl,-z,now -fPIC
SOURCES     := ngx_http_adcp_module.c $(wildcard src/*.c src/*.h)
PROVE       ?= prove
PROVE_OPT   ?= -j2
VALGRIND_UNIT := valgrind -q --leak-check=full --error-exitcode=99 --errors-for-leak-kinds=definite

UNIT_SRCS   := $(wildcard t/unit/test_*.c)
UNIT_BINS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_CFLAGS := -g -O1 -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
               -I$(NGX)/objs -I$(NGX)/src/core -I$(NGX)/src/event \
               -I$(NGX)/src/event/modules -I$(NGX)/src/os/unix \
               -I$(NGX)/src/http -I$(NGX)/src/http/modules \
               -I$(NGX)/src/http/v2 -Isrc -It/unit

FUZZ_SECONDS ?= 30
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_TARGETS := envelope envelope_strict descriptor tenant_id bus
FUZZ_BINS   := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined \
               $(filter -I%,$(UNIT_CFLAGS))
FUZZ_LINK_envelope   := src/ngx_http_adcp_envelope.c src/ngx_http_adcp_json.c
FUZZ_LINK_envelope_strict := src/ngx_http_adcp_envelope.c \
                        src/ngx_http_adcp_json.c
FUZZ_LINK_descriptor := src/ngx_http_adcp_descriptor.c \
                        src/ngx_http_adcp_cache.c src/ngx_http_adcp_json.c
FUZZ_LINK_tenant_id  :=
FUZZ_LINK_bus        := src/ngx_http_adcp_bus.c

# nginx from Debian's source package (the orig tarball apt-get source
# fetches, checked against the Sources index by apt), built with clang,
# ASan + UBSan and NGX_DEBUG_PALLOC (every pool allocation a malloc()),
# this module linked in statically.  nonnull-attribute is left out: nginx
# passes NULL with a zero length to memcpy() all along (ngx_pstrdup() of an
# empty string at start-up), and a report in the master would start the
# symbolizer there, shared by every worker it forks (garbled reports,
# workers stuck at exit)
ASAN        := $(BUILD)/asan
ASAN_NGX    := $(ASAN)/nginx-1.22.1
ASAN_NGINX  := $(ASAN_NGX)/objs/nginx
ASAN_TARBALL := $(ASAN)/nginx_1.22.1.orig.tar.gz
ASAN_CC_OPT := -g -O1 -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fsanitize-recover=address \
               -fno-sanitize=nonnull-attribute \
               -fsanitize-ignorelist=$(CURDIR)/t/ubsan.ignore \
               -DNGX_DEBUG_PALLOC=1
ASAN_LD_OPT := -fsanitize=address,undefined

.PHONY: all check test test-unit test-integration test-valgrind demo \
        demo-stop bench clean fuzz fuzz-smoke test-asan asan FORCE

all: $(MODULE)

$(NGX)/objs/Makefile: config
	rm -rf $(NGX)
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(NGX)
	cd $(NGX) && . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(CC_OPT)' --with-ld-opt='$(LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	    || { cat configure.log; exit 1; }

$(MODULE): $(NGX)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(NGX) -f objs/Makefile modules
	cp $(NGX)/objs/ngx_http_adcp_module.so $@.tmp
	mv $@.tmp $@    # a new inode: a running nginx keeps its copy

# each unit test links the module files it tests and t/unit/ngx_stubs.c
UNIT_LINK_test_envelope  := src/ngx_http_adcp_envelope.c \
                            src/ngx_http_adcp_json.c
UNIT_LINK_test_tenant_id :=
UNIT_LINK_test_cache     := src/ngx_http_adcp_cache.c
UNIT_LINK_test_descriptor := src/ngx_http_adcp_descriptor.c \
                             src/ngx_http_adcp_cache.c \
                             src/ngx_http_adcp_json.c

.SECONDEXPANSION:
$(BUILD)/unit/%: t/unit/%.c t/unit/ngx_stubs.c t/unit/ngx_stubs.h \
                 t/unit/tap.h $(SOURCES) $(NGX)/objs/Makefile Makefile
	mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -o $@ $< t/unit/ngx_stubs.c \
	    $(UNIT_LINK_$*) -lyajl

test-unit: $(UNIT_BINS)
	$(PROVE) $(UNIT_BINS)

test-integration: $(MODULE)
	$(PROVE) $(PROVE_OPT) t/

check: test-unit test-integration

test-valgrind: $(MODULE) $(UNIT_BINS)
	$(PROVE) --exec '$(VALGRIND_UNIT)' $(UNIT_BINS)
	ADCP_TEST_VALGRIND=1 $(PROVE) $(PROVE_OPT) t/

# ASan + UBSan: the harness fails a test on any sanitizer report
# (t/lsan.supp holds only nginx's own leaks, seen without this module)
# the flags, remembered: a change rebuilds
$(ASAN)/cc-opt: FORCE
	mkdir -p $(ASAN)
	echo '$(ASAN_CC_OPT) $(ASAN_LD_OPT)' | cmp -s - $@ \
	    || echo '$(ASAN_CC_OPT) $(ASAN_LD_OPT)' > $@

$(ASAN_TARBALL):
	mkdir -p $(ASAN)
	cd $(ASAN) && { apt-get source --download-only nginx \
	    > apt-source.log 2>&1 || true; }
	test -s $@ || { cat $(ASAN)/apt-source.log; echo "no $@:" \
	    "apt-get source needs a deb-src entry (./run adds it)"; exit 1; }

$(ASAN_NGX)/objs/Makefile: $(ASAN_TARBALL) config $(ASAN)/cc-opt Makefile \
                           t/ubsan.ignore
	rm -rf $(ASAN_NGX)
	tar -xzf $(ASAN_TARBALL) -C $(ASAN)
	cd $(ASAN_NGX) && ./configure --with-cc=clang \
	    --with-cc-opt='$(ASAN_CC_OPT)' --with-ld-opt='$(ASAN_LD_OPT)' \
	    --with-compat --with-debug --with-threads --with-pcre-jit \
	    --with-http_auth_request_module --with-http_realip_module \
	    --with-http_v2_module \
	    --add-module=$(CURDIR) > configure.log 2>&1 \
	    || { cat configure.log; exit 1; }

$(ASAN_NGINX): $(ASAN_NGX)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(ASAN_NGX) -f objs/Makefile binary

asan: $(ASAN_NGINX)

test-asan: $(ASAN_NGINX)
	ADCP_TEST_ASAN=1 ADCP_TEST_NGINX=$(CURDIR)/$(ASAN_NGINX) \
	    $(PROVE) $(PROVE_OPT) t/

test: check test-valgrind test-asan fuzz-smoke

demo: $(MODULE)
	sh conf-examples/demo.sh start

demo-stop:
	sh conf-examples/demo.sh stop

bench:
	sh bench/run.sh

# libFuzzer with ASan and UBSan (clang, Debian's libclang-rt-14-dev): each
# target runs FUZZ_SECONDS from its seed corpus in t/fuzz/corpus/<target>
$(BUILD)/fuzz/fuzz_%: t/fuzz/fuzz_%.c t/unit/ngx_stubs.c $(SOURCES) \
                      $(NGX)/objs/Makefile Makefile
	mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< t/unit/ngx_stubs.c $(FUZZ_LINK_$*) -lyajl

fuzz: $(FUZZ_BINS)
	for t in $(FUZZ_TARGETS); do \
	    echo "fuzz_$$t, $(FUZZ_SECONDS) s:"; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	        $$(test -f t/fuzz/$$t.dict && echo -dict=t/fuzz/$$t.dict) \
	        $(BUILD)/fuzz/corpus-$$t t/fuzz/corpus/$$t \
	        2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' ; \
	    test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

clean:
	rm -rf $(BUILD)
