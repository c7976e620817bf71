"""Sync between repositories: idempotent, resumable, clear about conflicts (SQLite and in-memory repositories)."""

from __future__ import annotations

import copy

import pytest
from basyx.aas import model

from packtwin.aas.fleet import build_fleet
from packtwin.aas.repository import Repository
from packtwin.connectors.remote.client import CONCEPT_DESCRIPTIONS, SHELLS, SUBMODELS, encode_id
from packtwin.connectors.remote.sync import (
    ConflictError,
    Journal,
    LocalEndpoint,
    digest,
    normalise,
    shell_descriptor,
    sync,
)


@pytest.fixture(scope="module")
def fleet_objects():
    return list(build_fleet(1, modules=1, cells=2).objects)


@pytest.fixture
def repos(tmp_path, fleet_objects):
    """Two in-memory repositories (the sync logic does not depend on the store; one test uses SQLite files)."""
    a = Repository.open(None)
    a.add_many(copy.deepcopy(fleet_objects))
    return a, Repository.open(None)


# Submodels and shells: the logic is the same for concept descriptions, which the fleet has 210 of (slow to
# serialise); test_sync_is_idempotent covers all three kinds.
KINDS = (SUBMODELS, SHELLS)
ALL = (CONCEPT_DESCRIPTIONS, SUBMODELS, SHELLS)


def _environment(repo: Repository, kinds=KINDS) -> dict[str, str]:
    ep = LocalEndpoint(repo)
    return {(k, d["id"]): digest(d) for k in kinds for d in ep.items(k)}


def _count(repo: Repository) -> int:
    return len(repo.submodels()) + len(repo.shells())


def _first_property(sm: model.Submodel) -> model.Property:
    return next(e for e in sm.submodel_element if isinstance(e, model.Property))


def test_sync_is_idempotent(tmp_path, fleet_objects):
    a = Repository.open(tmp_path / "a.sqlite")
    a.add_many(copy.deepcopy(fleet_objects))
    b = Repository.open(tmp_path / "b.sqlite")
    journal = Journal(tmp_path / "j.jsonl")
    first = sync(LocalEndpoint(a), LocalEndpoint(b), journal)
    assert len(first.created) == len(a) and not first.conflicts
    assert _environment(a, ALL) == _environment(b, ALL)
    second = sync(LocalEndpoint(a), LocalEndpoint(b), journal)
    assert second.transferred == 0 and second.unchanged == len(a)


def test_updates_flow_and_conflicts_are_reported(repos, tmp_path):
    a, b = repos
    journal = Journal(tmp_path / "j.jsonl")
    sync(LocalEndpoint(a), LocalEndpoint(b), journal, kinds=KINDS)
    sm_a = a.submodels()[0]
    prop = _first_property(sm_a)
    prop.value = "changed in A"
    a.commit(sm_a)
    report = sync(LocalEndpoint(a), LocalEndpoint(b), journal, kinds=KINDS)
    assert report.updated == [(SUBMODELS, sm_a.id)] and not report.conflicts
    assert _first_property(b.get_submodel(sm_a.id)).value == "changed in A"

    # both sides change the same submodel: a conflict, left alone, reported with its reason
    prop.value = "A again"
    a.commit(sm_a)
    sm_b = b.get_submodel(sm_a.id)
    _first_property(sm_b).value = "edited in B"
    b.commit(sm_b)
    report = sync(LocalEndpoint(a), LocalEndpoint(b), Journal(tmp_path / "j.jsonl"), kinds=KINDS)
    assert [(c.kind, c.id) for c in report.conflicts] == [(SUBMODELS, sm_a.id)]
    assert "changed in the target since the last sync" in report.conflicts[0].reason
    assert _first_property(b.get_submodel(sm_a.id)).value == "edited in B"
    with pytest.raises(ConflictError):
        sync(LocalEndpoint(a), LocalEndpoint(b), Journal(tmp_path / "j.jsonl"), on_conflict="fail", kinds=KINDS)
    report = sync(LocalEndpoint(a), LocalEndpoint(b), Journal(tmp_path / "j.jsonl"), on_conflict="overwrite",
                  kinds=KINDS)
    assert report.overwritten == [(SUBMODELS, sm_a.id)]
    assert _environment(a) == _environment(b)


def test_existing_different_content_without_history_is_a_conflict(repos, tmp_path):
    a, b = repos
    sm = a.submodels()[0]
    other = copy.deepcopy(sm)
    _first_property(other).value = "B's own"
    b.add(other)
    b.add(model.Submodel("urn:only-in-b", id_short="OnlyInB"))
    report = sync(LocalEndpoint(a), LocalEndpoint(b), Journal(tmp_path / "j.jsonl"), kinds=KINDS)
    assert [(c.kind, c.id) for c in report.conflicts] == [(SUBMODELS, sm.id)]
    assert "never synced" in report.conflicts[0].reason
    assert (SUBMODELS, "urn:only-in-b") in report.only_in_target
    assert "urn:only-in-b" in b  # never deleted


class _Flaky(LocalEndpoint):
    """A target that breaks down after ``n`` writes, as a network or a server would."""

    def __init__(self, repo, n):
        super().__init__(repo)
        self.left = n

    def create(self, kind, doc):
        if self.left == 0:
            raise ConnectionError("target went away")
        self.left -= 1
        super().create(kind, doc)


def test_interrupted_sync_resumes(repos, tmp_path):
    a, b = repos
    with pytest.raises(ConnectionError):
        sync(LocalEndpoint(a), _Flaky(b, 10), Journal(tmp_path / "j.jsonl"), kinds=KINDS)
    assert len(b) == 10
    report = sync(LocalEndpoint(a), LocalEndpoint(b), Journal(tmp_path / "j.jsonl"), kinds=KINDS)
    assert len(report.created) == _count(a) - 10 and report.unchanged == 10 and not report.conflicts
    assert _environment(a) == _environment(b)


def test_normalise_ignores_set_order_and_empty_values():
    doc = {"id": "x", "specificAssetIds": [{"name": "b", "value": "2"}, {"name": "a", "value": "1"}],
           "description": [], "extensions": None,
           "submodelElements": [{"idShort": "L", "value": [{"v": 1}, {"v": 2}]}]}
    shuffled = {"submodelElements": [{"idShort": "L", "value": [{"v": 1}, {"v": 2}]}], "id": "x",
                "specificAssetIds": list(reversed(doc["specificAssetIds"]))}
    assert digest(doc) == digest(shuffled)
    reordered_list = {**shuffled, "submodelElements": [{"idShort": "L", "value": [{"v": 2}, {"v": 1}]}]}
    assert digest(doc) != digest(reordered_list)  # element lists keep their order
    assert "description" not in normalise(doc)


def test_shell_descriptor_points_at_the_target():
    shell = {"id": "urn:aas:1", "idShort": "P1", "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:a"},
             "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": "urn:sm:1"}]}]}
    desc = shell_descriptor(shell, {"urn:sm:1": {"id": "urn:sm:1", "idShort": "Nameplate"}}, "http://b/api/v3.0/")
    assert desc["endpoints"][0]["protocolInformation"]["href"] == f"http://b/api/v3.0/shells/{encode_id('urn:aas:1')}"
    assert desc["globalAssetId"] == "urn:a" and desc["assetKind"] == "Instance"
    sub = desc["submodelDescriptors"][0]
    assert sub["idShort"] == "Nameplate" and sub["endpoints"][0]["interface"] == "SUBMODEL-3.0"
