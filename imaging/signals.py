"""Signals other layers listen to; imaging itself knows nothing of AI.

- ``instance_stored`` (``instance_id``; from ingest also ``instance_ids``, ``study_id`` and
  ``source``): sent after the transaction that stored new instances has committed, once per
  study and batch (``instance_ids`` lists them all, ``instance_id`` is the first).
- ``instances_filed`` (``instance_ids``, ``study_id``, ``source``): sent by ingest *inside* the
  transaction that files new images from a doctor's own upload (:data:`INTERACTIVE_SOURCES`;
  a pushed study waits for its quiet period), once per study and batch, before
  ``instance_stored``.
  Receivers may write rows that must commit with the images; anything else (a broker, a
  cache) waits for ``transaction.on_commit``. An error a receiver raises is logged and undone
  (a savepoint), never the upload's: the images commit all the same, and after an
  OperationalError (a lock timeout ...) the signal is sent once more after the commit,
  outside any transaction (receivers must be idempotent).
- ``study_stable`` (``study_id``, ``instance_ids``): the listed instances are ready for
  whatever comes next. For a study pushed by a scanner or PACS this is sent once no new
  instance has arrived for ``MEDASSIST_STUDY_QUIET_SECONDS``; for a doctor's own upload it is
  sent at once for that instance, inside the transaction that stores it (through
  ``instances_filed``), because somebody is waiting at the page.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sources where a person is waiting for the result of this very file: only they send
# ``instances_filed``.
INTERACTIVE_SOURCES = frozenset({"upload", "api"})

instance_stored = Signal()
instances_filed = Signal()
study_stable = Signal()
