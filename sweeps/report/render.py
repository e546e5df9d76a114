"""Writing a report: ``index.html`` (self-contained: plotly.js inline, no network), ``summary.md`` (tables to
paste into a paper), ``tables/*.csv`` and ``provenance.json``. Everything is written to a temporary sibling
directory and renamed into place, so a report is whole or absent."""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

from plotly.offline import get_plotlyjs

from ftlib.core.encode import json_bytes
from ftlib.core.ownership import new_output_dir
from sweeps.report.document import Section, Table

REPORT_KIND, PROVENANCE = "report", "provenance.json"

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1180px;
       color: #1d2733; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { margin-top: 2.4rem; border-bottom: 1px solid #d8dee6; }
.question { color: #4a5866; font-style: italic; } .missing { background: #fff6e0; border-left: 4px solid #e0a800;
padding: .5rem .8rem; } .findings { background: #eef6ee; border-left: 4px solid #2e8b57; padding: .5rem .8rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .6rem 0 1.2rem; }
th, td { border: 1px solid #d8dee6; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f5f8; } caption { text-align: left; font-weight: 600; padding: .3rem 0; }
.note { color: #4a5866; font-size: .8rem; } .meta { color: #4a5866; font-size: .85rem; }
"""
# Errors thrown by any script, and the number of plots plotly drew, written into the page itself, so that a
# headless browser's DOM dump tells whether the page worked.
CHECKS = """
window.addEventListener('error', function (e) {
  document.getElementById('page-errors').textContent += (e.message || 'error') + '\\n';
});
window.addEventListener('load', function () {
  var plots = Array.from(document.querySelectorAll('.plot'));
  var drawn = plots.filter(function (p) { return p.querySelector('.main-svg'); }).length;
  document.body.setAttribute('data-plots-drawn', String(drawn));
  document.body.setAttribute('data-plots-expected', String(plots.length));
});
"""


def write_report(out: str | Path, title: str, meta: list[str], sections: list[Section],
                 provenance: dict[str, Any], headline: list[str], force: bool = False) -> Path:
    """Whole or absent; ``out`` is new, empty, or (``force``) an earlier report."""
    out = Path(out)
    with new_output_dir(out, REPORT_KIND, "--out", force=force, known_by=PROVENANCE) as tmp:
        (tmp / "tables").mkdir()
        for section in sections:
            for table in section.tables:
                (tmp / "tables" / f"{table.name}.csv").write_text(_csv(table))
        (tmp / "index.html").write_text(_html(title, meta, sections, headline))
        (tmp / "summary.md").write_text(_markdown(title, meta, sections, headline))
        (tmp / PROVENANCE).write_bytes(json_bytes(provenance))
    return out


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buf.getvalue()


def _html(title: str, meta: list[str], sections: list[Section], headline: list[str]) -> str:
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style><script>{CHECKS}</script><script>{get_plotlyjs()}</script></head><body>",
             f"<h1>{html.escape(title)}</h1>", *(f"<div class='meta'>{html.escape(m)}</div>" for m in meta),
             "<pre id='page-errors' style='color:#b00020'></pre>", "<h2>Findings</h2>",
             _list(headline or ["No finding passes its test yet: see the sections for what is missing."]),
             "<h2>Contents</h2><ol>"]
    parts += [f"<li><a href='#{s.key}'>{html.escape(s.title.split('. ', 1)[-1])}</a></li>" for s in sections]
    parts.append("</ol>")
    for section in sections:
        parts.append(f"<h2 id='{section.key}'>{html.escape(section.title)}</h2>"
                     f"<p class='question'>{html.escape(section.question)}</p>")
        if section.missing:
            parts.append(f"<p class='missing'>Not computed: {html.escape(section.missing)}</p>")
        if section.findings:
            parts.append(f"<div class='findings'>{_list(section.findings)}</div>")
        for fig in section.figures:
            parts.append(f"<div class='plot'>{fig.to_html(full_html=False, include_plotlyjs=False)}</div>")
        parts += [_html_table(t) for t in section.tables]
    parts.append("</body></html>")
    return "\n".join(parts)


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in table.rows)
    note = f"<div class='note'>{html.escape(table.note)}</div>" if table.note else ""
    return f"<table><caption>{html.escape(table.title)}</caption><tr>{head}</tr>{body}</table>{note}"


def _markdown(title: str, meta: list[str], sections: list[Section], headline: list[str]) -> str:
    lines = [f"# {title}", "", *(f"- {m}" for m in meta), "", "## Findings", ""]
    lines += [f"- {h}" for h in headline] or ["- No finding passes its test yet."]
    for section in sections:
        lines += ["", f"## {section.title}", "", f"*{section.question}*", ""]
        if section.missing:
            lines += [f"> Not computed: {section.missing}", ""]
        lines += [f"- {f}" for f in section.findings]
        for table in section.tables:
            lines += ["", f"**{table.title}**", "", "| " + " | ".join(map(str, table.columns)) + " |",
                      "|" + "---|" * len(table.columns)]
            lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in table.rows]
            if table.note:
                lines += ["", f"_{table.note}_"]
    return "\n".join(lines) + "\n"


def provenance_document(exps: list[str], provenance: dict[str, Any], sections: list[Section]) -> dict[str, Any]:
    return {"experiments": exps, "numbers": provenance,
            "sections": {s.key: {"title": s.title, "missing": s.missing, "tables": [t.name for t in s.tables]}
                         for s in sections}}
