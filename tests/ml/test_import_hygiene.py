"""medassist.ml must stay importable without Django (the layering contract)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ml_package_imports_without_django() -> None:
    code = (
        "import medassist.ml.preprocess, medassist.ml.image_model, medassist.ml.training, "
        "medassist.ml.synthetic; import sys; assert 'django' not in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_ml_modules_import_nothing_from_django_or_the_rest_of_the_project() -> None:
    # A static check that holds even while the parent package's __init__ imports Django.
    import ast

    offenders = []
    for path in sorted((ROOT / "medassist" / "ml").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                outside = name.startswith("medassist") and not name.startswith("medassist.ml")
                if top == "django" or outside or name.startswith(".."):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
