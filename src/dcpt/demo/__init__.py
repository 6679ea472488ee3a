"""`dcpt demo`: pre-trained vs scratch NAFNet-tiny on the embedded photographs, end to end on a CPU.

`run.run_demo` fine-tunes three nets (scratch, DCPT-init, MaskDCPT-init) with one config, seed and data,
scores them on fixed degraded crops of the held-out test photographs (`heldout`), and writes the report
(`report`) with its figures (`figures`).
"""

from .run import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
