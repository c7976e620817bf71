"""Known defects of the published IDTA templates, each fixed here and nowhere else.

Every fix names the defect. They are applied to the template JSON when it is loaded
(:class:`packtwin.submodels.template.SubmodelTemplate` ``fix=``), so instances never carry the defect.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SAMM_VERSION = re.compile(r"^(urn:samm:[^:]+):\d+\.\d+\.\d+#")


def samm_key(semantic_id: str | None) -> str | None:
    """Defect: SAMM URN versions drift between 1.0.0 and 1.0.1 inside one template (an element's semanticId says
    1.0.1 where its ConceptDescription's id says 1.0.0). Comparing with the version removed matches them up."""
    if semantic_id is None:
        return None
    return _SAMM_VERSION.sub(r"\1:#", semantic_id)


def fix_irdi_typo(environment: dict[str, Any]) -> None:
    """Defect: a few ids are spelled ``urn:iridi:`` instead of ``urn:irdi:`` (02035-5
    RemainingRoundTripEnergyEfficiencyValue's supplemental semanticId)."""
    text = json.dumps(environment)
    if "urn:iridi:" in text:
        environment.clear()
        environment.update(json.loads(text.replace("urn:iridi:", "urn:irdi:")))


def _set_unit(environment: dict[str, Any], cd_suffix: str, unit: str, unit_id: str) -> None:
    for cd in environment.get("conceptDescriptions", []):
        if cd["id"].endswith(cd_suffix):
            for eds in cd.get("embeddedDataSpecifications", []):
                content = eds.get("dataSpecificationContent", {})
                content["unit"] = unit
                content["unitId"] = {"type": "ExternalReference",
                                     "keys": [{"type": "GlobalReference", "value": unit_id}]}


def fix_product_condition(environment: dict[str, Any]) -> None:
    fix_irdi_typo(environment)
    # Defect: Part 5 RemainingCapacity carries unit kWh; Regulation (EU) 2023/1542 Annex VII Part A(1) states
    # remaining capacity in Ah.
    _set_unit(environment, "#remainingCapacityValue", "ampereHour", "urn:samm:org.eclipse.esmf.samm:unit:2.1.0#ampereHour")
    # Defect: RemainingPowerCapabilityDynamicAt/PowerCapabilityAt is tagged % where W is meant (Annex VII Part A(3):
    # remaining power capability in W).
    _set_unit(environment, "#powerCapabilityAt", "watt", "urn:samm:org.eclipse.esmf.samm:unit:2.1.0#watt")


CYCLE_LIFE_REFERENCE_TEST_ID = "urn:samm:io.admin-shell.idta.batterypass.technical_data:1.0.0#cycleLifeReferenceTest"


def fix_technical_data(environment: dict[str, Any]) -> None:
    fix_irdi_typo(environment)
    # Defect: Part 4 lacks the mandatory public element CycleLifeReferenceTest (Annex XIII 1(j) via Annex IV Part A;
    # Battery Pass longlist no. 79). The template ships only its ConceptDescription; the element is added to Lifetime
    # with that ConceptDescription as semanticId.
    submodel = environment["submodels"][0]
    for area in submodel["submodelElements"]:
        if area["idShort"] != "TechnicalPropertyAreas":
            continue
        for coll in area["value"]:
            if coll["idShort"] == "Lifetime" and not any(e["idShort"] == "CycleLifeReferenceTest"
                                                          for e in coll["value"]):
                coll["value"].append({
                    "idShort": "CycleLifeReferenceTest",
                    "displayName": [{"language": "en", "text": "cycle-life reference test"}],
                    "semanticId": {"type": "ExternalReference",
                                   "keys": [{"type": "GlobalReference", "value": CYCLE_LIFE_REFERENCE_TEST_ID}]},
                    "qualifiers": [{
                        "semanticId": {"type": "ExternalReference", "keys": [{
                            "type": "GlobalReference", "value": "https://admin-shell.io/SubmodelTemplates/Cardinality/1/0"}]},
                        "kind": "TemplateQualifier", "type": "SMT/Cardinality", "valueType": "xs:string", "value": "One"}],
                    "valueType": "xs:string",
                    "modelType": "Property",
                })
