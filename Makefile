# The two commands a newcomer needs:  `make up`  (start the cloud)  ·  `make test`  (run every test)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the cloud uses at run time / the tests use (installed when missing).
APT_RUNTIME := python3-venv iproute2 nftables dnsmasq-base runc busybox-static qemu-system-x86 qemu-utils linux-image-amd64 dropbear-bin cpio e2fsprogs genisoimage
APT_TEST := postgresql qemu-utils openssh-client
ARGS ?=
PYTEST_ARGS ?=

.PHONY: up test venv test-venv pyc apt-runtime apt-test clean bench-identity config-doc

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(BIN)/.test-installed: $(BIN)/.installed requirements-test.lock
	$(BIN)/pip install -q -r requirements-test.lock
	touch $@

venv: $(BIN)/.installed
test-venv: $(BIN)/.test-installed

apt-runtime:
	@scripts/ensure-apt.sh $(APT_RUNTIME)

apt-test: apt-runtime
	@scripts/ensure-apt.sh $(APT_TEST)

# Byte-compile onestack's own sources (an editable install is not compiled by pip): a
# start-up then loads .pyc files instead of compiling ~0.4 s of CPU worth of source, also
# where PYTHONDONTWRITEBYTECODE stops Python from caching them itself. Cheap when current.
pyc: venv
	@$(BIN)/python -m compileall -q -j 0 onestack

up: apt-runtime venv pyc
	$(BIN)/onestack up $(ARGS)

test: apt-test test-venv pyc
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Side by side with upstream Keystone (needs `hey`; sets Keystone up on first use).
bench-identity: venv
	@command -v hey >/dev/null || scripts/ensure-apt.sh hey
	$(BIN)/python bench/identity.py $(ARGS)

# Regenerate docs/configuration.md from the settings dataclasses.
config-doc: venv
	$(BIN)/python scripts/gen-config-doc.py

clean:
	rm -rf $(VENV) .pytest_cache
