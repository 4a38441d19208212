"""The checks a test set's answers are scored by: pure functions, no Django models."""

from __future__ import annotations

import json
import re

from django.db.models import TextChoices

#: Longest answer a check reads (a runaway answer is judged on its start).
MAX_CHECKED_CHARS = 100_000
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(?P<body>.*?)\n?```$", re.DOTALL)


class CheckKind(TextChoices):
    CONTAINS = "contains", "Contains"
    REGEX = "regex", "Matches regex"
    EXACT = "exact", "Exact answer"
    JSON = "json", "Valid JSON"


def check_problem(kind: str, expected: str) -> str | None:
    """Why a check cannot be saved as given, or None."""
    if kind not in CheckKind.values:
        return "Choose a kind of check."
    if kind in (CheckKind.CONTAINS, CheckKind.EXACT) and not expected:
        return "Give the text the answer must contain or be."
    if kind == CheckKind.REGEX:
        if not expected:
            return "Give a regular expression."
        try:
            re.compile(expected)
        except re.error as exc:
            return f"Not a valid regular expression: {exc}."
    return None


def passes(kind: str, expected: str, output: str) -> bool:
    """Whether ``output`` passes the check.

    ``contains`` is case-sensitive; ``exact`` ignores surrounding whitespace;
    ``regex`` searches anywhere (anchor it for a full match); ``json`` accepts
    the answer alone or inside one Markdown code fence, as models often write it.
    """
    output = output[:MAX_CHECKED_CHARS]
    if kind == CheckKind.CONTAINS:
        return expected in output
    if kind == CheckKind.EXACT:
        return output.strip() == expected.strip()
    if kind == CheckKind.REGEX:
        try:
            return re.search(expected, output) is not None
        except re.error:
            return False
    if kind == CheckKind.JSON:
        text = output.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group("body").strip()
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return False
