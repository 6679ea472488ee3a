"""The degradation catalogue: pure, batched, seeded ops on ``B x 3 x H x W`` images in [0, 1].

Use `apply` for everything::

    from dcpt import degrade
    lq = degrade.apply("gaussian_noise", img, 25, generator=torch.Generator().manual_seed(0))
    lq = degrade.apply("gaussian_blur:2,jpeg:60", img)          # a mixture, applied in order
    lq = degrade.apply([("haze", 0.5), ("rain", 0.3)], img)     # the same, as a list

See `catalogue()` (or ``dcpt degrade --list``) for names, families, level ranges and meanings.
"""

from __future__ import annotations

import importlib

from .apply import apply, catalogue, parse_mixture  # noqa: F401
from .core import DEGRADATIONS, DegradationSpec, register  # noqa: F401

# The family modules register their ops on import; this order is the catalogue's.
for _family in ("noise", "blur", "compression", "weather", "light", "sampling", "mixed"):
    importlib.import_module(f"{__name__}.{_family}")
