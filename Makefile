# Thin wrappers, as uvloop's. The README's test command is `make test`.
PYTHON ?= python3

.PHONY: build debug annotate deps test test-quick bench serve clean

build:
	$(PYTHON) setup.py -q build_ext --inplace

debug:
	FASTDNS_DEBUG=1 $(PYTHON) setup.py -q build_ext --inplace --force

annotate:
	FASTDNS_ANNOTATE=1 $(PYTHON) setup.py -q build_ext --inplace --force

deps:
	./scripts/install-deps

test: deps build
	$(PYTHON) -m pytest -q

test-quick: build
	$(PYTHON) -m pytest -q -x tests/unit

serve: build
	$(PYTHON) -m fastdns --config-dir=conf

# fastdns vs pdns_server under dnsperf; options through BENCH_ARGS, e.g. BENCH_ARGS=--quick
bench: build
	$(PYTHON) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf build fastdns/*.c fastdns/*.so fastdns/*.html
