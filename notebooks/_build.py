"""Builds the derivation notebooks from their sources and executes them.

    .venv/bin/python notebooks/_build.py                 # every notebook
    .venv/bin/python notebooks/_build.py 02 05           # those whose name starts with 02 / 05
    .venv/bin/python notebooks/_build.py --no-execute    # cells only, no outputs
    .venv/bin/python notebooks/_build.py 03 --markdown-only   # prose edits: keep the outputs

Each notebook is written as a Python file in `notebooks/src/` in the "percent" format that
jupytext and VS Code read: a line `# %% [markdown]` starts a markdown cell (its lines are
comments, `# ` is stripped), a line `# %%` starts a code cell. The build turns the source into
`notebooks/<name>.ipynb`, runs it top to bottom with nbclient in the `python3` kernel (the
venv's own Python: jupyter_client swaps the kernelspec's `python` for `sys.executable`), with
`notebooks/` as the working directory, and writes it with its outputs. Running the script is
the request to (re)write those `.ipynb` files; nothing else is touched.

`tests/test_notebooks.py` imports `notebook_from_source` to check that every committed
notebook has the cells of its source, and `execute` to run a copy of each.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
KERNEL = "python3"
CELL_TIMEOUT = 600          # seconds per cell; the notebooks aim for < 30 s in all
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def sources() -> list[Path]:
    """The notebook sources, `notebooks/src/NN_name.py`, in order."""
    return sorted(p for p in SRC.glob("[0-9][0-9]_*.py"))


def notebook_path(source: Path) -> Path:
    """`notebooks/src/NN_name.py` -> `notebooks/NN_name.ipynb`."""
    return HERE / (source.stem + ".ipynb")


def parse_cells(text: str) -> list[tuple[str, str]]:
    """Splits a percent-format source into [(kind, source)] with kind "markdown" or "code"."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
            continue
        if not cells:
            if line.strip():                     # anything before the first marker is an error
                raise ValueError(f"text before the first '# %%' marker: {line!r}")
            continue
        kind, lines = cells[-1]
        if kind == "markdown":
            if line and not line.startswith("#"):
                raise ValueError(f"markdown line that is not a comment: {line!r}")
            line = line[2:] if line.startswith("# ") else line[1:]
        lines.append(line)
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            out.append((kind, "\n".join(lines)))
    return out


def notebook_from_source(source: Path) -> nbformat.NotebookNode:
    """An unexecuted notebook with the cells of `source`."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text) in enumerate(parse_cells(source.read_text(encoding="utf-8"))):
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(new(text, id=f"c{i:02d}"))          # stable ids keep diffs small
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = CELL_TIMEOUT,
            allow_errors: bool = False) -> float:
    """Runs `nb` in place (outputs filled in) with `notebooks/` as working directory.

    Returns:
        The wall time in seconds. Raises nbclient's CellExecutionError if a cell fails.
    """
    from nbclient import NotebookClient

    os.environ.update({k: os.environ.get(k, v) for k, v in KERNEL_ENV.items()})
    # TensorFlow's C++ start-up lines (oneDNN, CUDA stub) go to file descriptor 2; with fd
    # capture off they stay in the terminal instead of landing in the first cell's output.
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                            allow_errors=allow_errors,
                            extra_arguments=["--IPKernelApp.capture_fd_output=False"],
                            resources={"metadata": {"path": str(HERE)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def refresh_markdown(source: Path) -> nbformat.NotebookNode:
    """The committed notebook of `source` with its markdown cells taken from `source`.

    For edits to the prose only: the code cells (sources and outputs) stay as executed.
    Raises ValueError if the code cells or the cell order differ from the source's, since
    the outputs would then no longer be those of the code.
    """
    committed = nbformat.read(notebook_path(source), as_version=4)
    fresh = notebook_from_source(source)
    shape = [(c.cell_type, c.source if c.cell_type == "code" else None) for c in committed.cells]
    if shape != [(c.cell_type, c.source if c.cell_type == "code" else None) for c in fresh.cells]:
        raise ValueError(f"{source.name}: code cells changed; rebuild it with execution")
    for old, new in zip(committed.cells, fresh.cells):
        if old.cell_type == "markdown":
            old.source = new.source
    return committed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="prefixes of the notebooks to build (default: all)")
    p.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    p.add_argument("--allow-errors", action="store_true",
                   help="keep going past a failing cell and write the notebook with the error "
                        "(for debugging; the tests reject such a notebook)")
    p.add_argument("--markdown-only", action="store_true",
                   help="take only the markdown cells from the source and keep the executed code "
                        "cells (refused when a code cell changed)")
    args = p.parse_args(argv)
    chosen = [s for s in sources() if not args.names or any(s.stem.startswith(n) for n in args.names)]
    if not chosen:
        print(f"no notebook source matches {args.names} in {SRC}", file=sys.stderr)
        return 2
    for source in chosen:
        if args.markdown_only:
            nb, seconds = refresh_markdown(source), 0.0
        else:
            nb = notebook_from_source(source)
            seconds = 0.0 if args.no_execute else execute(nb, allow_errors=args.allow_errors)
        path = notebook_path(source)
        nbformat.write(nb, path)
        print(f"{path.name}: {len(nb.cells)} cells, {seconds:.1f} s, "
              f"{path.stat().st_size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
