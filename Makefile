# Two commands do all the set-up on a fresh machine:
#   make demo   caption the bundled sample capture
#   make test   run the whole test suite
# Both create the virtual environment (.venv) when it is missing.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.t2t-installed
SAMPLE ?= examples/sample.pcap.gz
PYTEST_ARGS ?=

.PHONY: demo test venv system-deps bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first, so that pip does not fetch a CUDA build for the other packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# tshark (the test oracle and pyshark's engine), tcpdump/tcpreplay (live tests), Java (METEOR)
system-deps:
	@if ! command -v tshark >/dev/null || ! command -v java >/dev/null || ! command -v tcpreplay >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && \
	    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark tcpdump tcpreplay default-jre-headless iproute2 chromium >/dev/null; \
	  else echo "install tshark, tcpdump, tcpreplay, a Java runtime and chromium (e.g. apt-get install tshark tcpdump tcpreplay default-jre-headless chromium)"; fi; \
	fi

demo: venv
	$(VENV)/bin/t2t caption $(SAMPLE)

test: venv system-deps
	$(PY) -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

bench: venv
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/inference.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
