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
    # Graded by a model against a rubric (apps.playground.judge), after the run.
    JUDGE = "judge", "LLM judge (rubric)"


def rubric_criteria(rubric: str) -> list[str]:
    """A judge rubric's criteria: its non-empty lines (or ";"-separated parts, as
    a one-line field gives them), list markers dropped."""
    criteria = []
    for line in re.split(r"[\n;]", rubric):
        text = line.strip().lstrip("-*•").strip()
        if text:
            criteria.append(text)
    return criteria


def check_problem(kind: str, expected: str) -> str | None:
    """Why a check cannot be saved as given, or None."""
    if kind not in CheckKind.values:
        return "Choose a kind of check."
    if kind in (CheckKind.CONTAINS, CheckKind.EXACT) and not expected:
        return "Give the text the answer must contain or be."
    if kind == CheckKind.JUDGE and not rubric_criteria(expected):
        return "Give the rubric's criteria, one a line; a judge needs at least one."
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
    ``judge`` is never passed here: the judge grades those answers afterwards.
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
