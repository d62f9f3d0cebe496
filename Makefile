# SPDX-License-Identifier: GPL-2.0
# AF_NSTCP: `make` builds module/nstcp.ko, `make tools` the user-space tools,
# `make check` runs every test in QEMU guests, `make demo` shows it working;
# `make man` and `make install-tools` are in Makefile.install.

ifeq ($(KDIR),)
KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(wildcard $(KDIR)/Makefile),)
KDIR := $(shell bash -c '. tests/vm/lib.sh && vm_stock_kdir' 2>/dev/null)
$(info nstcp: the running kernel has no build directory; using Debian's headers in $(KDIR))
endif
endif

TOOLS_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude/uapi
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_BINS := $(patsubst tools/%.c,tools/out/%,$(TOOL_SRCS))

all: module

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# tools/nstcp/: the control tool, over the module's generic netlink
# family with libmnl, JSON with json-c.
NSTCP_SRCS := $(wildcard tools/nstcp/*.c)
NSTCP_LIBS := $(shell pkg-config --libs libmnl json-c 2>/dev/null || echo -lmnl -ljson-c)
NSTCP_CFLAGS := $(shell pkg-config --cflags libmnl json-c 2>/dev/null)

tools: $(TOOL_BINS) tools/out/libnstcp-run.so tools/out/nstcp-run tools/out/nstcp
	$(MAKE) -C tests/selftests TOP=$(CURDIR)
	$(MAKE) -C tests/bench TOP=$(CURDIR)

tools/out/%: tools/%.c $(wildcard tools/tool_*.h) include/uapi/linux/nstcp.h
	@mkdir -p tools/out
	$(CC) $(TOOLS_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# nstcp-run: the LD_PRELOAD library and its launcher (Documentation/nstcp-run.rst).
SHIM_SRCS := $(wildcard tools/nstcp-run/*.c)
tools/out/libnstcp-run.so: $(SHIM_SRCS) tools/nstcp-run/shim.h include/uapi/linux/nstcp.h
	@mkdir -p tools/out
	$(CC) $(TOOLS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC -shared -fvisibility=hidden $(LDFLAGS) -o $@ $(SHIM_SRCS) -ldl -lpthread

tools/out/nstcp-run: tools/nstcp-run/nstcp-run.sh
	@mkdir -p tools/out
	install -m 755 $< $@

# For install-tools and the packages: the launcher goes to BINDIR with the
# tools, the library where it looks for it.
TOOLS_BUILD += tools/out/libnstcp-run.so tools/out/nstcp-run
TOOLS_INSTALL += tools/out/libnstcp-run.so:$(LIBDIR)/nstcp/libnstcp-run.so
TOOLS_INSTALL += tools/nstcp-run/nstcp-run.conf:$(DOCDIR)/examples/nstcp-run.conf

tools/out/nstcp: $(NSTCP_SRCS) tools/nstcp/nstcp.h include/uapi/linux/nstcp.h include/uapi/linux/nstcp_netlink.h
	@mkdir -p tools/out
	$(CC) $(TOOLS_CFLAGS) $(NSTCP_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(NSTCP_SRCS) $(NSTCP_LIBS)

# Installed by install-tools (Makefile.install) like the one-file tools.
TOOLS_BUILD += tools/out/nstcp

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a

clean: clean-tools
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf tests/selftests/out tests/bench/out

check:
	bash tests/check

demo:
	bash tests/demo

bench:
	bash tests/bench/all

.PHONY: all module tools install clean check demo bench

include Makefile.install

# nstcpd, the listener helper, and libnstcp, its worker library
# (Documentation/nstcpd.rst): `make tools` builds tools/out/nstcpd,
# tools/out/libnstcp.a and tools/out/libnstcp.so.
LIBNSTCP_SRCS := $(wildcard tools/libnstcp/*.c)
LIBNSTCP_DEPS := $(wildcard tools/libnstcp/*.h) include/uapi/linux/nstcp.h
NSTCPD_SRCS := $(wildcard tools/nstcpd/*.c)
NSTCPD_DEPS := $(wildcard tools/nstcpd/*.h) $(LIBNSTCP_DEPS)

tools: tools/out/nstcpd tools/out/libnstcp.a tools/out/libnstcp.so

tools/out/libnstcp/%.o: tools/libnstcp/%.c $(LIBNSTCP_DEPS)
	@mkdir -p tools/out/libnstcp
	$(CC) $(TOOLS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

tools/out/libnstcp.a: $(patsubst tools/libnstcp/%.c,tools/out/libnstcp/%.o,$(LIBNSTCP_SRCS))
	$(AR) rcs $@ $^

tools/out/libnstcp.so: $(patsubst tools/libnstcp/%.c,tools/out/libnstcp/%.o,$(LIBNSTCP_SRCS))
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libnstcp.so -o $@ $^

tools/out/nstcpd: $(NSTCPD_SRCS) $(NSTCPD_DEPS) tools/out/libnstcp.a
	$(CC) $(TOOLS_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Itools/libnstcp -pthread -o $@ $(NSTCPD_SRCS) tools/out/libnstcp.a -ljson-c

# make install-tools (Makefile.install): nstcpd as a daemon in sbin, the
# library and its header, the systemd unit as an example.
TOOLS_BUILD += tools/out/nstcpd tools/out/libnstcp.a tools/out/libnstcp.so
TOOLS_INSTALL += tools/out/nstcpd:$(PREFIX)/sbin/nstcpd:0755
TOOLS_INSTALL += tools/out/libnstcp.a:$(LIBDIR)/libnstcp.a
TOOLS_INSTALL += tools/out/libnstcp.so:$(LIBDIR)/libnstcp.so:0755
TOOLS_INSTALL += tools/libnstcp/nstcp.h:$(PREFIX)/include/nstcp.h
TOOLS_INSTALL += tools/nstcpd/nstcpd.service:$(DOCDIR)/examples/nstcpd.service

# nstcp-broker, the broker model's client (Documentation/nstcpd.rst), on
# libnstcp: this rule replaces the one-file tools' pattern rule for it.
tools/out/nstcp-broker: tools/nstcp-broker.c tools/out/libnstcp.a $(LIBNSTCP_DEPS)
	@mkdir -p tools/out
	$(CC) $(TOOLS_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Itools/libnstcp -o $@ $< tools/out/libnstcp.a

# The one-file tools' shared headers (socket addresses as text, whole-buffer I/O).
tools/out/nstcp-echo tools/out/nstcp-broker: tools/tool_addr.h tools/tool_io.h
