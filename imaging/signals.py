"""Signals other layers listen to; imaging itself knows nothing of AI.

``instance_stored`` is sent after the transaction that stored a new instance has committed,
with ``instance_id``; the diagnosis app enqueues inference from it.
"""

from __future__ import annotations

from django.dispatch import Signal

instance_stored = Signal()
