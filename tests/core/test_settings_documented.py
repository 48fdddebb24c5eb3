"""The README's settings table and medassist/settings.py say the same thing.

Every environment variable the settings read (through ``env``, ``env_int``, ``env_float``,
``env_bool`` and ``env_list``) has a row in the table with the default the code uses, and the
table names no variable the code does not read. A hospital configures MedAssist from that
table, so a row that drifts from the code is a setting that silently does nothing.

The settings are parsed (not imported), so the defaults compared are the code's, whatever the
environment of the test run holds.
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "medassist" / "settings.py"
README = ROOT / "README.md"
HELPERS = {"env", "env_int", "env_float", "env_bool", "env_list"}
TABLE_HEADING = "## Settings (environment variables)"

# Defaults the code computes (from the environment or a path) or whose empty value stands for
# a behaviour: the table states them in words, and must use exactly these words. A variable
# whose default is computed fails the test until it is listed here.
DESCRIBED = {
    "DATABASE_URL": "SQLite in `var/`",
    "REDIS_URL": "filesystem broker in `var/broker`",
    "SECRET_KEY": "generated once into `var/`",
    "DEBUG": "on in development, off in production",
    "MEDASSIST_VAR_DIR": "`var/` in the checkout",
    "MEDIA_ROOT": "`var/media`",
    "STATIC_ROOT": "`var/staticfiles`",
}
TRUE_WORDS = {"on", "true", "yes"}
FALSE_WORDS = {"off", "false", "no"}
# Binary units only: the code counts bytes in powers of 1024.
UNITS = {"": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
COMPUTED = object()


@dataclass
class Read:
    """One variable as the settings read it."""

    name: str
    helper: str
    default: Any  # the default's value, or COMPUTED
    line: int


def _literal(node: ast.expr | None) -> Any:
    """The value of a default built from constants (``64 * 1024 * 1024``), else COMPUTED."""
    if node is None:
        return ""  # env(name) without a default
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand)
        return COMPUTED if value is COMPUTED else -value
    if isinstance(node, ast.BinOp):
        left, right = _literal(node.left), _literal(node.right)
        if left is COMPUTED or right is COMPUTED:
            return COMPUTED
        operators = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
            ast.LShift: lambda a, b: a << b,
            ast.Pow: lambda a, b: a**b,
        }
        for kind, apply in operators.items():
            if isinstance(node.op, kind):
                return apply(left, right)
    return COMPUTED


def settings_reads() -> dict[str, Read]:
    """Every variable medassist/settings.py reads, by name (a name read twice merges)."""
    tree = ast.parse(SETTINGS.read_text(encoding="utf-8"))
    inside_helpers = {
        id(node)
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef) and fn.name in HELPERS
        for node in ast.walk(fn)
    }
    reads: dict[str, Read] = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in HELPERS
            and id(node) not in inside_helpers
        ):
            continue
        first = node.args[0] if node.args else None
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
            f"medassist/settings.py:{node.lineno} reads a variable whose name is not a "
            "plain string; name it literally so it can be documented."
        )
        default_node = node.args[1] if len(node.args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg == "default":
                default_node = keyword.value
        read = Read(first.value, node.func.id, _literal(default_node), node.lineno)
        earlier = reads.get(read.name)
        if earlier is not None:
            # A second read without a default only asks whether the variable is set (the
            # production checks); the read with the default is the one to document.
            if read.default == "":
                continue
            assert earlier.default in ("", read.default) or read.default is COMPUTED, (
                f"{read.name} is read with two defaults (lines {earlier.line}, {read.line})."
            )
        reads[read.name] = read
    return reads


@dataclass
class Row:
    names: list[str]
    defaults: list[str]
    line: int


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside backticks and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        char = text[i]
        if char == "`":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _without_remarks(text: str) -> str:
    """A default without its remarks in parentheses: ``31536000 (a year)`` is ``31536000``."""
    out, depth, quoted = [], 0, False
    for char in text:
        if char == "`":
            quoted = not quoted
        if not quoted and char == "(":
            depth += 1
        if depth == 0:
            out.append(char)
        if not quoted and char == ")":
            depth -= 1
    return " ".join("".join(out).split())


def readme_rows() -> list[Row]:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(TABLE_HEADING)
    rows: list[Row] = []
    in_table = False
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "variable" or set(cells[0]) <= {"-", " "}:
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        assert names and all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in names), (
            f"README.md:{number}: name each variable in full, in backticks: {cells[0]!r}"
        )
        rows.append(Row(names=names, defaults=_split_top_level(cells[1], ", "), line=number))
    assert rows, "README.md has no settings table under " + TABLE_HEADING
    return rows


def documented() -> dict[str, tuple[str, int]]:
    """Each documented variable (``*_FILE`` names aside) with its default as the table says."""
    reads = settings_reads()
    out: dict[str, tuple[str, int]] = {}
    for row in readme_rows():
        names = []
        for name in row.names:
            if name.endswith("_FILE") and name.removesuffix("_FILE") in row.names:
                continue  # the secret's file, documented beside the secret itself
            names.append(name)
        if len(names) == 1:
            defaults = [", ".join(row.defaults)]
        else:
            assert len(row.defaults) == len(names), (
                f"README.md:{row.line}: {len(names)} variables but {len(row.defaults)} "
                "defaults (one each, separated by commas)."
            )
            defaults = row.defaults
        for name, default in zip(names, defaults, strict=True):
            assert name not in out, f"README.md:{row.line}: {name} is documented twice."
            out[name] = (default, row.line)
    # Every secret may come from a file; the table says so once, and names only real ones.
    for row in readme_rows():
        for name in row.names:
            if name.endswith("_FILE"):
                assert name.removesuffix("_FILE") in reads, (
                    f"README.md:{row.line}: {name} is the file of a variable the code does "
                    "not read."
                )
    return out


def _number(text: str) -> float | None:
    text = text.replace("`", "").strip()
    power = re.fullmatch(r"2\^(\d+)", text)
    if power:
        return float(2 ** int(power.group(1)))
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*([KMG]iB)?", text)
    if match is None:
        return None
    return float(match.group(1)) * UNITS[match.group(2) or ""]


def same_default(read: Read, stated: str) -> bool:
    """Whether the table's default ``stated`` says the code's default."""
    text = _without_remarks(stated)
    if read.name in DESCRIBED:
        return text == DESCRIBED[read.name]
    if read.default is COMPUTED:
        return False
    if read.helper == "env_bool":
        words = TRUE_WORDS if read.default else FALSE_WORDS
        return text.lower() in words
    if read.helper in {"env_int", "env_float"}:
        number = _number(text)
        return number is not None and math.isclose(number, read.default, rel_tol=1e-9)
    if text == "empty":
        return read.default == ""
    literal = text[1:-1] if len(text) > 1 and text[0] == text[-1] == "`" else text
    if read.helper == "env_list":
        return [i.strip() for i in literal.split(",")] == [
            i.strip() for i in read.default.split(",")
        ]
    return literal == read.default


def test_every_variable_the_settings_read_is_documented_with_its_default() -> None:
    reads = settings_reads()
    table = documented()
    problems = []
    for name, read in sorted(reads.items()):
        if name not in table:
            problems.append(f"{name} (medassist/settings.py:{read.line}) is not in the table")
            continue
        stated, line = table[name]
        if read.default is COMPUTED and name not in DESCRIBED:
            problems.append(
                f"{name}: its default is computed; add the table's words for it to DESCRIBED"
            )
        elif not same_default(read, stated):
            code = "computed" if read.default is COMPUTED else repr(read.default)
            expected = DESCRIBED.get(name, code)
            problems.append(
                f"{name}: README.md:{line} says {stated!r}, the code's default is {expected}"
            )
    assert not problems, "README.md's settings table drifted:\n" + "\n".join(problems)


def test_the_table_names_no_variable_the_code_does_not_read() -> None:
    reads = settings_reads()
    unread = sorted(set(documented()) - set(reads))
    assert not unread, f"README.md's settings table names variables nothing reads: {unread}"


def test_the_table_says_any_setting_may_come_from_a_file() -> None:
    text = README.read_text(encoding="utf-8")
    assert "`<NAME>_FILE`" in text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]


def test_the_settings_read_the_environment_only_through_the_helpers() -> None:
    """A variable read around the helpers would escape this test (and ``*_FILE`` secrets)."""
    tree = ast.parse(SETTINGS.read_text(encoding="utf-8"))
    env_helper = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "env"
    )
    inside = {id(node) for node in ast.walk(env_helper)}
    stray = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in {"environ", "getenv"}
        and id(node) not in inside
    ]
    assert not stray, f"medassist/settings.py reads os.environ directly on lines {stray}"


@pytest.mark.parametrize(
    ("read", "stated", "same"),
    [
        (Read("X", "env_float", 0.02, 1), "0.020", True),
        (Read("X", "env_float", 0.02, 1), "0.2", False),
        (Read("X", "env_float", 5e-5, 1), "5e-5", True),
        (Read("X", "env_int", 64 * 1024 * 1024, 1), "64 MiB", True),
        (Read("X", "env_int", 64 * 1024 * 1024, 1), "64 MB", False),
        (Read("X", "env_int", 1 << 28, 1), "2^28", True),
        (Read("X", "env_int", 31536000, 1), "31536000 (a year)", True),
        (Read("X", "env_bool", True, 1), "on", True),
        (Read("X", "env_bool", False, 1), "on", False),
        (Read("X", "env_list", "a,b", 1), "`a, b`", True),
        (Read("X", "env_list", "", 1), "empty", True),
        (Read("X", "env", "max", 1), "`mean`", False),
    ],
)
def test_defaults_compare_by_value_not_by_spelling(read: Read, stated: str, same: bool) -> None:
    assert same_default(read, stated) is same


def test_beat_runs_the_retrain_cron_in_the_configured_time_zone() -> None:
    """``TIME_ZONE`` is the zone of the cron too; Celery alone would read it in UTC."""
    script = (
        "from celery.beat import ScheduleEntry\n"
        "from medassist.celery import app\n"
        "entry = ScheduleEntry(app=app, **{'name': 'r', "
        "**app.conf.beat_schedule['retrain-when-new-labels']})\n"
        "print(app.conf.timezone, entry.schedule.tz)\n"
    )
    for zone in ("UTC", "Europe/Berlin"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**_clean_env(), "TIME_ZONE": zone},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == [zone, zone]


def _clean_env() -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in {"TIME_ZONE", "MEDASSIST_ENV"}},
        "DJANGO_SETTINGS_MODULE": "medassist.settings",
    }
