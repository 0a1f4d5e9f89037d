"""Builds the project's static site: `make docs` (or `python docs/_site/build_site.py`).

The site is the README (as the home page), every page of `docs/` and the executed notebooks
of `notebooks/`, rendered by MkDocs with the Material theme and mkdocs-jupyter (`mkdocs.yml`
at the repository root). MkDocs reads one folder, so this script first stages the pages into
`build/site-src/` with the repository's own layout (README.md -> index.md, docs/, notebooks/),
which keeps every relative link of the README and of the pages as it is on GitHub:

* a link to a page or notebook resolves to its rendered page (MkDocs rewrites `.md` links;
  in notebooks, whose markdown MkDocs does not see, `.md` / `.ipynb` targets become `.html`
  here);
* a link to another file of the repository (a module, a benchmark, the LICENSE) copies that
  file into the site, so it opens as text; a link to a folder becomes plain text;
* MathJax 2.7 is copied from the `jupyter-server-mathjax` wheel into `assets/mathjax/`, with
  `docs/_site/mathjax-local.js` as its local configuration: no CDN at build or view time.

Then `mkdocs build --strict` writes `build/site/` (open `build/site/index.html`). Nothing
outside `build/` is written. `tests/test_docs_site.py` builds it and checks links, images and,
in headless Chromium, the typeset equations.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "site-src"
SITE = ROOT / "build" / "site"
HERE = Path(__file__).resolve().parent
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe,local/local"

# [text](target) and ![alt](target); the target stops at whitespace or ")".
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|/)", re.I)


def mathjax_dir() -> Path:
    """The MathJax 2.7 tree shipped in the `jupyter-server-mathjax` wheel."""
    try:
        import jupyter_server_mathjax
    except ImportError as e:               # pragma: no cover - depends on the install
        raise SystemExit("the site needs jupyter-server-mathjax (pip install -r "
                         "requirements.txt): it ships MathJax for offline use") from e
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        raise SystemExit(f"no MathJax.js in {static}")
    return static


def _split(target: str) -> tuple[str, str]:
    path, hash_, anchor = target.partition("#")
    return path, hash_ + anchor


def relink(text: str, source: Path, staged: Path, in_notebook: bool) -> str:
    """Rewrites the relative links of `text`, a page that lives at `source` in the repository
    and at `staged` in the stage (see the module docstring)."""

    def one(match: re.Match) -> str:
        opening, target, closing = match.groups()
        path, anchor = _split(target)
        if not path or EXTERNAL.match(target):
            return match.group(0)
        repo_target = (source.parent / path).resolve()
        if not repo_target.is_relative_to(ROOT) or not repo_target.exists():
            return match.group(0)           # left for mkdocs --strict / the tests to report
        if repo_target.is_dir():
            if opening.startswith("!"):
                return match.group(0)
            return opening[1:-2] if opening[1:-2] else f"`{path}`"   # [text](dir/) -> text
        rel = repo_target.relative_to(ROOT)
        stage_target = STAGE / ("index.md" if rel == Path("README.md") else rel)
        if not stage_target.exists():
            stage_target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_target, stage_target)
        if in_notebook and stage_target.suffix in (".md", ".ipynb"):
            name = "index" if stage_target.name == "README.md" else stage_target.stem
            html = stage_target.with_name(name + ".html")
            path = Path(_relpath(html, staged.parent)).as_posix()
            return f"{opening}{path}{anchor}{closing}"
        return match.group(0)

    return LINK.sub(one, text)


def _relpath(target: Path, start: Path) -> str:
    import os
    return os.path.relpath(target, start)


def pages() -> list[tuple[Path, Path]]:
    """(repository path, staged path) of every page of the site."""
    out = [(ROOT / "README.md", STAGE / "index.md")]
    for p in sorted((ROOT / "docs").rglob("*")):
        if p.is_file() and HERE not in p.parents:
            out.append((p, STAGE / p.relative_to(ROOT)))
    notebooks = ROOT / "notebooks"
    out.append((notebooks / "README.md", STAGE / "notebooks" / "README.md"))
    out += [(p, STAGE / "notebooks" / p.name) for p in sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))]
    return out


def stage() -> None:
    """Writes build/site-src/ from the repository (module docstring)."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    for source, staged in pages():          # copy first, so links between pages find them
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, staged)
    for source, staged in pages():
        if staged.suffix == ".md":
            text = source.read_text(encoding="utf-8")
            staged.write_text(relink(text, source, staged, in_notebook=False), encoding="utf-8")
        elif staged.suffix == ".ipynb":
            nb = json.loads(source.read_text(encoding="utf-8"))
            for cell in nb["cells"]:
                if cell["cell_type"] == "markdown":
                    text = "".join(cell["source"])
                    cell["source"] = relink(text, source, staged, in_notebook=True)
            staged.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    assets = STAGE / "assets" / "mathjax"
    shutil.copytree(mathjax_dir(), assets, ignore=shutil.ignore_patterns("LICENSE"))
    shutil.copy2(mathjax_dir() / "LICENSE", assets / "LICENSE.txt")
    (assets / "config" / "local").mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "mathjax-local.js", assets / "config" / "local" / "local.js")


def build(quiet: bool = True) -> Path:
    """Stages and builds the site; returns `build/site`."""
    stage()
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
           "--config-file", str(ROOT / "mkdocs.yml")] + (["--quiet"] if quiet else [])
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}   # the theme's end-of-life banner: docs/README.md
    subprocess.run(cmd, cwd=ROOT, check=True, env=env)
    return SITE


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--verbose", action="store_true", help="show mkdocs' log")
    args = p.parse_args(argv)
    site = build(quiet=not args.verbose)
    print(f"site written to {site.relative_to(ROOT)}/ (open {site.relative_to(ROOT)}/index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
