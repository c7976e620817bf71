"""IDTA 02035-2 Digital Battery Passport, part 2: Handover Documentation (VDI 2770 documents)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.part import Part

PART = Part(
    name="handover",
    resource="idta-02035-2-handover-documentation.json",
    levels=frozenset({Level.PACK}),
)


@dataclass(frozen=True)
class Document:
    identifier: str
    title: str
    class_id: str  # VDI 2770 class
    class_name: str
    file_path: str  # path inside the AASX package
    content_type: str = "application/pdf"


def documents(spec: PackSpec) -> list[Document]:
    """The battery-model documents every pack of the spec refers to."""
    pn = spec.battery.part_number
    c = spec.circularity
    return [
        Document(f"DOC-{pn}", "EU declaration of conformity", "02-04", "Certificates, declarations",
                 f"/aasx/files/DOC-{pn}.pdf"),
        Document(f"TEST-{pn}", "Results of test reports proving compliance", "02-04", "Certificates, declarations",
                 f"/aasx/files/TEST-{pn}.pdf"),
        Document(c.dismantling_document, "Dismantling and removal information", "03-02", "Operation",
                 f"/aasx/files/{c.dismantling_document}.pdf"),
        Document(c.safety_document, "Safety instructions", "03-01", "Safety", f"/aasx/files/{c.safety_document}.pdf"),
        Document(spec.carbon_footprint.study_document, "Carbon footprint study", "02-04", "Certificates, declarations",
                 f"/aasx/files/{spec.carbon_footprint.study_document}.pdf"),
    ]


def values(battery: Battery, spec: PackSpec) -> dict[str, Any]:
    return {"Documents": [_document(d) for d in documents(spec)]}


def _document(d: Document) -> dict[str, Any]:
    return {
        "DocumentClassifications": [{
            "ClassName": {"en": d.class_name}, "ClassId": d.class_id, "ClassificationSystem": "VDI 2770 Blatt 1:2020",
        }],
        "DocumentIds": [{"DocumentDomainId": "packtwin", "DocumentIdentifier": d.identifier,
                         "DocumentIsPrimary": True}],
        "DocumentVersions": [{
            "Language": ["en"], "Version": "1", "Title": {"en": d.title},
            "DigitalFiles": [{"contentType": d.content_type, "value": d.file_path}],
        }],
    }
