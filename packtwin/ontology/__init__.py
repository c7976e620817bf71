"""AAS -> RDF, BattINFO alignment, the SPARQL endpoint, SHACL shapes and validation, the query catalogue."""
