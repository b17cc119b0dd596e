# Read after the KVM selftests' own Makefile: prints the x86 tests it builds
# (TEST_GEN_PROGS_x86 since 6.16, TEST_GEN_PROGS_x86_64 before).
print-suite:
	@echo $(or $(TEST_GEN_PROGS_x86),$(TEST_GEN_PROGS_x86_64))
