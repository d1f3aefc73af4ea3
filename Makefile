# nnzoo build. `make` builds ./nnzoo and libnnzoo.a; `make test` runs the Check
# suites and the end-to-end tests; `make bench` compares against PyTorch.
#
# lib/ is compiled with -Ilib only, so it cannot include from models/,
# datasets/ or cmd/ (dependencies point one way: cmd -> models, datasets -> lib).

CC      ?= cc
# PORTABLE=1: a binary for any x86-64 CPU that picks its kernels at run time
# (each level's kernels are compiled for that level only); otherwise one
# for this machine's CPU (-march=native) with the levels it has.
PORTABLE ?=
ifeq ($(PORTABLE),)
OPT     ?= -O3 -march=native
TUNE    ?= -mtune=native
else
OPT     ?= -O3 -march=x86-64 -mtune=generic
TUNE    ?= -mtune=generic
BUILD   ?= build-portable
LIBA    ?= $(BUILD)/libnnzoo.a
endif
WERROR  ?=
SAN     ?=
BUILD   ?= build
BLAS_INC = -I/usr/include/x86_64-linux-gnu/openblas-pthread
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) $(OPT) -fno-math-errno -fopenmp -g $(SAN) \
           $(BLAS_INC) -I/usr/include/cjson -MMD -MP
LDLIBS  += -lopenblas -lcjson -lz -lpng -ljpeg -lm -lpthread
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

# Hand-vectorised kernels: each lib/*/*_kernels.c is compiled once per CPU
# level into $(BUILD)/lib/.../NAME.LEVEL.o with that level's -march and
# NN_LEVEL=LEVEL (see lib/core/cpu.h). A native build has the levels up to
# its target's, so AVX-512 code is only compiled for targets that have it.
LEVEL_MARCH_scalar := -march=x86-64
LEVEL_MARCH_avx2   := -march=x86-64-v3
LEVEL_MARCH_avx512 := -march=x86-64-v4
ifeq ($(PORTABLE),)
TARGET_MACROS := $(shell $(CC) $(OPT) -dM -E -x c /dev/null 2>/dev/null)
HAS_AVX2   := $(and $(findstring __AVX2__,$(TARGET_MACROS)),$(findstring __FMA__,$(TARGET_MACROS)),$(findstring __BMI2__,$(TARGET_MACROS)))
HAS_AVX512 := $(and $(HAS_AVX2),$(findstring __AVX512F__,$(TARGET_MACROS)),$(findstring __AVX512BW__,$(TARGET_MACROS)),$(findstring __AVX512DQ__,$(TARGET_MACROS)),$(findstring __AVX512VL__,$(TARGET_MACROS)),$(findstring __AVX512CD__,$(TARGET_MACROS)))
LEVELS := scalar $(if $(HAS_AVX2),avx2) $(if $(HAS_AVX512),avx512)
else
LEVELS := scalar avx2 avx512
endif
CFLAGS += $(if $(filter avx2,$(LEVELS)),-DNN_HAVE_AVX2=1) $(if $(filter avx512,$(LEVELS)),-DNN_HAVE_AVX512=1)

KERNEL_SRC  := $(wildcard lib/*/*_kernels.c)
KERNEL_OBJ  := $(foreach l,$(LEVELS),$(KERNEL_SRC:%.c=$(BUILD)/%.$(l).o))
LIB_SRC     := $(filter-out $(KERNEL_SRC),$(wildcard lib/*/*.c))
ZOO_SRC     := $(wildcard models/*.c datasets/*.c)
CMD_SRC     := $(wildcard cmd/*.c)
TEST_SRC    := $(wildcard tests/test_*.c)
TEST_HELPER := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
ZOO_OBJ  := $(ZOO_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
HELP_OBJ := $(TEST_HELPER:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

# Where the program and library go; `make asan` puts its own in build-asan/.
BIN     ?= nnzoo
LIBA    ?= libnnzoo.a

.PHONY: all test test-avx2 test-portable bench asan clean
# Keep test objects: they are intermediates of the test programs.
.SECONDARY:
all: $(BIN) $(LIBA)

$(LIBA): $(LIB_OBJ) $(KERNEL_OBJ) $(ZOO_OBJ)
	$(AR) rcs $@ $^

# `make` and `make PORTABLE=1` both write ./nnzoo from their own build
# folders: relink whenever the last link came from the other one.
ifneq ($(shell cat $(BIN).build 2>/dev/null),$(BUILD))
.PHONY: $(BIN)
endif
$(BIN): $(CMD_OBJ) $(LIBA)
	$(CC) $(CFLAGS) -o $@ $(CMD_OBJ) $(LIBA) $(LDLIBS)
	@echo $(BUILD) > $@.build

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib -c -o $@ $<

# One rule per level: NAME.LEVEL.o from NAME.c, the level's -march last so
# it replaces the one in OPT.
define level_rule
$$(BUILD)/lib/%.$(1).o: lib/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -Ilib $$(LEVEL_MARCH_$(1)) $$(TUNE) -DNN_LEVEL=$(1) -c -o $$@ $$<
endef
$(foreach l,scalar avx2 avx512,$(eval $(call level_rule,$(l))))

$(BUILD)/models/%.o $(BUILD)/datasets/%.o $(BUILD)/cmd/%.o $(BUILD)/tests/%.o: CFLAGS += -Ilib -I.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(HELP_OBJ) $(LIBA)
	$(CC) $(CFLAGS) -o $@ $< $(HELP_OBJ) $(LIBA) $(LDLIBS) $(CHECK_LIBS)

# Unit suites first, then the end-to-end scripts; one closing count at the end.
test: all $(TEST_BIN)
	@NNZOO=./$(BIN) tests/run_all.sh $(TEST_BIN)

# Everything under AddressSanitizer and UBSan, in its own build folder.
asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/nnzoo LIBA=build-asan/libnnzoo.a OPT="-O1 -march=native" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" test

# The suites again at the AVX2 level whatever this CPU has: an x86-64-v3
# build, with OpenBLAS on its Haswell kernels (what an AVX2-only CPU such as
# AMD Zen 3 runs).
test-avx2:
	OPENBLAS_CORETYPE=Haswell $(MAKE) BUILD=build-v3 BIN=build-v3/nnzoo LIBA=build-v3/libnnzoo.a \
	    OPT="-O3 -march=x86-64-v3" test

# The suites with the portable binary (plain x86-64, kernels picked at run time).
test-portable:
	$(MAKE) PORTABLE=1 BIN=build-portable/nnzoo test

bench: all
	bench/run.sh

clean:
	rm -rf build build-asan build-portable build-v3 nnzoo nnzoo.build libnnzoo.a

-include $(LIB_OBJ:.o=.d) $(KERNEL_OBJ:.o=.d) $(ZOO_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(HELP_OBJ:.o=.d) $(TEST_BIN:=.d)
