"""The export, sparql and shacl commands, and the catalogue page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from basyx.aas import model
from basyx.aas.adapter.json import write_aas_json_file
from rdflib import Graph

from packtwin.cli import main
from packtwin.ontology import catalog
from tests.ontology.fleet_fixture import build_test_fleet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    with path.open("w", encoding="utf-8") as fh:
        write_aas_json_file(fh, model.DictIdentifiableStore(build_test_fleet(2, 1, 2, seed=4,
                                                                             with_concept_descriptions=False)))
    return path


@pytest.mark.parametrize(("fmt", "rdflib_format"), [("turtle", "turtle"), ("jsonld", "json-ld"), ("nt", "nt")])
def test_export_writes_parsable_rdf(fleet_file, tmp_path, fmt, rdflib_format):
    out = tmp_path / f"fleet.{fmt}"
    assert main(["export", "--data", str(fleet_file), "--format", fmt, "--out", str(out)]) == 0
    g = Graph().parse(out, format=rdflib_format)
    assert len(g) > 10_000
    public = tmp_path / f"public.{fmt}"
    assert main(["export", "--data", str(fleet_file), "--format", fmt, "--out", str(public), "--role", "anonymous"]) == 0
    assert 0 < len(Graph().parse(public, format=rdflib_format)) < len(g)


def test_sparql_runs_a_catalogue_query_and_a_text_query(fleet_file, capsys):
    assert main(["sparql", "--data", str(fleet_file), "--catalog", "dismantling-documents", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]["bindings"]
    assert [r["document"]["value"] for r in rows] == ["DIS-PT-P000001", "DIS-PT-P000002"]
    assert main(["sparql", "--data", str(fleet_file), "SELECT (COUNT(*) AS ?n) WHERE { ?c a pt:Battery }"]) == 0
    out = capsys.readouterr().out
    assert "\n8" in out and "(1 rows)" in out  # 2 packs + 2 modules + 4 cells


def test_sparql_reports_bad_input_clearly(fleet_file, tmp_path, capsys):
    assert main(["sparql", "--data", str(fleet_file), "SELEC nonsense"]) == 2
    assert "syntax error" in capsys.readouterr().err
    assert main(["sparql", "--data", str(fleet_file), "--catalog", "no-such-query"]) == 2
    assert "no catalogue query" in capsys.readouterr().err
    assert main(["sparql", "--data", str(tmp_path / "missing.json"), "--catalog", "end-of-life-packs"]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["export", "--data", str(broken), "--format", "nt", "--out", str(tmp_path / "x.nt")]) == 2
    assert "not a valid AAS" in capsys.readouterr().err


def test_shacl_command_reports_violations(tmp_path, capsys):
    g = Graph()
    g.parse(data="""@prefix pt: <https://w3id.org/packtwin/ns#> .
        <https://example.org/packtwin/asset/cell/X> a pt:Battery ; pt:stateOfCharge 140.0 .""", format="turtle")
    path = tmp_path / "bad.ttl"
    g.serialize(path, format="turtle")
    assert main(["shacl", str(path)]) == 1
    assert "state of charge must be" in capsys.readouterr().out


def test_queries_page_is_generated_from_the_catalogue():
    assert len(catalog.QUERIES) >= 12
    assert (ROOT / "docs" / "queries.md").read_text(encoding="utf-8") == catalog.render_markdown()
