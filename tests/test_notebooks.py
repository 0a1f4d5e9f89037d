"""The derivation notebooks: each one runs top to bottom, and each is committed in shape.

* `test_notebook_runs[NN_name]` executes a copy of the committed notebook (in memory; the file
  is never rewritten) with nbclient in the venv's `python3` kernel, `notebooks/` as working
  directory. Every notebook ends its derivations with assertion cells, so a wrong formula or
  a library change that breaks a derivation fails here.
* The cheap tests check what a reader on the web relies on: every code cell was executed and
  has its execution count, the notebook ends with an assertion cell, its cells are those of
  `notebooks/src/NN_name.py` (rebuild with `python notebooks/_build.py NN`), it is listed in
  `notebooks/README.md`, and it stays small.
"""
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 400_000


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NB_DIR / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
IDS = [p.stem for p in NOTEBOOKS]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"expected the derivation notebooks in {NB_DIR}, found {NOTEBOOKS}"
    sources = {s.stem for s in build.sources()}
    assert {p.stem for p in NOTEBOOKS} == sources, "every source has a built notebook and back"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_with_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = _code_cells(nb)
    assert code, f"{path.name} has no code cells"
    missing = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not missing, f"{path.name}: code cells {missing} were not executed"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), \
        f"{path.name}: execution counts {counts} are not 1..n (run it top to bottom)"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} was committed with an error output"
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_ends_with_an_assertion_cell(path):
    nb = nbformat.read(path, as_version=4)
    last = _code_cells(nb)[-1].source
    assert re.search(r"^\s*(assert\b|np\.testing\.assert_)", last, re.M), \
        f"{path.name}: the last code cell checks nothing:\n{last}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_cells_match_source(path):
    committed = nbformat.read(path, as_version=4)
    fresh = build.notebook_from_source(build.SRC / (path.stem + ".py"))
    assert [(c.cell_type, c.source) for c in committed.cells] == \
        [(c.cell_type, c.source) for c in fresh.cells], \
        f"{path.name} differs from notebooks/src/{path.stem}.py: rebuild it"


def test_listed_in_readme():
    readme = (NB_DIR / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"({path.name})" in readme, f"{path.name} is not listed in notebooks/README.md"


def test_parse_cells():
    text = "# %% [markdown]\n# # Title\n#\n# $x$\n\n# %%\nx = 1\n\n\n# %%\nassert x == 1\n"
    assert build.parse_cells(text) == [("markdown", "# Title\n\n$x$"), ("code", "x = 1"),
                                       ("code", "assert x == 1")]
    with pytest.raises(ValueError, match="not a comment"):
        build.parse_cells("# %% [markdown]\nnot a comment\n")


@pytest.mark.notebook
@pytest.mark.slow
def test_kernel_is_this_python():
    """nbclient's `python3` kernel must be the venv's Python, not some other install."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable); print(sys.prefix)"))
    build.execute(nb, timeout=120)
    executable, prefix = nb.cells[0].outputs[0].text.split()
    assert (executable, prefix) == (sys.executable, sys.prefix)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)          # a copy in memory; the file is untouched
    before = path.read_bytes()
    seconds = build.execute(nb, timeout=600)     # per cell; notebook 10 trains 3 models in one
    assert all(c.execution_count is not None for c in _code_cells(nb))
    assert path.read_bytes() == before
    print(f"{path.name}: {seconds:.1f} s")
