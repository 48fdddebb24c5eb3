"""How the rules with the meaning match (no model) read the hand-written ESI vignettes.

    .venv/bin/python -m tests.diagnosis.triage.read_vignettes
    .venv/bin/python -m tests.diagnosis.triage.read_vignettes vignettes_61.jsonl --list

Per set (all of ``test_vignettes.SETS`` when none is named, or files given by path): how
many vignettes the rules suggest at the expected level, how many ESI 1 at 1, how many ESI 2
at 2, and how many ESI 1-2 are suggested less acute (``test_vignettes.py`` holds that this
is none); then the total. ``--list`` prints each vignette off its level with the rules that
fired. It reads the sets as the code stands: a set's first read (vignettes/README.md) is
this run on the commit before the set's changes. The meaning match loads the MiniLM
encoder of the installed package (about 10 s).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diagnosis.triage.meaning import similar_concepts
from diagnosis.triage.rules import esi_rules, rules_level
from tests.diagnosis.triage.test_vignettes import HERE, SETS, vitals_of


def read(path: Path, *, listing: bool) -> tuple[int, int, int, int, int, int, int]:
    """(at level, count, ESI 1 at 1, ESI 1, ESI 2 at 2, ESI 2, ESI 1-2 less acute)."""
    at = count = one_at = ones = two_at = twos = under = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        vignette = json.loads(line)
        result = esi_rules(
            complaint=vignette["complaint"],
            vitals=vitals_of(vignette),
            similar=similar_concepts(vignette["complaint"]),
        )
        level, expected = rules_level(result), vignette["expected_esi"]
        count += 1
        at += level == expected
        ones += expected == 1
        one_at += expected == 1 and level == 1
        twos += expected == 2
        two_at += expected == 2 and level == 2
        under += expected <= 2 and level > expected
        if listing and level != expected:
            fired = ", ".join(r.code for r in result.fired) or "nothing"
            print(f"  {vignette['id']}: ESI {level}, expected {expected} ({fired})")
            print(f"      {vignette['situation']}")
    return at, count, one_at, ones, two_at, twos, under


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", help="set file names in vignettes/, or paths")
    parser.add_argument("--list", action="store_true", help="each vignette off its level")
    args = parser.parse_args()
    names = args.sets or [name for name, *_ in SETS]
    totals = [0] * 7
    for name in names:
        path = Path(name) if Path(name).exists() else HERE / name
        figures = read(path, listing=args.list)
        at, count, one_at, ones, two_at, twos, under = figures
        print(
            f"{path.name}: {at}/{count} at the expected level; ESI 1 at 1: {one_at}/{ones}; "
            f"ESI 2 at 2: {two_at}/{twos}; ESI 1-2 less acute: {under}"
        )
        totals = [t + f for t, f in zip(totals, figures, strict=True)]
    at, count, one_at, ones, two_at, twos, under = totals
    print(
        f"total: {at}/{count} at the expected level; ESI 1 at 1: {one_at}/{ones}; "
        f"ESI 2 at 2: {two_at}/{twos}; ESI 1-2 less acute: {under}"
    )


if __name__ == "__main__":
    main()
