"""Markdown to sanitised HTML (markdown-it-py, then nh3)."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = None

ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "s", "a", "ul", "ol", "li", "blockquote", "code", "pre",
                "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "table", "thead", "tbody", "tr", "th", "td",
                "sup", "sub", "figure", "figcaption"}
ALLOWED_ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
                 "th": {"align"}, "td": {"align"}}


def render(text: str) -> str:
    """Render Markdown (tables, inline HTML allowed) and strip anything unsafe."""
    global _md
    if _md is None:
        _md = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").enable("strikethrough")
    html = _md.render(text or "")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
