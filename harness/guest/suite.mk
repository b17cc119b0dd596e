# Read after the KVM selftests' own Makefile: prints the x86 tests it builds.
print-suite:
	@echo $(TEST_GEN_PROGS_x86_64)
