"""Task names are part of the wire format: routes, beat entries and queued messages use them."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

from tests.conftest import ROOT

APPS = ("medassist", "imaging", "diagnosis", "finetune")


def _registered() -> set[str]:
    from medassist.celery import app

    app.loader.import_default_modules()  # what a worker does when it starts
    return set(app.tasks)


def test_every_route_and_beat_entry_names_a_task_a_worker_registers() -> None:
    registered = _registered()
    for name in settings.CELERY_TASK_ROUTES:
        assert name in registered, f"route {name!r} names no registered task"
    for entry, schedule in settings.CELERY_BEAT_SCHEDULE.items():
        assert schedule["task"] in registered, f"beat entry {entry!r} names no registered task"


def test_every_task_declares_its_name_so_moving_its_module_keeps_queued_messages_working() -> None:
    declared = []
    for path in (p for app in APPS for p in Path(ROOT, app).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                call_name = getattr(getattr(deco, "func", deco), "id", "")
                if call_name != "shared_task":
                    continue
                names = [k.value for k in getattr(deco, "keywords", []) if k.arg == "name"]
                assert names, f"{path.relative_to(ROOT)}: task {node.name} has no name="
                declared.append(ast.literal_eval(names[0]))
    assert len(declared) == len(set(declared)), "two tasks share a name"
    assert set(declared) <= _registered()
