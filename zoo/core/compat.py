"""Import guard for torchvision.

PyPI only ships CUDA builds of torchvision. Beside a CPU build of torch its C
extension cannot load, and torchvision's import then dies registering fake
kernels for ops that were never defined (``operator torchvision::nms does not
exist``). timm imports torchvision at module level, and lightning/torchmetrics
import it when present, so the failure would take the whole zoo down even though
we never call a torchvision op.

``ensure_torchvision_importable`` imports torchvision once; on that specific
failure it drops the half-imported modules, stands in an empty module for the
fake-kernel registrations and imports again. Pure-Python parts of torchvision
(transforms, ``ops.misc`` layers) then work; compiled ops such as ``nms`` raise
if called, which no zoo code does.
"""
from __future__ import annotations

import sys
import types

_SKIPPED = "torchvision._meta_registrations"
patched = False  # True when the guard had to step in (reported by `zoo list env`)


def ensure_torchvision_importable() -> None:
    global patched
    if "torchvision" in sys.modules:
        return
    try:
        import torchvision  # noqa: F401
        return
    except ModuleNotFoundError:
        return  # not installed: timm will say so itself if it is needed
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    sys.modules[_SKIPPED] = types.ModuleType(_SKIPPED)
    import torchvision  # noqa: F401,F811

    patched = True
