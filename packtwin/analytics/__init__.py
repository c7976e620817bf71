"""Cell models and estimators (SoC, SoH, SoP, RUL, faults, balancing), vectorised over cells; the workers."""
