"""Release NAFNets against dcpt's NAFNet presets (see scripts/make_release_fixtures.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from make_release_fixtures import Spec  # noqa: E402

FIVE_D = dict(width=64, enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1], window_size=16)
REDUCED = dict(width=8, enc_blk_nums=[1, 2], middle_blk_num=1, dec_blk_nums=[2, 1], window_size=16)

SPECS = [
    Spec(name="nafnet-5d", release="dcpt", module="nafnet_arch", cls="NAFNetBaseline", full=FIVE_D,
         reduced=REDUCED, preset="nafnet-5d",
         overrides=dict(width=8, enc_blk_nums=[1, 2], middle_blk_num=1, dec_blk_nums=[2, 1])),
]
