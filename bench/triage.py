"""What the triage nurse waits for, on the CPU: the whole requests, then their parts.

    .venv/bin/python bench/triage.py                 # 50 SYNTHETIC notes, the web's 1 thread
    .venv/bin/python bench/triage.py --notes 100 --threads 2
    .venv/bin/python bench/triage.py --notes 100 --nurses 2   # two web processes at once
    .venv/bin/python bench/triage.py --notes 100 --threads 2 \
        --database-url postgres://postgres@127.0.0.1:5432/medassist_bt \
        --redis-url redis://127.0.0.1:6379/7   # as deployed (create the database first)

Prints p50/p95 per note of the server time of:
  1. the nurse's submit until she sees the suggested level: the intake POST (form, patient
     and encounter stored, ESI rules with the concepts by their words and by meaning (a pass
     of the pretrained MiniLM over the note's clauses and the whole complaint), the triage
     model (the head on that pass's embedding, or the fine-tuned model's own pass: --model),
     the assessment with its provenance) with the encounter's page in its answer, as the
     browser sends it (htmx boosts the form: one request), through Django's whole request
     path (middleware, sessions, audit, templates) in a warm process (the model loaded by
     the web process's start-up hook, as ``medassist.wsgi`` does); and, for a browser
     without JavaScript, the POST and the GET of the page it redirects to;
  2. the words that weighed, the HTMX fragment the page asks for after it is shown
     (gradient x input: one forward and one backward pass);
  3. their parts measured alone: the rules, the meaning match, the model (its forward
     pass, or the head alone), the word weights as the fragment's service computes and
     stores them, and
     for comparison the occlusion explanation (one forward per unit) it replaced.

With --nurses N, N such processes measure at the same time (each with its own scratch SQLite
database, set up first, then started together): N web processes answering N nurses at once
on the same cores, as gunicorn's workers do. Each prints its own figures.

Runs in a scratch folder (SQLite unless --database-url) with a champion of the kind
MEDASSIST_TRIAGE_MODEL (or --model) names, as training builds it, untrained: latency does
not depend on the head's values.
Notes are SYNTHETIC; their length is that of the generator's (median ~60 characters), and
--long adds one of 2,000 characters (the complaint cap) to each note.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def report(name: str, values_ms: list[float]) -> None:
    p50, p95 = percentile(values_ms, 50), percentile(values_ms, 95)
    mean = statistics.fmean(values_ms)
    print(f"{name:38s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   mean {mean:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=50)
    parser.add_argument(
        "--threads",
        type=int,
        default=-1,
        help="torch threads of the web process (MEDASSIST_WEB_TORCH_THREADS; default: the "
        "setting's, one; 0: MEDASSIST_TORCH_THREADS, else one per core up to 8)",
    )
    parser.add_argument("--nurses", type=int, default=1, help="web processes measured at once")
    parser.add_argument("--start-together", default="", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help="default: SQLite in a scratch folder")
    parser.add_argument(
        "--redis-url",
        default="",
        help="the cache (as deployed: Redis; default: files in the scratch folder, whatever "
        "REDIS_URL says); use a database number nothing else uses",
    )
    parser.add_argument("--long", action="store_true", help="complaints padded to 2,000 characters")
    parser.add_argument(
        "--model",
        choices=["frozen-encoder", "fine-tuned"],
        default="",
        help="the champion's kind (MEDASSIST_TRIAGE_MODEL; default: the setting's)",
    )
    args = parser.parse_args()
    if args.nurses > 1 and not args.start_together:
        nurses_at_once(args)
        return

    scratch = Path(tempfile.mkdtemp(prefix="medassist-bench-triage-"))
    os.environ["MEDASSIST_VAR_DIR"] = str(scratch)
    os.environ["MEDIA_ROOT"] = str(scratch / "media")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["MEDASSIST_INFERENCE_DEVICE"] = "cpu"
    os.environ["MEDASSIST_WEB_SERVES_TRIAGE_MODEL"] = "true"
    os.environ.setdefault("DEBUG", "false")  # as deployed: templates without debug tracking
    if args.threads >= 0:
        os.environ["MEDASSIST_WEB_TORCH_THREADS"] = str(args.threads)
    if args.model:
        os.environ["MEDASSIST_TRIAGE_MODEL"] = args.model
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from diagnosis.registry.services import model_version_promote, model_version_register
    from diagnosis.triage.meaning import read_note
    from diagnosis.triage.models import TriageAssessment
    from diagnosis.triage.rules import esi_rules
    from diagnosis.triage.services import assessment_words, note_units, vitals_of
    from diagnosis.triage.serving import text_classifier_for
    from diagnosis.triage.synthetic import generate_notes
    from finetune.adapters import TriageAdapter
    from medassist.ml.text_model import word_importance
    from medassist.roles import Role
    from medassist.signals import web_process_ready

    call_command("migrate", verbosity=0)
    import torch

    torch.manual_seed(0)
    key = "models/triage/bench.pt"
    adapter = TriageAdapter()  # builds the kind MEDASSIST_TRIAGE_MODEL names
    built = adapter.build_new()
    frozen = getattr(built, "kind", "") == "frozen-encoder"
    sha = adapter.save(built, Path(settings.MEDIA_ROOT) / key)
    fields = adapter.version_fields(built, adapter.test_data())
    version = model_version_promote(
        version=model_version_register(
            task="triage", weights_key=key, weights_sha256=sha, labels=fields["labels"],
            image_size=0, preprocess_version=fields["preprocess_version"], parent=None,
            model_card={"intended_use": "bench"}, metrics={"n": 0},
            training_summary={"n_train": 0}, trained_through_review_id=0,
            trained_on_synthetic_data=True,
        ),
        actor=None,
        reason="bench",
    )  # fmt: skip
    web_process_ready.send(sender=None)  # what the web process does when it starts
    from medassist.process import startup_objects_freeze

    startup_objects_freeze()  # as medassist.wsgi does next
    nurse = User.objects.create_user(f"bench-nurse-{os.getpid()}")
    nurse.groups.add(Group.objects.get_or_create(name=Role.NURSE)[0])
    client = Client(HTTP_HOST="localhost")
    client.force_login(nurse)
    padding = (
        " Lives alone, independent, walks with a stick, takes ramipril and atorvastatin, "
        "no known allergies, daughter on the way, last meal at noon, tetanus up to date."
    )

    def form_of(i: int, note) -> dict[str, str]:  # type: ignore[no-untyped-def]
        v = note.vitals
        complaint = note.complaint
        if args.long:
            complaint = (complaint + padding * 20)[: settings.MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS]
        form = {
            "mrn": f"BENCH-{os.getpid()}-{i}", "name": "Bench Synthetic",
            "age_years": f"{max(v.age_years, 0.1):.1f}", "sex": "U",
            "arrival_mode": "walk_in", "chief_complaint": complaint,
            "respiratory_rate": str(v.respiratory_rate or 16), "spo2": str(v.spo2 or 98),
            "systolic_bp": str(v.systolic_bp or 120),
            "diastolic_bp": str(min(v.diastolic_bp or 80, (v.systolic_bp or 120) - 1)),
            "temperature": f"{v.temperature_c or 37.0:.1f}", "temperature_unit": "C",
            "pain": str(v.pain or 0), "mental_status": v.avpu or "A",
            "heart_rate": str(v.heart_rate or 80),
        }  # fmt: skip
        return form

    def post(form: dict[str, str], **headers: str):  # type: ignore[no-untyped-def]
        # URL-encoded, as a browser and htmx send a form without a file in it.
        return client.post(
            reverse("diagnosis:encounter-new"), urlencode(form),
            content_type="application/x-www-form-urlencoded", **headers,
        )  # fmt: skip

    notes = list(generate_notes(args.notes + 1, seed=7))
    # Warm-up: the first request's allocations and template loading.
    warm = post(form_of(-1, notes[0]))
    assert warm.status_code == 302, warm.content.decode()[:2000]
    client.get(warm["Location"])

    boosted = {"HTTP_HX_REQUEST": "true", "HTTP_HX_BOOSTED": "true"}
    warm = post(form_of(-2, notes[0]), **boosted)
    assert warm.status_code == 200, warm.content.decode()[:2000]

    def with_javascript(i: int, note) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = post(form_of(i, note), **boosted)
        nurse_waits.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and b"suggested-level" in response.content
        assert response["HX-Push-Url"].startswith("/triage/encounters/")

    def without_javascript(i: int, note) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = post(form_of(i, note))
        posted = time.perf_counter()
        assert response.status_code == 302, response.content.decode()[:2000]
        shown = client.get(response["Location"])
        done = time.perf_counter()
        assert shown.status_code == 200 and b"suggested-level" in shown.content
        submit.append((posted - started) * 1000)
        page.append((done - posted) * 1000)
        plain_waits.append((done - started) * 1000)

    # The SQL statements of one such request (counted apart: counting costs time).
    with CaptureQueriesContext(connection) as queries:
        warm = post(form_of(-3, notes[0]), **boosted)
    assert warm.status_code == 200, warm.content.decode()[:2000]
    statements = len(queries.captured_queries)

    if args.start_together:  # one of --nurses: wait until every process is ready
        together = Path(args.start_together)
        (together / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 600
        while len(list(together.glob("ready-*"))) < int((together / "count").read_text()):
            if time.monotonic() > deadline:
                sys.exit("The other web processes of --nurses were not ready within 600 s.")
            time.sleep(0.05)

    submit, page, nurse_waits, plain_waits, fragment = [], [], [], [], []
    rules, meaning, forward, gradients, occlusion = [], [], [], [], []
    clf = text_classifier_for(version)
    for i, note in enumerate(notes[1:]):
        # Both ways for every note, in alternating order; the patient of the JavaScript
        # way (MRN ...-i) is the one measured further below.
        ways = [(with_javascript, i), (without_javascript, -i - 10)]
        for way, number in ways if i % 2 == 0 else reversed(ways):
            way(number, note)
        mrn = f"BENCH-{os.getpid()}-{i}"
        assessment = TriageAssessment.objects.get(encounter__patient__mrn=mrn)
        started = time.perf_counter()
        words = client.get(reverse("diagnosis:triage-words", args=[assessment.pk]))
        fragment.append((time.perf_counter() - started) * 1000)
        assert words.status_code == 200 and b'data-testid="top-words"' in words.content

        encounter = assessment.encounter
        vitals = vitals_of(encounter=encounter)
        units = note_units(complaint=encounter.chief_complaint, vitals=vitals)
        text = " ".join(units)
        started = time.perf_counter()
        esi_rules(complaint=encounter.chief_complaint, vitals=vitals)
        rules.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        reading = read_note(encounter.chief_complaint, whole=frozen)
        meaning.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        if frozen:
            clf.classify_embedded(reading.whole, dataclasses.asdict(vitals))
        else:
            clf.classify([text])
        forward.append((time.perf_counter() - started) * 1000)
        assessment.top_words = []
        started = time.perf_counter()
        assessment_words(assessment=assessment)
        gradients.append((time.perf_counter() - started) * 1000)
        if not args.long and not frozen:  # one forward per unit: minutes for long notes
            started = time.perf_counter()
            word_importance(clf, text, units=units)
            occlusion.append((time.perf_counter() - started) * 1000)

    database = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    database += ", Redis cache" if args.redis_url else ", file cache"
    lengths = sorted(len(n.complaint) for n in notes[1:])
    print(
        f"# {args.notes} SYNTHETIC notes (complaint median {lengths[len(lengths) // 2]} chars"
        f"{', padded to 2,000' if args.long else ''}), torch threads {torch.get_num_threads()},"
        f" CPU, {database}, champion: {'head on the frozen encoder' if frozen else 'fine-tuned'}"
    )
    report("nurse waits: intake, page in its answer", nurse_waits)
    print(f"  SQL statements in that request: {statements}")
    report("without JavaScript: POST + redirect", plain_waits)
    report("  intake POST (rules + model + store)", submit)
    report("  encounter page GET", page)
    report("words that weighed (HTMX fragment)", fragment)
    report("  ESI rules", rules)
    report("  concepts by meaning (pretrained MiniLM)", meaning)
    report(
        "  triage head (on the meaning's pass)" if frozen else "  triage model forward (1 note)",
        forward,
    )
    report("  word weights (gradient x input, stored)", gradients)
    if occlusion:
        report("  (occlusion by unit, for comparison)", occlusion)


def nurses_at_once(args: argparse.Namespace) -> None:
    """Run ``args.nurses`` copies of this bench that measure at the same time."""
    import subprocess

    if args.database_url:
        sys.exit("--nurses gives each process its own scratch SQLite database: no --database-url")
    together = Path(tempfile.mkdtemp(prefix="medassist-bench-nurses-"))
    (together / "count").write_text(str(args.nurses))
    argv = [a for a in sys.argv[1:] if not a.startswith("--nurses")]
    if "--nurses" in sys.argv:  # "--nurses N" as two words
        at = sys.argv.index("--nurses")
        argv = sys.argv[1:at] + sys.argv[at + 2 :]
    children = [
        subprocess.Popen(
            [sys.executable, __file__, *argv, "--start-together", str(together)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.nurses)
    ]
    # One that fails (while setting up, say) stops the others: they would wait for it.
    while any(child.poll() is None for child in children):
        if any(child.returncode for child in children):
            for child in children:
                if child.poll() is None:
                    child.kill()
            break
        time.sleep(0.2)
    for number, child in enumerate(children, 1):
        out, _ = child.communicate()
        print(f"## web process {number} of {args.nurses}, measured at the same time")
        print(out, end="")
    failed = [child.returncode for child in children if child.returncode]
    if failed:
        sys.exit(f"{len(failed)} of the {args.nurses} web processes failed or were stopped.")


if __name__ == "__main__":
    main()
