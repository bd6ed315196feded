"""deploy/compose.yaml against the Compose Specification (compose-go, the loader
behind `docker compose`), plus the cross-references the spec does not check, and the
root Dockerfile the stack builds."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, ROOT, Tools, load_docs, run

COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"


def _load_spec(tools: Tools, path: Path) -> tuple[int, str, str]:
    result = run(tools.executable("COMPOSE_SPEC"), "-format", "json", str(path), cwd=path.parent)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_file_follows_the_compose_spec(tools: Tools) -> None:
    code, out, err = _load_spec(tools, COMPOSE)
    assert code == 0, err
    services = json.loads(out)["services"]
    assert {"kafka", "topics", "moto", "worker", "prometheus", "grafana"} <= set(services)


def test_compose_validation_rejects_a_broken_file(tools: Tools, tmp_path: Path) -> None:
    broken = COMPOSE.read_text(encoding="utf-8").replace(
        "condition: service_healthy", "condition: service_hot", 1)
    path = tmp_path / "compose.yaml"
    path.write_text(broken, encoding="utf-8")
    code, _, err = _load_spec(tools, path)
    assert code != 0
    assert "condition" in err


def test_dependencies_name_existing_services(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name


def test_bind_mounts_exist(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source}"


def test_worker_stack_wiring(compose: dict) -> None:
    services = compose["services"]
    worker, topics = services["worker"], services["topics"]
    assert (COMPOSE.parent / worker["build"]["context"] / worker["build"]["dockerfile"]).is_file()
    assert topics["entrypoint"] == ["ordercast", "topics", "apply"]
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    env = worker["environment"]
    assert env["ORDERCAST_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["ORDERCAST_AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert {"ORDERCAST_AWS_REGION", "ORDERCAST_LINK_SECRET", "ORDERCAST_SES_SENDER",
            "ORDERCAST_WEB_PORT"} <= set(env)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["moto"]["image"].startswith("motoserver/moto:")
    assert "127.0.0.1:19092:19092" in services["kafka"]["ports"]
    assert "127.0.0.1:15000:5000" in services["moto"]["ports"]


def test_images_are_pinned(compose: dict) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image!r}"


def test_dockerfile_installs_the_package_and_runs_the_worker() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\s*$", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    assert re.search(r'^ENTRYPOINT \["ordercast", "worker"\]\s*$', text, re.M)
    # Non-root, and the same uid the Kubernetes Deployment runs as.
    user = re.search(r"^USER (\d+)", text, re.M)
    assert user and user.group(1) != "0"
    deployments = load_docs(DEPLOY / "k8s" / "deployment.yaml")
    assert {d["metadata"]["name"] for d in deployments} == {"ordercast-notify", "ordercast-risk"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert int(user.group(1)) == pod["securityContext"]["runAsUser"]


def test_dockerfile_copies_every_packaged_directory() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\S+) \./\1\s*$", DOCKERFILE.read_text(encoding="utf-8"), re.M))
    for pattern in packages:
        assert pattern.rstrip("*") in copied, pattern
    for source in re.findall(r"^COPY (deploy/\S+) ", DOCKERFILE.read_text(encoding="utf-8"), re.M):
        assert (ROOT / source).is_file(), source
