"""packtwin: a digital twin of electric-vehicle battery systems on the Asset Administration Shell."""

__version__ = "0.1.0"
