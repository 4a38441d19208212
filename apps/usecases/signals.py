"""Hooks for apps to the right of usecases (framework, reviews) without importing them.

`use_case_transitioned` is sent inside the transition's transaction with
`use_case`, `transition` and `by`; receivers that notify use `transaction.on_commit`.
"""

from django.dispatch import Signal

use_case_transitioned = Signal()
