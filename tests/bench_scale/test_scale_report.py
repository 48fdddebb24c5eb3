"""What the scale bench (bench/scale.py) prints of the slowest queries."""

from __future__ import annotations

import pytest

from bench import scale

pytestmark = pytest.mark.database_free


def test_a_long_plan_is_cut_but_still_shows_its_planning_and_execution_times(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ranks are about time: a plan longer than the lines printed (which query is the
    slowest changes from run to run) still ends with its times."""
    plan = [f"  ->  Node {i}" for i in range(120)]
    plan += ["Planning Time: 0.4 ms", "Execution Time: 81.2 ms"]
    monkeypatch.setattr(scale, "explain", lambda sql: plan)

    scale._print_slowest(10_000, [scale.SlowQuery(81.2, "worklist: page", "SELECT 1")])

    out = capsys.readouterr().out
    assert "slowest query #1 at 10,000 studies: 81.2 ms in worklist: page" in out
    assert "Node 69" in out and "Node 70" not in out
    assert "(50 more plan lines)" in out
    assert out.rstrip().endswith("Planning Time: 0.4 ms\nExecution Time: 81.2 ms")
