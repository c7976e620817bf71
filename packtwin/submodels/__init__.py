"""One module per IDTA submodel template: build, read and validate; semantic ids live here and nowhere else."""
