"""dcpt: universal image restoration pre-training (DCPT and MaskDCPT), end to end."""

__version__ = "0.1.0"
