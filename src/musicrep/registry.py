"""A small name -> factory registry (timm-style) shared by front-ends, back-ends and models."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from musicrep.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; unknown names raise :class:`ConfigError` listing valid ones.

    Examples
    --------
    >>> FRONTENDS = Registry("front-end")
    >>> @FRONTENDS.register("mel")
    ... class MelFrontend: ...
    >>> FRONTENDS.names()
    ['mel']
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = factory
            return factory

        return deco

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._items, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else None
            raise ConfigError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}", hint
            ) from None

    def create(self, name: str, **kwargs: Any) -> T:
        factory = self.get(name)
        try:
            return factory(**kwargs)
        except TypeError as exc:  # wrong keyword for this factory
            raise ConfigError(f"cannot build {self.kind} {name!r} with {kwargs}: {exc}") from exc

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
