"""MkDocs hooks of the site (mkdocs.yml `hooks:`).

mkdocs-jupyter builds a notebook page's table of contents from the notebook converted to
Markdown (Python-Markdown's slugs) while the page's headings get nbconvert's ids; the two
disagree for headings with code or symbols ("`num_true > 1`" -> "#_1" in the contents, id
"num_true-%3E-1" on the heading), which leaves dead links in the contents. Both list the
same headings in the same order, so each contents link is pointed at its heading's real id.
"""
from __future__ import annotations

import re

HEADING_ID = re.compile(r"<h[1-6][^>]*\sid=\"([^\"]+)\"")


def _toc_ids(items) -> list[str]:
    out = []
    for item in items:
        out.append(item.id)
        out += _toc_ids(item.children)
    return out


def on_page_content(html, page, config, files):
    if page.file.src_path.endswith(".ipynb"):
        page.heading_ids = HEADING_ID.findall(html)
    return html


def on_post_page(output, page, config):
    headings = getattr(page, "heading_ids", None)
    if headings is None:
        return output
    toc = _toc_ids(page.toc.items)
    if len(toc) != len(headings):          # cannot pair them: leave the page as it is
        return output
    for toc_id, heading_id in zip(toc, headings):
        if toc_id != heading_id:
            output = output.replace(f'href="#{toc_id}"', f'href="#{heading_id}"')
    return output
