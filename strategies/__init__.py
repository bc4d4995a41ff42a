"""Action-model strategies, each a plug-in (zoo.train.plugin): every sub-package here registers its
``Strategy`` when imported, and importing this package imports them all, so a new strategy is a new
sub-package and nothing else lists it."""
from __future__ import annotations

import importlib
import pkgutil


def _register_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            importlib.import_module(f"{__name__}.{info.name}")


_register_all()
