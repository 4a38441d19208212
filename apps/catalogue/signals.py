"""Hooks for apps to the right of the catalogue (framework) without importing them.

`catalogue_changed` is sent after the transaction that recorded a new price snapshot
commits, with `snapshot` and `reason`; the framework re-assesses on it.
`models_added` is sent after models entered the catalogue (an edit or a price
import), with `model_ids`; the lifecycle app looks for upgrade candidates on it.
"""

from django.dispatch import Signal

catalogue_changed = Signal()
models_added = Signal()
