"""Explicit registries for models, methods and augmentations.

Entries register by decorator in modules that ``engine.catalog`` (methods) and
``engine.models.zoo`` (models) import by name, so that PyInstaller and readers see every entry. A duplicate name is a programming error;
an unknown name gets close matches suggested.
"""
from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from engine.core.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            if name in self._entries:
                raise RegistryError(f"{self.what} '{name}' is registered twice.")
            self._entries[name] = obj
            return obj

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(
                f"Unknown {self.what} '{name}'.{hint} Known: {', '.join(sorted(self._entries))}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


MODELS: Registry = Registry("model")
METHODS: Registry = Registry("method")
AUGMENTATIONS: Registry = Registry("augmentation")
