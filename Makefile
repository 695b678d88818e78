# hybridpref: PGXS build.  The numerical core (src/core) has no PostgreSQL
# headers; the fmgr glue (src/*.c) sits on top of it.
EXTENSION   = hybridpref
EXTVERSION  = 0.2.0
MODULE_big  = hybridpref

CORE_SRCS   = $(wildcard src/core/*.c)
GLUE_SRCS   = $(wildcard src/*.c)
OBJS        = $(CORE_SRCS:.c=.o) $(GLUE_SRCS:.c=.o)

# The install scripts are assembled from one part per SQL surface area.
# Parts added after 0.1.0 are listed per version: 0.1.0's install script
# leaves them out, and each upgrade script is a header (sql/upgrade/) plus
# the parts its version added, so no SQL is written twice.
SQL_PARTS   = $(sort $(wildcard sql/parts/*.sql))
SQL_PARTS_0.2.0 = sql/parts/90_ops.sql
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql sql/$(EXTENSION)--0.1.0.sql \
              sql/$(EXTENSION)--0.1.0--0.2.0.sql

REGRESS     = $(sort $(filter-out $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=results_regress --load-extension=hybridpref
TAP_TESTS   = 1
PROVE_TESTS = test/tap/t/*.pl

# OpenBLAS is opened lazily in backends (src/blas_loader.c), never in the
# postmaster, so the module does not carry a DT_NEEDED on it.
PG_CPPFLAGS = -I$(srcdir)/src/core -DHP_BLAS_DYNAMIC
PG_CFLAGS   = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK  = -ldl -lm

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Objects depend on every header: a struct that grows must rebuild its users.
$(OBJS): $(wildcard src/*.h src/core/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

sql/$(EXTENSION)--0.1.0.sql: $(filter-out $(SQL_PARTS_0.2.0),$(SQL_PARTS))
	cat $^ > $@

sql/$(EXTENSION)--0.1.0--0.2.0.sql: sql/upgrade/0.1.0--0.2.0.sql $(SQL_PARTS_0.2.0)
	cat $^ > $@

# Core unit tests and tools: no server, linked straight to OpenBLAS.
CORE_CC     ?= cc
CORE_CFLAGS ?= -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Isrc/core
CORE_LIBS    = -lopenblas -llapacke -lm

test/core/test_core: $(CORE_SRCS) $(wildcard test/core/*.c) $(wildcard src/core/*.h)
	$(CORE_CC) $(CORE_CFLAGS) -o $@ $(CORE_SRCS) $(wildcard test/core/*.c) $(CORE_LIBS)

test/core/test_core_asan: $(CORE_SRCS) $(wildcard test/core/*.c) $(wildcard src/core/*.h)
	clang -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	  -Isrc/core -o $@ $(CORE_SRCS) $(wildcard test/core/*.c) $(CORE_LIBS)

.PHONY: core-check core-check-asan
core-check: test/core/test_core
	./test/core/test_core
core-check-asan: test/core/test_core_asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./test/core/test_core_asan

EXTRA_CLEAN = test/core/test_core test/core/test_core_asan results_regress $(DATA_built)
