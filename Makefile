# ngx_http_adcp_module: build, test, demo and bench entry points.
#
#   make            build build/ngx_http_adcp_module.so against Debian's
#                   nginx-dev tree (objects stay under build/)
#   make check      dependency rules (t/check/deps.pl), unit tests,
#                   integration tests
#   make test       make check, the integration tests under valgrind and
#                   under ASan + UBSan, the fuzz smoke runs, the integration
#                   tests against nginx 1.26, the package (make deb) and,
#                   with ADCP_TEST_DEB=1, its install test (make test-deb)
#   make test-asan  the integration tests against an nginx built from
#                   Debian's source with ASan + UBSan and NGX_DEBUG_PALLOC
#   make fuzz       every libFuzzer target for FUZZ_SECONDS
#   make demo       start the demo gateway (conf-examples/quickstart.conf)
#   make bench      run bench/ (bench/run.sh: installs what it needs, prints
#                   a table, writes bench/RESULTS.md; BENCH_QUICK=1 fast)
#   make test-nginx-new  the integration tests against the newer nginx of
#                   Debian 13 (trixie), built from its source package
#   make NGINX_SRC=<nginx tree> [nginx]  the module (and nginx) built
#                   against another nginx source tree, in build/nginx
#   make deb        the Debian package libnginx-mod-http-adcp (debian/),
#                   built by dpkg-buildpackage in build/deb, lintian-checked

SHELL       := /bin/bash
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
BUILD       := build
# an nginx tree without Debian's conf_flags (an upstream release) is
# configured with these: Debian 12's modules and --with-compat, nginx's
# default paths under the -p prefix, error_log to stderr until nginx.conf's
NGINX_CONF_FLAGS ?= --error-log-path=stderr --with-compat --with-debug \
               --with-pcre-jit --with-threads --with-http_ssl_module \
               --with-http_stub_status_module --with-http_realip_module \
               --with-http_auth_request_module --with-http_v2_module \
               --with-http_dav_module --with-http_slice_module
NGX         := $(BUILD)/nginx
MODULE      := $(BUILD)/ngx_http_adcp_module.so
CC_OPT      ?= -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -Wdate-time \
               -D_FORTIFY_SOURCE=2 -Werror
LD_OPT      ?= -Wl,-z,relro -Wl,-z,now -fPIC
SOURCES     := ngx_http_adcp_module.c $(wildcard src/*.c src/*.h) \
               $(wildcard src/*/*.c src/*/*.h)
PROVE       ?= prove
PROVE_OPT   ?= -j2
VALGRIND_UNIT := valgrind -q --leak-check=full --error-exitcode=99 --errors-for-leak-kinds=definite

UNIT_SRCS   := $(wildcard t/unit/test_*.c)
UNIT_BINS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_CFLAGS := -g -O1 -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
               -I$(NGX)/objs -I$(NGX)/src/core -I$(NGX)/src/event \
               -I$(NGX)/src/event/modules -I$(NGX)/src/os/unix \
               -I$(NGX)/src/http -I$(NGX)/src/http/modules \
               -I$(NGX)/src/http/v2 -Isrc -Isrc/redis -Isrc/tasks -It/unit

# webhook signing's files, and its verifier (tests and fuzz only: config
# does not list it)
SIGN_LINK := src/tasks/ngx_http_adcp_tasks_sign.c \
             src/tasks/ngx_http_adcp_tasks_sign_uri.c \
             src/tasks/ngx_http_adcp_tasks_sign_key.c \
             src/tasks/ngx_http_adcp_tasks_sign_pnc.c \
             src/tasks/ngx_http_adcp_tasks_verify.c \
             src/ngx_http_adcp_json.c

FUZZ_SECONDS ?= 30
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_TARGETS := envelope envelope_strict descriptor tenant_id bus reply sign
FUZZ_BINS   := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined \
               $(filter -I%,$(UNIT_CFLAGS))
FUZZ_LINK_envelope   := src/ngx_http_adcp_envelope.c \
                        src/ngx_http_adcp_envelope_callbacks.c \
                        src/ngx_http_adcp_envelope_fast.c \
                        src/ngx_http_adcp_envelope_scan.c \
                        src/ngx_http_adcp_json.c
FUZZ_LINK_envelope_strict := src/ngx_http_adcp_envelope.c \
                        src/ngx_http_adcp_envelope_callbacks.c \
                        src/ngx_http_adcp_envelope_fast.c \
                        src/ngx_http_adcp_envelope_scan.c \
                        src/ngx_http_adcp_json.c
FUZZ_LINK_descriptor := src/ngx_http_adcp_descriptor.c \
                        src/ngx_http_adcp_cache.c src/ngx_http_adcp_json.c
FUZZ_LINK_tenant_id  :=
FUZZ_LINK_bus        := src/ngx_http_adcp_bus.c
FUZZ_LINK_reply      := src/tasks/ngx_http_adcp_tasks_reply.c \
                        src/ngx_http_adcp_json.c $(BUILD)/unit/nginx-src/ngx_string.c
FUZZ_LINK_sign       := $(SIGN_LINK) -lcrypto

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

.PHONY: all buyer check check-deps test test-unit test-integration test-valgrind \
        demo demo-stop bench clean fuzz fuzz-smoke test-asan asan FORCE deb \
        nginx nginx-new test-nginx-new test-deb

all: $(MODULE)

# the nginx tree and its flags, remembered: another one rebuilds
$(BUILD)/nginx-src: FORCE
	@mkdir -p $(BUILD)
	@echo '$(NGINX_SRC) $(NGINX_CONF_FLAGS)' | cmp -s - $@ \
	    || echo '$(NGINX_SRC) $(NGINX_CONF_FLAGS)' > $@

$(NGX)/objs/Makefile: config $(BUILD)/nginx-src
	rm -rf $(NGX)
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(NGX)
	cd $(NGX) && if [ -f conf_flags ]; then . ./conf_flags; \
	    else NGX_CONF_FLAGS=($(NGINX_CONF_FLAGS)); fi \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(CC_OPT)' --with-ld-opt='$(LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	    || { cat configure.log; exit 1; }

$(MODULE): $(NGX)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(NGX) -f objs/Makefile modules
	cp $(NGX)/objs/ngx_http_adcp_module.so $@.tmp
	mv $@.tmp $@    # a new inode: a running nginx keeps its copy

# nginx itself from the same tree (for NGINX_BIN with another NGINX_SRC)
nginx: $(NGX)/objs/nginx

$(NGX)/objs/nginx: $(NGX)/objs/Makefile
	$(MAKE) -C $(NGX) -f objs/Makefile binary

# each unit test links the module files it tests and t/unit/ngx_stubs.c
UNIT_LINK_test_envelope  := src/ngx_http_adcp_envelope.c \
                            src/ngx_http_adcp_envelope_callbacks.c \
                            src/ngx_http_adcp_envelope_fast.c \
                            src/ngx_http_adcp_envelope_scan.c \
                            src/ngx_http_adcp_json.c
UNIT_LINK_test_envelope_scan := src/ngx_http_adcp_envelope_scan.c
UNIT_LINK_test_tenant_id :=
UNIT_LINK_test_cache     := src/ngx_http_adcp_cache.c
UNIT_LINK_test_descriptor := src/ngx_http_adcp_descriptor.c \
                             src/ngx_http_adcp_cache.c \
                             src/ngx_http_adcp_json.c
# the tasks' pure parts, with the nginx core files they call (taken from
# the source package the ASan build uses: nginx-dev has headers only)
UNIT_NGX    := $(BUILD)/unit/nginx-src
UNIT_NGX_CORE := $(UNIT_NGX)/ngx_string.c $(UNIT_NGX)/ngx_inet.c \
                 $(UNIT_NGX)/ngx_md5.c $(UNIT_NGX)/ngx_http_parse.c
UNIT_LINK_test_rbtree     := src/ngx_http_adcp_rbtree.c \
                             $(UNIT_NGX)/ngx_rbtree.c $(UNIT_NGX)/ngx_string.c
UNIT_LINK_test_tasks_url  := src/tasks/ngx_http_adcp_tasks_url.c \
                             $(UNIT_NGX_CORE)
UNIT_LINK_test_tasks_hash := src/tasks/ngx_http_adcp_tasks_hash.c \
                             $(UNIT_NGX_CORE)
UNIT_LINK_test_tasks_reply := src/tasks/ngx_http_adcp_tasks_reply.c \
                              src/ngx_http_adcp_json.c $(UNIT_NGX_CORE)
UNIT_LINK_test_tasks_response := src/tasks/ngx_http_adcp_tasks_response.c \
                                 $(UNIT_NGX_CORE)
UNIT_LINK_test_tasks_retry := src/tasks/ngx_http_adcp_tasks_retry.c
UNIT_LINK_test_tasks_sign := $(SIGN_LINK) -lcrypto

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

# no cycle between .c files, hiredis only under src/redis/
check-deps: $(MODULE)
	perl t/check/deps.pl $(NGX)/objs/addon src ngx_http_adcp_module.c

check: check-deps test-unit buyer test-integration

# the reference buyer library (npm's @adcp/client, pinned by
# t/buyer/package-lock.json) for t/40-buyer-client.t; without npm, or
# without the registry, that test says so and skips
BUYER := $(BUILD)/buyer/installed

$(BUYER): t/buyer/package.json t/buyer/package-lock.json
	mkdir -p $(BUILD)/buyer
	cp t/buyer/package.json t/buyer/package-lock.json $(BUILD)/buyer/
	if command -v npm > /dev/null; then \
	    cd $(BUILD)/buyer && timeout 300 npm ci --no-audit --no-fund \
	        --ignore-scripts > npm.log 2>&1 && touch installed \
	    || { tail -5 npm.log; echo "buyer library not installed"; }; \
	else \
	    echo "no npm: t/40-buyer-client.t will skip"; \
	fi

buyer:
	-$(MAKE) $(BUYER)

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

$(BUILD)/unit/test_tasks_url $(BUILD)/unit/test_tasks_hash \
$(BUILD)/unit/test_tasks_reply $(BUILD)/unit/test_tasks_response \
$(BUILD)/fuzz/fuzz_reply: $(UNIT_NGX_CORE)

$(BUILD)/unit/test_rbtree: $(UNIT_NGX)/ngx_rbtree.c $(UNIT_NGX)/ngx_string.c

$(UNIT_NGX_CORE) $(UNIT_NGX)/ngx_rbtree.c: $(ASAN_TARBALL)
	mkdir -p $(UNIT_NGX)
	tar -xzf $(ASAN_TARBALL) -C $(UNIT_NGX) --strip-components=3 \
	    nginx-1.22.1/src/$(if $(filter ngx_http_%,$(notdir $@)),http,core)/$(notdir $@)
	touch $@

test-asan: $(ASAN_NGINX)
	ADCP_TEST_ASAN=1 ADCP_TEST_NGINX=$(CURDIR)/$(ASAN_NGINX) \
	    $(PROVE) $(PROVE_OPT) t/

test: check test-valgrind test-asan fuzz-smoke test-nginx-new test-deb

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

# the newer nginx: Debian 13 (trixie)'s source package (its orig tarball,
# fetched by t/nginx-source.sh with an apt state of its own under
# $(NEW)/apt, so the system's sources stay bookworm's), nginx and this
# module built from it in $(NEW) with --with-compat, the integration tests
# run against them
NEW_SUITE   ?= trixie
NEW         := $(BUILD)/nginx-$(NEW_SUITE)

$(NEW)/src/configure:
	sh t/nginx-source.sh $(NEW_SUITE) $(NEW)

nginx-new: $(NEW)/src/configure
	$(MAKE) BUILD=$(NEW) NGINX_SRC=$(CURDIR)/$(NEW)/src nginx all

test-nginx-new: nginx-new
	ADCP_TEST_NGINX=$(CURDIR)/$(NEW)/nginx/objs/nginx \
	ADCP_MODULE=$(CURDIR)/$(NEW)/ngx_http_adcp_module.so \
	    $(PROVE) $(PROVE_OPT) t/

# the Debian package: dpkg-buildpackage in a clean copy of the tracked
# and new files (as in a fresh clone, with uncommitted edits), the .deb, .changes
# and .buildinfo left in $(DEB); lintian fails it on any error
DEB         := $(BUILD)/deb

deb:
	rm -rf $(DEB)/src $(DEB)/*.deb $(DEB)/*.changes $(DEB)/*.buildinfo
	mkdir -p $(DEB)/src
	{ git ls-files -z -c -o --exclude-standard 2>/dev/null \
	    || find . -path ./build -prune -o -path ./.git -prune \
	        -o -type f -print0; } \
	    | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(DEB)/src
	cd $(DEB)/src && dpkg-buildpackage -us -uc -b > ../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	ls $(DEB)/*.deb
	lintian --fail-on error $(DEB)/*.changes

# the package installed by apt next to Debian's nginx on a fresh Debian 12
# (a debootstrap scratch root, cached in $(DEB)): t/deb/install-test.sh,
# skipped unless ADCP_TEST_DEB=1 (root and the network; .ci/run sets it)
test-deb: deb
	sh t/deb/install-test.sh $(DEB)/libnginx-mod-http-adcp_*.deb

clean:
	rm -rf $(BUILD)
