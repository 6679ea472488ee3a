"""`dcpt app`: a local web page (Gradio) that names a photo's degradation and restores it.

`core` holds the logic (no web framework: tested directly); `ui` lays it out with Gradio, an
optional extra (``pip install 'dcpt[app]'``).
"""

from __future__ import annotations

from .core import Result, Session, default_checkpoint, make_examples

__all__ = ["Result", "Session", "default_checkpoint", "make_examples"]
