# nnzoo build. `make` builds ./nnzoo and libnnzoo.a; `make test` runs the Check
# suites and the end-to-end tests; `make bench` compares against PyTorch.
#
# lib/ is compiled with -Ilib only, so it cannot include from models/,
# datasets/ or cmd/ (dependencies point one way: cmd -> models, datasets -> lib).

CC      ?= cc
OPT     ?= -O3 -march=native
WERROR  ?=
SAN     ?=
BUILD   ?= build
BLAS_INC = -I/usr/include/x86_64-linux-gnu/openblas-pthread
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) $(OPT) -fno-math-errno -fopenmp -g $(SAN) \
           $(BLAS_INC) -I/usr/include/cjson -MMD -MP
LDLIBS  += -lopenblas -lcjson -lz -lpng -ljpeg -lm -lpthread
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

LIB_SRC     := $(wildcard lib/*/*.c)
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

.PHONY: all test bench asan clean
# Keep test objects: they are intermediates of the test programs.
.SECONDARY:
all: $(BIN) $(LIBA)

$(LIBA): $(LIB_OBJ) $(ZOO_OBJ)
	$(AR) rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIBA)
	$(CC) $(CFLAGS) -o $@ $(CMD_OBJ) $(LIBA) $(LDLIBS)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib -c -o $@ $<

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

bench: all
	bench/run.sh

clean:
	rm -rf build build-asan nnzoo libnnzoo.a

-include $(LIB_OBJ:.o=.d) $(ZOO_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(HELP_OBJ:.o=.d) $(TEST_BIN:=.d)
