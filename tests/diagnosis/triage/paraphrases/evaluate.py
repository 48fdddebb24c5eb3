"""How the ESI rules recognise the high-risk situations of the paraphrase set.

    .venv/bin/python -m tests.diagnosis.triage.paraphrases.evaluate frozen
    .venv/bin/python -m tests.diagnosis.triage.paraphrases.evaluate tuning --misses [--key pe]
    .venv/bin/python -m tests.diagnosis.triage.paraphrases.evaluate frozen --meaning
    .venv/bin/python -m tests.diagnosis.triage.paraphrases.evaluate fresh --meaning
    .venv/bin/python -m tests.diagnosis.triage.paraphrases.evaluate tuning --lines 6750: \
        --meaning --head /tmp/head.npz

A note describing situation X is *recalled* when X's concept fires (its rule code); it is
*raised enough* when the rules' floor is at least as acute as X's level (another situation of
the same level may have fired instead). A ``none`` note is a *false positive* when any
concept fires. Every note is read with the same unremarkable adult vital signs, so only the
words decide. ``--misses`` lists the notes missed and the false positives; it refuses the
frozen half, which no list may be tuned on, and the fresh round, which is read as it was
written until it joins the tuning half. ``--meaning`` adds the meaning-based match (loads
the MiniLM encoder); ``--head`` reads with another learned head than the served one (a head
fitted by ``learn --first N --out PATH``), ``--lines A:B`` only the lines A to B of the half
(a round of notes that head never saw).
"""

from __future__ import annotations

import argparse
import collections
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from diagnosis.triage.concepts import BY_KEY, CONCEPTS
from diagnosis.triage.rules import Vitals, esi_rules

HERE = Path(__file__).resolve().parent
# "fresh": the newest round of notes, read as written and not tuned on yet (README.md).
HALVES = ("frozen", "tuning", "fresh")
VITALS = Vitals(
    age_years=40,
    heart_rate=80,
    respiratory_rate=16,
    spo2=98,
    systolic_bp=125,
    diastolic_bp=80,
    temperature_c=37.0,
    pain=3,
    avpu="A",
)
CONCEPT_CODES = frozenset(c.code for c in CONCEPTS)


def notes(half: str, lines: slice = slice(None)) -> list[dict[str, str]]:
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {half!r}")
    with open(HERE / f"{half}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()][lines]


@dataclass
class Report:
    recalled: collections.Counter = field(default_factory=collections.Counter)
    raised: collections.Counter = field(default_factory=collections.Counter)
    total: collections.Counter = field(default_factory=collections.Counter)
    false_positives: int = 0
    none_total: int = 0
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)
    false_alarms: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return sum(self.recalled.values()) / max(1, sum(self.total.values()))

    @property
    def raised_rate(self) -> float:
        return sum(self.raised.values()) / max(1, sum(self.total.values()))

    def recall_of(self, key: str) -> float:
        return self.recalled[key] / max(1, self.total[key])

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / max(1, self.none_total)


def evaluate(
    half: str,
    *,
    similar: Callable[[str], Mapping[str, str]] | None = None,
    lines: slice = slice(None),
) -> Report:
    """Read every note of ``half`` (its ``lines``) through the ESI rules (and ``similar``,
    the meaning-based match, when given)."""
    report = Report()
    for row in notes(half, lines):
        note = row["note"]
        result = esi_rules(
            complaint=note, vitals=VITALS, similar=similar(note) if similar else None
        )
        fired = [r.code for r in result.fired if r.code in CONCEPT_CODES]
        if row["concept"] == "none":
            report.none_total += 1
            if fired:
                report.false_positives += 1
                report.false_alarms.append((note, fired))
            continue
        concept = BY_KEY[row["concept"]]
        report.total[concept.key] += 1
        if concept.code in fired:
            report.recalled[concept.key] += 1
        else:
            report.misses.append((concept.key, note, fired))
        if result.floor is not None and result.floor <= concept.level:
            report.raised[concept.key] += 1
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("half", choices=HALVES)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--key", default="", help="only this situation's misses")
    parser.add_argument("--meaning", action="store_true")
    parser.add_argument("--head", type=Path, help="another learned head (with --meaning)")
    parser.add_argument("--lines", default=":", help="A:B, only these lines of the half")
    args = parser.parse_args()
    if args.misses and args.half == "frozen":
        parser.error("the frozen half is held out: list the tuning half's misses only")
    if args.misses and args.half == "fresh":
        parser.error(
            "the fresh round is read, not tuned on: join it to the tuning half (README.md) "
            "before listing its misses"
        )
    try:
        start, _, stop = args.lines.partition(":")
        lines = slice(int(start) if start else None, int(stop) if stop else None)
    except ValueError:
        parser.error("--lines takes A:B (either may be left out)")
    similar = None
    if args.meaning:
        from diagnosis.triage import meaning  # torch, the encoder

        if args.head:
            meaning.LEARNED_PATH = args.head
        similar = meaning.similar_concepts
    elif args.head:
        parser.error("--head needs --meaning")
    report = evaluate(args.half, similar=similar, lines=lines)
    print(
        f"{args.half}: recall {report.recall:.3f} "
        f"({sum(report.recalled.values())}/{sum(report.total.values())}), "
        f"raised to the situation's level {report.raised_rate:.3f}, "
        f"false positives {report.false_positives}/{report.none_total} "
        f"({report.false_positive_rate:.3f})"
    )
    for key in sorted(report.total, key=report.recall_of):
        print(
            f"  {key:28s} {report.recall_of(key):.2f} ({report.recalled[key]}/{report.total[key]})"
        )
    if args.misses:
        print("\nMISSED")
        for key, note, fired in report.misses:
            if not args.key or key == args.key:
                print(f"- [{key}] {note}  (fired: {', '.join(fired) or 'nothing'})")
        if not args.key:
            print("\nFALSE POSITIVES")
            for note, fired in report.false_alarms:
                print(f"- {', '.join(fired)}: {note}")
        else:
            print("\nFALSE POSITIVES")
            code = BY_KEY[args.key].code
            for note, fired in report.false_alarms:
                if code in fired:
                    print(f"- {', '.join(fired)}: {note}")


if __name__ == "__main__":
    main()
