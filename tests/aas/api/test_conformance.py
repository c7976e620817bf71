"""The official IDTA test engine (aas-test-engines) against a live ``packtwin serve``: zero failures.

The engine sends no credentials, so it sees the public passport (role anonymous) - the view a recycler's tool gets
before it logs in. The single-service suites address the service partly with and partly without its ``/aas`` or
``/submodel`` prefix, so they run with ``--remove-path-prefix`` against a server that also serves that service at
the API root (``serve --root-service``). Its disagreements with AAS 3.1 JSON are in docs/api.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.aas.api.conftest import Server

SSP = "https://admin-shell.io/aas/API/3/0/"
SUITES = [
    ("AssetAdministrationShellRepositoryServiceSpecification/SSP-002", "served", None),
    ("SubmodelRepositoryServiceSpecification/SSP-002", "served", None),
    ("AssetAdministrationShellServiceSpecification/SSP-002", "served", "/aas"),
    ("SubmodelServiceSpecification/SSP-002", "served_submodel_root", "/submodel"),
]


def _engine() -> list[str]:
    exe = shutil.which("aas_test_engines")
    return [exe] if exe else [sys.executable, "-m", "aas_test_engines"]


def _failures(node: dict, path: str = "") -> list[str]:
    """Every leaf result of level ERROR or CRITICAL in the engine's JSON report, with where it was."""
    here = f"{path} / {node.get('m', '')}".strip()
    out = []
    if node.get("l", 0) >= 2 and not node.get("s"):  # Level.ERROR = 2, CRITICAL = 3
        out.append(here)
    for sub in node.get("s", []):
        out.extend(_failures(sub, here))
    return out


def _counts(node: dict, found: dict[str, str]) -> dict[str, str]:
    message = str(node.get("m", ""))
    if message.startswith(("Negative tests passed", "Positive tests passed")):
        found[message.split(":")[0]] = message.split(":")[1].strip()
    for sub in node.get("s", []):
        _counts(sub, found)
    return found


@pytest.mark.parametrize(("suite", "fixture", "remove_prefix"), SUITES, ids=[s[0].split("/")[0] for s in SUITES])
def test_engine_suite_passes(request: pytest.FixtureRequest, suite: str, fixture: str,
                             remove_prefix: str | None) -> None:
    server: Server = request.getfixturevalue(fixture)
    cmd = [*_engine(), "check_server", server.url, SSP + suite, "--output", "json"]
    if remove_prefix:
        cmd += ["--remove-path-prefix", remove_prefix]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.stdout, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    failures = _failures(report)
    assert proc.returncode == 0 and not failures, "\n".join(failures[:30]) or proc.stderr[-3000:]
    counts = _counts(report, {})
    # Both kinds of checks ran, and all of each passed (e.g. "Positive tests passed": "78 / 78").
    for kind in ("Negative tests passed", "Positive tests passed"):
        passed, total = (int(x) for x in counts[kind].split("/"))
        assert total > 0 and passed == total, counts
