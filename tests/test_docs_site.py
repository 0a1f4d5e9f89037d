"""The static site (`make docs`): it builds, its links and images resolve, and in a real
browser its equations are typeset and the notebooks' figures load.

* `test_every_docs_page_is_listed`: docs/README.md links every page of docs/ (no build).
* `test_readme_examples_run`: the README's two Python examples run as written;
  `test_readme_stays_a_landing_page`: at most 10,000 characters, nothing outside the repo.
* `site` builds the site once (docs/_site/build_site.py: stage, then `mkdocs build --strict`,
  which already fails on a link to a missing page).
* `test_every_internal_link_and_image_resolves` reads every HTML page of the built site and
  checks that each relative `href` / `src` names a file of the site, and each `#anchor` into a
  page names an element of that page.
* `test_nothing_is_fetched_from_the_network` checks that no page loads a script, stylesheet
  or image from another host (the site reads offline; MathJax ships with it).
* `test_browser_typesets_math_and_loads_images` opens a notebook page and a markdown page
  with equations in headless Chromium (Debian's `chromium` package; `.ci/run` installs it)
  and reads back, from the page itself, how many equations MathJax typeset, how many failed,
  and whether every image loaded. Without Chromium on the machine it is skipped, saying so.
"""
from __future__ import annotations

import html.parser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
slow = pytest.mark.slow


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "docs" / "_site" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


class _Refs(html.parser.HTMLParser):
    """Collects (tag, attribute, value) of every href/src, and every id, of one page."""

    def __init__(self):
        super().__init__()
        self.refs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.refs.append((tag, name, value))
            if name in ("id", "name") and value:
                self.ids.add(value)


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site() -> Path:
    pytest.importorskip("mkdocs", reason="the site needs the docs packages of requirements.txt")
    return builder.build(quiet=True)


def test_every_docs_page_is_listed():
    """docs/README.md, the folder's index, links every page of docs/."""
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md"))
               if p.name != "README.md" and f"]({p.name})" not in index]
    assert not missing, f"docs/README.md does not link {missing}"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


@slow
@pytest.mark.parametrize("index", [0, 1])
def test_readme_examples_run(index, tmp_path):
    """The README's Python examples (the loss, the layer in a model) run as written."""
    blocks = _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 2, f"expected the README's two Python examples, found {len(blocks)}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", blocks[index]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_readme_stays_a_landing_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text) <= 10_000, f"README.md is {len(text)} characters (at most 10,000)"
    # No path that leaves the repository (a parent folder or the machine's work tree).
    outside = ("/".join(["..", "shared"]), "/work/")
    assert not any(path in text for path in outside)


@slow
def test_site_has_every_page(site):
    assert (site / "index.html").exists()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for nb in notebooks:
        assert (site / "notebooks" / (nb.stem + ".html")).exists(), nb.name
    for md in (ROOT / "docs").glob("*.md"):
        page = "index" if md.name == "README.md" else md.stem        # a folder's README is its index
        assert (site / "docs" / (page + ".html")).exists(), md.name
    assert (site / "notebooks" / "index.html").exists()
    assert (site / "assets" / "mathjax" / "MathJax.js").exists()


@slow
def test_every_internal_link_and_image_resolves(site):
    pages = sorted(site.rglob("*.html"))
    ids = {}
    broken = []
    for page in pages:
        refs = _parse(page)
        ids[page] = refs.ids
        for tag, attr, value in refs.refs:
            url = urlsplit(value)
            if url.scheme or url.netloc or value.startswith(("data:", "javascript:", "mailto:")):
                continue
            base = site if url.path.startswith("/") else page.parent    # 404.html: from the root
            target = (base / unquote(url.path.lstrip("/"))).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: <{tag} {attr}={value!r}> -> missing file")
            elif url.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _parse(target).ids
                if unquote(url.fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: <{tag} {attr}={value!r}> -> no anchor")
    assert not broken, "\n".join(broken[:40])


@slow
def test_nothing_is_fetched_from_the_network(site):
    remote = []
    for page in site.rglob("*.html"):
        for tag, attr, value in _parse(page).refs:
            if tag in ("script", "img", "link", "iframe") and urlsplit(value).scheme in ("http", "https"):
                if tag == "link" and not re.search(r"\.(css|js)(\?|$)", value):
                    continue                  # <link rel="canonical"> etc. are not fetched
                remote.append(f"{page.relative_to(site)}: <{tag} {attr}={value}>")
    assert not remote, "\n".join(remote[:20])


CHECK = """<script>
window.addEventListener("load", function () {
  function report() {
    var out = {
      mathjax: !!(window.MathJax && window.MathJax.Hub),
      jax: (window.MathJax && MathJax.Hub && MathJax.Hub.getAllJax) ? MathJax.Hub.getAllJax().length : 0,
      typeset: document.querySelectorAll("span.MathJax, span.MathJax_SVG").length,
      errors: document.querySelectorAll(".MathJax_Error, merror").length,
      images: Array.prototype.map.call(document.images, function (i) {
        return {src: i.src.slice(0, 60), ok: i.complete && i.naturalWidth > 0};
      })
    };
    var pre = document.createElement("pre");
    pre.id = "site-check";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (window.MathJax && MathJax.Hub) { MathJax.Hub.Queue(report); } else { report(); }
});
</script>
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browse(browser: str, page: Path, tmp: Path) -> dict:
    """Opens `page` (a copy with CHECK injected) in headless Chromium; returns CHECK's report."""
    text = page.read_text(encoding="utf-8")
    probe = page.with_name("_probe_" + page.name)
    probe.write_text(text.replace("</body>", CHECK + "</body>", 1), encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", "--allow-file-access-from-files",
           f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=60000",
           "--dump-dom", probe.as_uri()]
    try:
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                             env={**os.environ, "HOME": str(tmp)}).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="site-check">(.*?)</pre>', dom, re.S)
    assert found, f"the check script did not report from {page.name}; DOM starts {dom[:300]!r}"
    return json.loads(html.unescape(found.group(1)))


@slow
def test_browser_typesets_math_and_loads_images(site, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run does): "
                    "the browser check of the site is skipped, the build/link checks ran")
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    notebook = copy / "notebooks" / "04_importance_sampling_and_sampled_softmax.html"
    markdown = next(p for p in [copy / "index.html"] + sorted((copy / "docs").glob("*.html"))
                    if p.read_text(encoding="utf-8").count('class="arithmatex"') > 5)
    for page, want_images in ((notebook, True), (markdown, False)):
        report = _browse(browser, page, tmp_path)
        name = page.relative_to(copy)
        assert report["mathjax"], f"{name}: MathJax did not load"
        assert report["jax"] > 5, f"{name}: only {report['jax']} equations found by MathJax"
        assert report["typeset"] >= report["jax"], f"{name}: {report}"
        assert report["errors"] == 0, f"{name}: {report['errors']} equations failed to typeset"
        bad = [i["src"] for i in report["images"] if not i["ok"]]
        assert not bad, f"{name}: images that did not load: {bad}"
        if want_images:
            assert any(i["src"].startswith("data:image/png") for i in report["images"]), \
                f"{name}: no notebook figure among {report['images']}"
