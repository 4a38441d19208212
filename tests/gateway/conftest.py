"""Serving endpoints shared with the review tests."""

from tests.reviews.conftest import llama, openai  # noqa: F401 (fixtures)
