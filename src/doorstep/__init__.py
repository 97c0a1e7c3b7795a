"""doorstep: a self-hostable neighborhood camera network with consent-based footage requests."""

__version__ = "0.1.0"
