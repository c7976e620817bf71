"""Routes of the AAS API, one module per service of IDTA-01002 Part 2."""
