"""The report as plain data (sections of tables, images and notes) and its two renderings.

Building the content once and rendering it twice keeps ``index.html`` and ``README.md``
identical in substance.  The HTML is one static file with inline CSS and relative image
paths: it opens offline from ``file://`` with nothing fetched.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Image:
    file: str  # relative to the report folder
    caption: str


@dataclass
class Note:
    text: str
    missing: bool = False  # an input that was not found: the section says what to run


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Table | Image | Note] = field(default_factory=list)


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1d2329; line-height: 1.45; }
h1 { margin-bottom: .2rem; } .subtitle { color: #5b6670; margin-top: 0; }
nav { background: #f4f6f8; padding: .6rem 1rem; border-radius: 6px; }
nav a { margin-right: 1rem; white-space: nowrap; }
section { margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .8rem 0 1.2rem; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border: 1px solid #d5dbe0; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef2f5; } tr:nth-child(even) td { background: #fafbfc; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #e3e7ea; }
figcaption { color: #5b6670; font-size: .9rem; }
.note { color: #3c4650; } .missing { color: #8a5a00; background: #fff7e6; padding: .4rem .7rem; border-radius: 4px; }
.published { color: #6b4fa0; font-weight: 600; }
"""


def _cell(text: str) -> str:
    escaped = html.escape(str(text))
    return escaped.replace("[published]", '<span class="published">[published]</span>')


def render_html(title: str, subtitle: str, sections: list[Section]) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>{html.escape(title)}</h1>", f'<p class="subtitle">{html.escape(subtitle)}</p>', "<nav>"]
    out += [f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections]
    out.append("</nav>")
    for s in sections:
        out.append(f'<section id="{s.id}">')
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            if isinstance(b, Table):
                out.append("<table>")
                if b.caption:
                    out.append(f"<caption>{html.escape(b.caption)}</caption>")
                out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b.headers) + "</tr></thead>")
                out.append("<tbody>")
                out += ["<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in b.rows]
                out.append("</tbody></table>")
            elif isinstance(b, Image):
                out.append(f'<figure><img src="{html.escape(b.file)}" alt="{html.escape(b.caption)}">'
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            else:
                cls = "missing" if b.missing else "note"
                out.append(f'<p class="{cls}">{html.escape(b.text)}</p>')
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, subtitle: str, sections: list[Section]) -> str:
    out = [f"# {title}", "", subtitle, ""]
    out += [f"- [{s.title}](#{s.id})" for s in sections]
    for s in sections:
        out += ["", f'<a id="{s.id}"></a>', "", f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                if b.caption:
                    out += [f"**{b.caption}**", ""]
                out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
                out.append("|" + "---|" * len(b.headers))
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
                out.append("")
            elif isinstance(b, Image):
                out += [f"![{b.caption}]({b.file})", "", f"*{b.caption}*", ""]
            else:
                out += [f"> **Missing:** {b.text}" if b.missing else b.text, ""]
    return "\n".join(out).rstrip() + "\n"
