"""Triage: the ESI v4 hard rules and the SYNTHETIC triage-note generator.

Pure Python on purpose: no Django and no torch, because the Django side (assessments,
suggestions) and the training scripts both use these modules, and the rules must be testable
on their own. See docs/triage.md.
"""

from __future__ import annotations
