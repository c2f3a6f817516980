# SPDX-License-Identifier: GPL-2.0-only
#
# dm-xrepl: top-level build and test entry points.
#
#   make                 build the module against KDIR (default: running kernel)
#   make setup           install what the tests and the demo need (Debian)
#   make demo            boot a test VM and show replication working
#   make check           build, unit tests (KUnit) and integration tests (VM)
#   make check-all       make check on each kernel: Debian 12's 6.1 and 6.12
#                        (KVER=6.12 make check: one of them)
#   make check-debug     KUnit and the integration tests on a debug kernel
#                        (KASAN, lockdep, kmemleak; built once, ~40 min)
#   make lint            checkpatch --strict, sparse and a W=1 build
#   make bench           write latency/throughput per mode vs. the peers (VM)
#   make userspace       build the offline tools xrepl-dump and xrepl-check
#   make check-userspace build them and run their host-side tests
#   make check-crash     the crash tests (tests/run-crash.sh: two VM boots)
#   make check-packaging make install and a dkms build in scratch trees
#   make install         the tools, manual pages and systemd units (userspace/
#                        Makefile: PREFIX=/usr/local, DESTDIR, SYSCONFDIR=/etc)
#   make dkms-install    the module's source into /usr/src/dm-xrepl-$(VERSION),
#                        built and installed by dkms for the running kernel and
#                        again on every kernel update (dkms.conf)
#   make dkms-remove     undo dkms-install
#   make deb             the Debian source and binary packages (debian/):
#                        dm-xrepl-dkms and xrepl-utils, in build/deb/
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(CURDIR)
# The target's version; dkms.conf says the same (tests/packaging.sh checks).
VERSION := 1.10.0
DKMS_SRC := $(DESTDIR)/usr/src/dm-xrepl-$(VERSION)
DEB_OUT ?= $(CURDIR)/build/deb

.PHONY: all module clean setup demo check check-all check-debug kunit lint bench
.PHONY: userspace check-userspace check-crash clean-userspace
.PHONY: install dkms-source dkms-install dkms-remove check-packaging deb

all: module

module:
	@test -d $(KDIR) || { echo "no kernel build tree at $(KDIR): install the" \
		"headers of the target kernel or pass KDIR=<dir>" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(PWD)/dm-xrepl modules

clean:
	$(MAKE) -C $(KDIR) M=$(PWD)/dm-xrepl clean 2>/dev/null || \
		find dm-xrepl \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' \
		-o -name '.*.cmd' -o -name 'modules.order' -o -name Module.symvers \) -delete

setup:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

check:
	bash scripts/check.sh

check-all:
	bash scripts/check-all.sh

check-debug:
	bash scripts/check-debug.sh

kunit:
	bash scripts/kunit.sh

lint:
	bash scripts/lint.sh

bench:
	bash scripts/bench.sh

userspace:
	$(MAKE) -C userspace

check-userspace: userspace
	bash tests/userspace/run.sh --no-build

check-crash:
	bash tests/run-crash.sh

check-packaging:
	bash tests/packaging.sh

install:
	$(MAKE) -C userspace install

# The files dkms builds from: the module's sources and its Kbuild.
dkms-source:
	install -d $(DKMS_SRC)/dm-xrepl
	install -m 0644 dkms.conf Kbuild $(DKMS_SRC)/
	install -m 0644 dm-xrepl/Kbuild $(filter-out %-kunit.c %.mod.c,$(wildcard dm-xrepl/*.c)) \
		$(wildcard dm-xrepl/*.h) $(DKMS_SRC)/dm-xrepl/

dkms-install: dkms-source
	dkms add -m dm-xrepl -v $(VERSION)
	dkms build -m dm-xrepl -v $(VERSION)
	dkms install -m dm-xrepl -v $(VERSION)

dkms-remove:
	dkms remove -m dm-xrepl -v $(VERSION) --all
	rm -rf $(DKMS_SRC)

# The files git knows (committed or not, but not ignored), copied into a
# fresh tree: dpkg-buildpackage writes its results beside that tree.
deb:
	@command -v dpkg-buildpackage >/dev/null && test -x /usr/bin/dh_dkms || \
		{ echo "make deb needs dpkg-dev, debhelper and dh-dkms" >&2; exit 1; }
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/dm-xrepl-$(VERSION)
	git ls-files -z -c -o --exclude-standard | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_OUT)/dm-xrepl-$(VERSION)
	cd $(DEB_OUT)/dm-xrepl-$(VERSION) && dpkg-buildpackage -us -uc
	@ls -1 $(DEB_OUT)/*.deb $(DEB_OUT)/*.dsc

clean: clean-userspace
clean-userspace:
	$(MAKE) -C userspace clean
