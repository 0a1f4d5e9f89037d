# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: demo test test-fast setup data parity bench notebooks docs clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# Fetches MovieLens-100K from the recbole wheel on PyPI into the cache (once).
data: setup
	$(PY) -m recall_models fetch

demo: data
	$(PY) -m w2v_tf demo

test: data
	$(PY) -m pytest -q -p no:cacheprovider tests

# Quick loop for developers: skips tests marked slow and the notebooks.
test-fast: setup
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow and not notebook" tests

parity: setup
	$(PY) -m w2v_tf parity

# Quick runs of the benchmarks that have a quick mode (each prints ratios measured side by
# side in one run; recall_scale prints times and memory). Their tables and plots go to
# runs/bench/: the committed ones in benchmarks/results/ stay. About 5 minutes on 2 cores.
bench: setup
	$(PY) benchmarks/sampled_losses.py --quick --out-dir runs/bench
	$(PY) benchmarks/pipeline.py --quick
	$(PY) benchmarks/hierarchical_cost.py --quick --out runs/bench/hierarchical_cost.png
	$(PY) benchmarks/samplers.py --quick
	$(PY) benchmarks/scaling.py --quick --out-dir runs/bench
	$(PY) benchmarks/word2vec_vs_gensim.py --quick
	$(PY) benchmarks/recall_scale.py --quick

# Rebuild and re-execute the notebooks from notebooks/src/ (commit the results).
notebooks: data
	$(PY) notebooks/_build.py

# The static site (README, docs/, executed notebooks) into build/site/: open build/site/index.html.
docs: setup
	$(PY) docs/_site/build_site.py

clean:
	rm -rf $(VENV) .pytest_cache build
