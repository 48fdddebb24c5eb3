"""Triage: intake, suggestions, the nurse's decision and the board (Django), built on the
ESI v4 hard rules (``rules``) and the SYNTHETIC triage-note generator (``synthetic``).

``rules`` and ``synthetic`` are pure Python on purpose, no Django and no torch (an
import-linter contract keeps them so): the Django side and the training scripts both use
them, and the rules must be testable on their own. See docs/triage.md.
"""

from __future__ import annotations
