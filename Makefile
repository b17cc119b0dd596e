# Wires the harness programs in harness/bin together; each also runs on its
# own. See README.md.
BASES := $(shell harness/bin/valid-bases)
BASE ?= $(BASES)
ACCEL ?= $(shell harness/bin/detect-accel)
KERNEL ?= series
H := harness/bin

export VERSION KCONFIG EXTRA_PATCHES ACCEL

.PHONY: all check run export discard mail packages shellcheck

# The main job: each base's series kernel, its tests, the report.
all: packages
	$(H)/test-matrix $(foreach b,$(BASE),$(b):series:$(ACCEL))

# Everything CI runs: the harness's own tests, then the runs in harness/matrix.
check: packages
	$(H)/check

packages:
	$(H)/ensure-packages $(if $(filter bochs,$(ACCEL)),bochs)

# One kernel, one program: make run BASE=6.1 KERNEL=base PROG=/path/to/static
# or SELFTEST=/path/to/test.c (built against that base's selftest library).
run: packages
	@[ $(words $(BASE)) -eq 1 ] || { echo "make run: pick one BASE= of: $(BASES)" >&2; exit 2; }
	$(H)/run-one $(BASE) $(if $(EXTRA_PATCHES),extra,$(KERNEL)) $(ACCEL) "$(PROG)" "$(SELFTEST)"

export:
	@[ $(words $(BASE)) -eq 1 ] || { echo "make export: pick one BASE= of: $(BASES)" >&2; exit 2; }
	$(H)/export-series $(BASE)

# The recipients (get_maintainer.pl) and the git send-email command; never sends.
mail:
	@[ $(words $(BASE)) -eq 1 ] || { echo "make mail: pick one BASE= of: $(BASES)" >&2; exit 2; }
	$(H)/mail-series $(BASE)

discard:
	@[ $(words $(BASE)) -eq 1 ] || { echo "make # The recipients (get_maintainer.pl) and the git send-email command; never sends.
mail:
	@[ $(words $(BASE)) -eq 1 ] || { echo "make mail: pick one BASE= of: $(BASES)" >&2; exit 2; }
	$(H)/mail-series $(BASE)

discard: pick one BASE= of: $(BASES)" >&2; exit 2; }
	rm -rf build/$(BASE)/src build/$(BASE)/src.stamp build/$(BASE)/obj

shellcheck:
	shellcheck -x -s sh harness/bin/* harness/selftests/*.sh .ci/run
