# Wires the harness programs in harness/bin together; each also runs on its
# own. See README.md.
BASES := $(shell harness/bin/valid-bases)
BASE ?= $(BASES)
ACCEL ?= $(shell harness/bin/detect-accel)
KERNEL ?= series
H := harness/bin

export VERSION KCONFIG EXTRA_PATCHES ACCEL ARGS GUEST_CORES

# $(call one_base,TARGET): stop unless BASE names exactly one base.
one_base = @[ $(words $(BASE)) -eq 1 ] || { echo "make $(1): pick one BASE= of: $(BASES)" >&2; exit 2; }

.PHONY: all check vmm-e2e run export discard mail packages shellcheck

# The main job: each base's series kernel, its tests, the report.
all: packages
	$(H)/test-matrix $(foreach b,$(BASE),$(b):series:$(ACCEL))

# Everything CI runs: the harness's own tests, the readiness checks, then
# the runs in harness/matrix.
check: packages
	$(H)/check

# End to end with QEMU as the VMM: a nested guest saved to a file and
# restored with -incoming (harness/vmm-e2e-runs; also part of check).
vmm-e2e:
	$(H)/ensure-packages vmm
	$(H)/test-vmm-e2e

packages:
	$(H)/ensure-packages $(if $(filter bochs,$(ACCEL)),bochs)

# One kernel, one program: make run BASE=6.1 KERNEL=base PROG=/path/to/static
# or SELFTEST=/path/to/test.c (built against that base's selftest library),
# with ARGS="..." as its arguments.
run: packages
	$(call one_base,run)
	$(H)/run-one $(BASE) $(if $(EXTRA_PATCHES),extra,$(KERNEL)) $(ACCEL) "$(PROG)" "$(SELFTEST)"

# The work tree's commits back to patches/BASE.
export:
	$(call one_base,export)
	$(H)/export-series $(BASE)

# The mailed series as mails, with b4 (build/BASE/mail); never sends.
mail:
	$(call one_base,mail)
	$(H)/mail-series $(BASE)

# Throw the work tree and its objects away; the next make imports anew.
discard:
	$(call one_base,discard)
	rm -rf build/$(BASE)/src build/$(BASE)/src.stamp

shellcheck:
	$(H)/ensure-packages check
	shellcheck -x -s sh harness/bin/* harness/selftests/*.sh .ci/run
