"""Vital signs as the text the triage model reads, in plain Python.

Kept apart from :mod:`medassist.ml.text_model` (torch and transformers) because every triage
assessment builds its note with it, also in a web process that does not serve the model.
"""

from __future__ import annotations

from typing import Any

_AVPU = ("A", "V", "P", "U")


def _number(value: float) -> str:
    """``120.0`` -> ``"120"``, ``38.46`` -> ``"38.5"``."""
    rounded = round(float(value), 1)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:.1f}"


def vitals_to_text(**vitals: Any) -> str:
    """Render vital signs as the short text the triage model reads.

    E.g. ``"HR 120 RR 24 SpO2 91% BP 90/60 T 38.5C pain 8/10 AVPU A age 67y"``: the
    :func:`vitals_clauses` joined by spaces (same arguments, same errors).
    """
    return " ".join(vitals_clauses(**vitals))


def vitals_clauses(
    *,
    hr: float | None = None,
    rr: float | None = None,
    spo2: float | None = None,
    sbp: float | None = None,
    dbp: float | None = None,
    temp_c: float | None = None,
    pain: int | None = None,
    avpu: str | None = None,
    age_years: float | None = None,
) -> list[str]:
    """Vital signs as the clauses of the text the triage model reads, one per measurement.

    E.g. ``["HR 120", "RR 24", "SpO2 91%", "BP 90/60", "T 38.5C", "pain 8/10", "AVPU A",
    "age 67y"]``. Missing values are left out (``BP`` needs both pressures). Ages under 2
    years are given in months (``"age 8mo"``), because ESI's danger-zone vitals depend on
    them.

    Args:
        hr: heart rate, beats/min. rr: respiratory rate, breaths/min. spo2: oxygen
            saturation, %. sbp/dbp: systolic/diastolic blood pressure, mmHg. temp_c: body
            temperature, degrees Celsius. pain: 0-10 scale. avpu: mental status, one of
            A(lert), V(oice), P(ain), U(nresponsive). age_years: age in years.

    Raises:
        ValueError: a value outside what can be a measurement (negative rates, SpO2 over
            100, pain outside 0-10, unknown AVPU, only one blood pressure).
    """
    for name, value in (("hr", hr), ("rr", rr), ("sbp", sbp), ("dbp", dbp), ("age", age_years)):
        if value is not None and value < 0:
            raise ValueError(f"{name} cannot be negative, got {value}")
    if spo2 is not None and not 0 <= spo2 <= 100:
        raise ValueError(f"SpO2 is a percentage, got {spo2}")
    if pain is not None and not 0 <= pain <= 10:
        raise ValueError(f"pain is scored 0-10, got {pain}")
    if (sbp is None) != (dbp is None):
        raise ValueError("blood pressure needs both sbp and dbp")
    if avpu is not None and avpu.upper() not in _AVPU:
        raise ValueError(f"avpu must be one of {_AVPU}, got {avpu!r}")
    # Catches Fahrenheit entered as Celsius: no living patient is at 10 C or 50 C.
    if temp_c is not None and not 10 <= temp_c <= 47:
        raise ValueError(f"temperature must be in degrees Celsius, got {temp_c}")

    parts: list[str] = []
    if hr is not None:
        parts.append(f"HR {_number(hr)}")
    if rr is not None:
        parts.append(f"RR {_number(rr)}")
    if spo2 is not None:
        parts.append(f"SpO2 {_number(spo2)}%")
    if sbp is not None and dbp is not None:
        parts.append(f"BP {_number(sbp)}/{_number(dbp)}")
    if temp_c is not None:
        parts.append(f"T {float(temp_c):.1f}C")
    if pain is not None:
        parts.append(f"pain {int(pain)}/10")
    if avpu is not None:
        parts.append(f"AVPU {avpu.upper()}")
    if age_years is not None:
        if age_years < 2:
            parts.append(f"age {int(age_years * 12)}mo")
        else:
            parts.append(f"age {int(age_years)}y")
    return parts
