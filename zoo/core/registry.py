"""timm-style component registries: one per family, names -> constructors.

Each family module exposes thin wrappers (``register_attention``,
``create_attention``, ``list_attention``) over a ``Registry`` instance, so a new
component is usable from configs, the CLI and the parametrised tests simply by
being registered.
"""
from __future__ import annotations

from collections.abc import Callable
import importlib
from typing import Any

from zoo.core.errors import ZooError, unknown


class Registry:
    def __init__(self, family: str):
        self.family = family
        self._entries: dict[str, Callable[..., Any]] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, doc: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries and self._entries[name] is not fn:
                raise ValueError(f"{self.family} '{name}' is registered twice")
            self._entries[name] = fn
            self._docs[name] = doc or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
            return fn

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._entries:
            raise unknown(self.family, name, self._entries)
        return self._entries[name]

    def create(self, name: str, **cfg: Any) -> Any:
        return self.get(name)(**cfg)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        return {n: self._docs.get(n, "") for n in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


# Every family the zoo knows; each is filled by importing its package.
FAMILIES: dict[str, Registry] = {}


def family(name: str) -> Registry:
    if name not in FAMILIES:
        FAMILIES[name] = Registry(name)
    return FAMILIES[name]


def load_packages(packages: list[str] | tuple[str, ...]) -> dict[str, Registry]:
    """Import each package that registers entries (the app says which: zoo.config.PLUGIN_PACKAGES),
    then return every family.  A package that is not installed gets one line naming it."""
    for module in packages:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is not None and (module == err.name or module.startswith(err.name + ".")):
                raise ZooError(f"cannot import plug-in package '{module}' (is it on PYTHONPATH?)") from None
            raise
    return FAMILIES
