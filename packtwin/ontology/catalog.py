"""The lifecycle query catalogue: questions of manufacturers, fleet operators, second-life operators and recyclers.

Each query is plain SPARQL 1.1 over the packtwin lifecycle vocabulary (``pt:``) and BattINFO classes, runnable by
name (``packtwin sparql --catalog NAME``) against the endpoint or a file. ``docs/queries.md`` is rendered from this
module (:func:`render_markdown`; a test keeps it in step).
"""

from __future__ import annotations

from dataclasses import dataclass

PREAMBLE = """PREFIX pt: <https://w3id.org/packtwin/ns#>
PREFIX battery: <https://w3id.org/emmo/domain/battery#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
PACK = "battery:battery_be3b35a7_75a3_4be0_9265_beb178ea7b00"
MODULE = "battery:battery_9acfeea6_ca7f_4b97_9844_c38edf6387ec"
CELL = "battery:battery_68ed592a_7924_45d0_a108_94d6275d57f0"


@dataclass(frozen=True)
class CatalogQuery:
    name: str
    who: str
    question: str
    body: str
    # The role needed to see every value the query reads (restricted elements, Battery Regulation Art. 77).
    needs: str = "legitimate_interest"

    @property
    def sparql(self) -> str:
        text = self.body.replace("PACK", PACK).replace("MODULE", MODULE).replace("CELL", CELL)
        return PREAMBLE + text.strip() + "\n"


QUERIES: tuple[CatalogQuery, ...] = (
    CatalogQuery("cells-below-80-soh", "fleet operator",
                 "Which cells of each pack are below 80 % state of health?", """
SELECT ?pack ?cell ?soh WHERE {
  ?c pt:stateOfHealth ?soh .
  FILTER(?soh < 80)
  # Only a cell is two pt:partOf steps below a pack (cell -> module -> pack).
  ?c pt:partOf ?m ; pt:serialNumber ?cell . ?m pt:partOf ?p .
  ?p pt:serialNumber ?pack .
} ORDER BY ?pack ?cell"""),
    CatalogQuery("second-life-candidates", "second-life operator",
                 "Which packs are fit for second life: 70–80 % state of health and no safety event on the pack or any"
                 " of its modules and cells?", """
SELECT ?pack ?soh WHERE {
  ?p a PACK ; pt:serialNumber ?pack ; pt:stateOfHealth ?soh .
  FILTER(?soh >= 70 && ?soh <= 80)
  FILTER NOT EXISTS { ?p pt:hasSafetyEvent ?e }
  # MINUS, not FILTER NOT EXISTS: the few parts with an event are found once, not the parts of every pack.
  MINUS { ?part pt:hasSafetyEvent ?e2 ; pt:partOf+ ?p }
} ORDER BY ?pack"""),
    CatalogQuery("critical-raw-materials-per-pack", "recycler",
                 "How much of each critical raw material does each pack hold, and what are its recycled shares?", """
SELECT ?pack ?material ?massKg ?preConsumerShare ?postConsumerShare WHERE {
  ?p a PACK ; pt:serialNumber ?pack ; pt:hasMaterial ?m .
  ?m pt:criticalRawMaterial true ; pt:material ?material ; pt:mass ?massKg .
  OPTIONAL { ?p pt:hasRecycledContent ?rc . ?rc pt:material ?material .
             OPTIONAL { ?rc pt:preConsumerShare ?preConsumerShare }
             OPTIONAL { ?rc pt:postConsumerShare ?postConsumerShare } }
} ORDER BY ?pack ?material"""),
    CatalogQuery("critical-raw-materials-per-lot", "recycler",
                 "How much of each critical raw material (e.g. cobalt) is in each production lot of packs?", """
SELECT ?lot ?material (SUM(?mass) AS ?massKg) (COUNT(DISTINCT ?p) AS ?packs) WHERE {
  ?p a PACK ; pt:batchId ?lot ; pt:hasMaterial ?m .
  ?m pt:criticalRawMaterial true ; pt:material ?material ; pt:mass ?mass .
} GROUP BY ?lot ?material ORDER BY ?lot ?material"""),
    CatalogQuery("carbon-footprint-by-manufacturer-plant", "manufacturer",
                 "What is the mean carbon footprint per kWh of packs, by manufacturer and plant?", """
SELECT ?manufacturer ?plant (AVG(?cf) AS ?kgCO2ePerKWh) (COUNT(?p) AS ?packs) WHERE {
  ?p pt:carbonFootprintPerKWh ?cf ; pt:manufacturer ?manufacturer ; pt:manufacturingPlant ?plant .
  # The class as a filter: checked on the ~100 footprints' subjects without a third walk of each pack's triples.
  FILTER EXISTS { ?p a PACK }
} GROUP BY ?manufacturer ?plant ORDER BY ?manufacturer ?plant""", needs="anonymous"),
    CatalogQuery("rul-within-six-months", "fleet operator",
                 "Which packs reach the end of their useful life within six months (remaining useful life ≤ 183"
                 " days)?", """
SELECT ?pack ?rulDays WHERE {
  ?p a PACK ; pt:remainingUsefulLife ?rulDays .
  FILTER(?rulDays <= 183)
  # After the filter: the serial number is looked up for the packs that pass only.
  ?p pt:serialNumber ?pack .
} ORDER BY ?rulDays ?pack"""),
    CatalogQuery("modules-with-internal-short", "fleet operator",
                 "Which modules hold a cell with an internal-short-circuit alert?", """
SELECT ?module ?cell WHERE {
  ?c a CELL ; pt:serialNumber ?cell ; pt:partOf ?m ; pt:hasSafetyEvent ?e .
  ?e pt:eventKind pt:InternalShortCircuit .
  ?m a MODULE ; pt:serialNumber ?module .
} ORDER BY ?module ?cell"""),
    CatalogQuery("batteries-by-chemistry-and-year", "manufacturer",
                 "How many packs, modules and cells of each chemistry were made in each year?", """
SELECT ?chemistry ?level ?year (COUNT(?b) AS ?batteries) WHERE {
  ?b pt:chemistry ?chemistry ; pt:level ?level ; pt:manufacturingDate ?made .
  BIND(YEAR(?made) AS ?year)
} GROUP BY ?chemistry ?level ?year ORDER BY ?chemistry ?level ?year""", needs="anonymous"),
    CatalogQuery("packs-past-warranted-fade", "manufacturer",
                 "Which packs have faded below their warranted capacity (state of health under the capacity threshold"
                 " for exhaustion)?", """
SELECT ?pack ?soh ?threshold WHERE {
  ?p a PACK ; pt:stateOfHealth ?soh ; pt:capacityThresholdForExhaustion ?threshold .
  FILTER(?soh < ?threshold)
  ?p pt:serialNumber ?pack .
} ORDER BY ?pack"""),
    CatalogQuery("dismantling-documents", "recycler",
                 "Which dismantling and removal documents exist for each pack, with title and file?", """
SELECT ?pack ?document ?title ?file WHERE {
  ?p a PACK ; pt:serialNumber ?pack ; pt:dismantlingDocument ?document .
  OPTIONAL { ?p pt:hasDocument ?d . ?d pt:documentIdentifier ?document .
             OPTIONAL { ?d pt:title ?title } OPTIONAL { ?d pt:file ?file } }
} ORDER BY ?pack ?document"""),
    CatalogQuery("state-of-charge-per-pack", "fleet operator",
                 "What are the mean, lowest and highest cell state of charge in each pack?", """
SELECT ?pack ?meanSoc ?minSoc ?maxSoc ?cells WHERE {
  { SELECT ?p (AVG(?soc) AS ?meanSoc) (MIN(?soc) AS ?minSoc) (MAX(?soc) AS ?maxSoc) (COUNT(?c) AS ?cells) WHERE {
      # pt:inPack: the pack of a cell, two pt:partOf steps above it (cell -> module -> pack). Two subqueries, so
      # the store joins two scans by hash instead of looking each cell up in turn (4x faster on 10k cells).
      { SELECT ?c ?p WHERE { ?c pt:inPack ?p } }
      { SELECT ?c ?soc WHERE { ?c pt:stateOfCharge ?soc } }
    } GROUP BY ?p }
  ?p a PACK ; pt:serialNumber ?pack .
} ORDER BY ?pack"""),
    CatalogQuery("resistance-increase-over-50", "second-life operator",
                 "Which cells have an internal resistance more than 50 % above their initial value?", """
SELECT ?cell ?increase WHERE {
  ?c pt:internalResistanceIncrease ?increase ; pt:serialNumber ?cell .
  FILTER(?increase > 50)
  # A filter, not a pattern: the store then starts from the few large increases instead of from all cells.
  FILTER EXISTS { ?c a CELL }
} ORDER BY DESC(?increase) ?cell"""),
    CatalogQuery("safety-events-by-kind", "manufacturer",
                 "How many safety events of each kind happened, per battery level?", """
SELECT ?kind ?level (COUNT(?e) AS ?events) WHERE {
  ?b pt:hasSafetyEvent ?e ; pt:level ?level .
  ?e pt:eventKind ?kind .
} GROUP BY ?kind ?level ORDER BY ?kind ?level"""),
    CatalogQuery("end-of-life-packs", "recycler",
                 "Which packs are declared waste, with their chemistry and mass?", """
SELECT ?pack ?chemistry ?massKg WHERE {
  ?p a PACK ; pt:serialNumber ?pack ; pt:status ?status .
  FILTER(STR(?status) = "Waste")
  OPTIONAL { ?p pt:chemistry ?chemistry }
  OPTIONAL { ?p pt:batteryMass ?massKg }
} ORDER BY ?pack"""),
)

BY_NAME = {q.name: q for q in QUERIES}


def get(name: str) -> CatalogQuery:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no catalogue query {name!r}; known: {', '.join(BY_NAME)}") from None


def render_markdown() -> str:
    lines = [
        "# Lifecycle query catalogue",
        "",
        "SPARQL 1.1 queries over the packtwin lifecycle vocabulary (`pt:`, see [rdf.md](rdf.md)) and the BattINFO",
        "classes. Run one by name with `python -m packtwin sparql --data FLEET.json --catalog NAME`, or send its text",
        "to the `/sparql` endpoint. *Role* is the lowest role that sees every value the query reads: the endpoint",
        "answers lower roles from the public graph only, so their answers can be empty.",
        "This page is generated from `packtwin/ontology/catalog.py` (`python -m packtwin.ontology.catalog`).",
        "",
        "| name | asked by | question | role |",
        "|---|---|---|---|",
    ]
    lines += [f"| [`{q.name}`](#{q.name}) | {q.who} | {q.question} | {q.needs} |" for q in QUERIES]
    for q in QUERIES:
        lines += ["", f"## {q.name}", "", f"{q.question} (*{q.who}*)", "", "```sparql", q.sparql.rstrip(), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
