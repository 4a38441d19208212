"""Model output as HTML: Markdown rendered, then sanitised so no markup gets through.

Model output is untrusted (a prompt can make a model write anything), so raw HTML
in it is never trusted: python-markdown renders, nh3 keeps only formatting tags.
Images are dropped too: an image URL written by a model can carry data out.
"""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
#: Longest text rendered; the rest is cut (the page still has the whole answer).
MAX_RENDERED_CHARS = 200_000


def render_markdown(text: str) -> SafeString:
    """Sanitised HTML for ``text`` (Markdown), safe to put in a page as is."""
    html = markdown.markdown(
        text[:MAX_RENDERED_CHARS], extensions=["fenced_code", "tables", "sane_lists"]
    )
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return mark_safe(cleaned)  # sanitised by nh3 just above
