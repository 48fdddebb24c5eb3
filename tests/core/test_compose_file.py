"""The compose files keep the promises the README makes to hospital IT.

Read as data (the running stack was proven by hand: bench/README.md, "Production shape").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]


def test_every_long_running_service_restarts_and_has_a_health_check(services):
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no", "migrate is one-shot"
            continue
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_app_services_wait_for_migrations(services):
    app = [n for n, s in services.items() if "build" in s and n != "migrate"]
    assert {"web", "inference-worker", "training-worker", "default-worker", "beat"} <= set(app)
    for name in app:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_no_secret_is_written_in_the_compose_file(services):
    for name, service in services.items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if "PASSWORD" in key or "SECRET" in key:
                assert key.endswith("_FILE"), f"{name}: {key} inline"
                assert str(value).startswith("/run/secrets/"), f"{name}: {key}"
        url = str(environment.get("DATABASE_URL", ""))
        assert ":" not in url.partition("://")[2].partition("@")[0], f"{name}: password in URL"


def test_each_queue_has_its_own_worker(services):
    queues = {}
    for name, service in services.items():
        command = service.get("command") or []
        if command[:4] == ["celery", "-A", "medassist", "worker"]:
            queues[command[command.index("-Q") + 1]] = name
    # Training never holds up the default queue (sweeps, study checks) nor inference.
    assert set(queues) == {"inference", "training", "default"}


def test_gpu_override_builds_cuda_torch_for_every_app_service(services):
    gpu = yaml.safe_load((DOCKER / "compose.gpu.yaml").read_text())["services"]
    app = {n for n, s in services.items() if "build" in s}
    assert set(gpu) == app, "every service of the one image gets the same CUDA build"
    for name, service in gpu.items():
        assert "cu128" in service["build"]["args"]["TORCH_INDEX"], name
    for name in ("inference-worker", "training-worker"):
        devices = gpu[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia"
    # The CPU file reserves no GPU, so it starts on any machine.
    assert not any("deploy" in s for s in services.values())


def test_secret_files_stay_out_of_git_and_out_of_the_image():
    root = DOCKER.parent
    ignored = (root / ".gitignore").read_text().splitlines()
    context_ignored = (root / ".dockerignore").read_text().splitlines()
    for secret in ("docker/secret_key", "docker/db_password"):
        assert secret in ignored
        assert secret in context_ignored
