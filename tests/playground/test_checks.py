"""Each kind of check a test set's answers are scored by."""

from __future__ import annotations

import pytest

from apps.playground.checks import check_problem, passes


@pytest.mark.parametrize(
    ("kind", "expected", "output", "result"),
    [
        ("contains", "motor", "The motor queue.", True),
        ("contains", "motor", "The Motor queue.", False),
        ("contains", "motor", "The home queue.", False),
        ("exact", "motor", "  motor\n", True),
        ("exact", "motor", "motor queue", False),
        ("regex", r"^(motor|home)$", "motor", True),
        ("regex", r"\bqueue\s+\d+\b", "Send to queue 42 now", True),
        ("regex", r"^motor$", "motor queue", False),
        ("json", "", '{"queue": "motor"}', True),
        ("json", "", '```json\n{"queue": "motor"}\n```', True),
        ("json", "", "[1, 2, 3]", True),
        ("json", "", "{'queue': 'motor'}", False),
        ("json", "", "The queue is motor.", False),
        ("json", "", "", False),
        ("unknown", "x", "x", False),
    ],
)
def test_it_scores_each_check_kind(kind, expected, output, result):
    assert passes(kind, expected, output) is result


def test_an_invalid_regex_fails_rather_than_raising():
    assert passes("regex", "(", "anything") is False


@pytest.mark.parametrize(
    ("kind", "expected", "problem"),
    [
        ("contains", "", "Give the text"),
        ("exact", "", "Give the text"),
        ("regex", "", "Give a regular expression"),
        ("regex", "(", "Not a valid regular expression"),
        ("nope", "x", "Choose a kind"),
    ],
)
def test_it_explains_checks_that_cannot_be_saved(kind, expected, problem):
    assert problem in check_problem(kind, expected)


def test_valid_checks_have_no_problem():
    assert check_problem("json", "") is None
    assert check_problem("regex", r"\d+") is None
