# Read after the KVM selftests' own Makefile: builds ONE_SRC, a test that
# lives outside the tree, into ONE_OUT with the same flags and library.
.DEFAULT_GOAL := one
one: $(ONE_OUT)
$(ONE_OUT): $(ONE_SRC) $(LIBKVM_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -I$(dir $(ONE_SRC)) $(LDFLAGS) $(TARGET_ARCH) \
		$< $(LIBKVM_OBJS) $(LDLIBS) -o $@
