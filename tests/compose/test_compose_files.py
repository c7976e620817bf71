"""The compose files validate against the Compose Specification's JSON schema (docker compose cannot run here)."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
SCHEMA = json.loads((ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json").read_text())
# ${NAME}, ${NAME:-default}, ${NAME-default}; "$$" is a literal "$" (as docker compose interpolates)
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(node, env):
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, str):
        whole = _VAR.fullmatch(node)
        text = _VAR.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(2) or ""), node)
        # compose casts an interpolated scalar to the type the field needs (e.g. deploy.replicas)
        return int(text) if whole and whole.group(0) != "$$" and text.isdigit() else text
    return node


def load(path: Path, env: dict[str, str] | None = None) -> dict:
    doc = yaml.safe_load(path.read_text())
    return interpolate(doc, env or {})


def validate(doc: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_schema_catches_mistakes():
    doc = load(COMPOSE / "compose.yaml")
    broken = copy.deepcopy(doc)
    broken["services"]["mosquitto"]["restrat"] = "always"  # typo
    assert validate(broken)
    broken = copy.deepcopy(doc)
    broken["services"]["ingest"]["deploy"]["replicas"] = "two"
    assert validate(broken)


def test_compose_file_validates():
    doc = load(COMPOSE / "compose.yaml")
    assert validate(doc) == []
    services = doc["services"]
    assert {"mosquitto", "mongo", "aas-env", "aas-registry", "sm-registry", "aas-web-ui", "postgres", "oxigraph",
            "ingest", "estimator-0", "estimator-1", "gateway", "connectivity"} <= set(services)
    assert services["ingest"]["deploy"]["replicas"] == 2
    assert services["ingest"]["command"] == [
        "exec python -m packtwin ingest --shared-group packtwin-ingest --client-id ingest-$HOSTNAME"]
    assert load(COMPOSE / "compose.yaml", {"PACKTWIN_INGEST_WORKERS": "6"})["services"]["ingest"]["deploy"]["replicas"] == 6
    assert all("ditto" in s.get("profiles", []) for n, s in services.items()
               if n in {"policies", "things", "things-search", "connectivity", "gateway", "nginx", "ditto-ui"})


def test_every_image_is_pinned():
    doc = load(COMPOSE / "compose.yaml")
    for name, service in doc["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag not in ("latest", "") and "SNAPSHOT" not in tag, (name, image)
        assert re.search(r"\d", tag), (name, image)


def test_mounted_files_exist():
    doc = load(COMPOSE / "compose.yaml")
    for name, service in doc["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE / source).is_file(), (name, source)
            else:
                assert source in doc["volumes"], (name, source)
    assert (COMPOSE / "Dockerfile").is_file()


@pytest.mark.parametrize("partitions", [1, 4, 16])
def test_generated_estimators_validate(partitions, tmp_path):
    out = subprocess.run([sys.executable, str(COMPOSE / "estimators.py"), str(partitions)], capture_output=True,
                         text=True, timeout=30, check=True, env={**os.environ})
    path = tmp_path / "estimators.yaml"
    path.write_text(out.stdout)
    doc = load(path)
    assert validate(doc) == []
    commands = [doc["services"][f"estimator-{k}"]["command"][-1] for k in range(partitions)]
    assert commands == [f"{k}/{partitions}" for k in range(partitions)]
