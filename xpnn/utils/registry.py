"""One registry and one ``get`` convention for everything that has a name: activations,
losses, metrics, initializers, optimizers, schedules and layers.

A ``Registry`` maps names (and aliases) to factories, and class keys to classes:

- ``registry.get(spec, **arguments)``: an object of the registry's kind passes through; a
  registered class is instantiated; a name (any case, '-' or '_') calls its factory with
  ``arguments``. Anything else is a ValueError that lists the valid names, or a TypeError.
  A registry of functions (``base=None``, such as the initializers) gives the function itself.
- ``registry.from_config({"class": key, "config": {...}})`` rebuilds an object saved in a file
  by looking its class up here, never by importing or evaluating anything the file says.
"""

from __future__ import annotations


def class_key(cls: type) -> str:
    """xpnn's own classes by bare name ("Dense"); anyone else's by module and name, so a user
    class called Dense never shadows ours."""
    if cls.__module__.split(".")[0] == "xpnn":
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def normalize(name: str) -> str:
    return name.strip().lower().replace("-", "_")


class Registry:
    """``Registry(kind, base)``: ``kind`` names the things in messages ("loss"); ``base`` is
    their class (or None where the things are functions, like initializers)."""

    def __init__(self, kind: str, base: type | None = None, *, is_instance=None):
        self.kind = kind
        self._a_kind = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"  # for messages: "an optimizer"
        self.base = base
        self._is_instance = is_instance or (lambda spec: self.base is not None and isinstance(spec, self.base))
        self._factories: dict[str, object] = {}
        self._classes: dict[str, type] = {}

    # -- filling it
    def add(self, factory, *names: str):
        """Register ``factory`` (a class or a function) under ``names``; returns it."""
        for name in names:
            self._factories[normalize(name)] = factory
        return factory

    def add_class(self, cls: type) -> type:
        """Make ``cls`` rebuildable from a config (subclasses register in ``__init_subclass__``)."""
        self._classes[class_key(cls)] = cls
        return cls

    # -- reading it
    def names(self) -> list[str]:
        return sorted(self._factories)

    def lookup(self, name: str):
        """The factory registered under ``name``, or a ValueError listing the valid names."""
        factory = self._factories.get(normalize(name)) if isinstance(name, str) else None
        if factory is None:
            raise ValueError(f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}")
        return factory

    def get(self, spec, **arguments):
        """An object of this kind from an object, a registered class or a name (see above)."""
        if self._is_instance(spec):
            if arguments:
                raise TypeError(f"{self.kind} arguments can only be given with a name or a class")
            return spec
        if isinstance(spec, type) and self.base is not None and issubclass(spec, self.base):
            return spec(**arguments)
        if isinstance(spec, str):
            found = self.lookup(spec)
            if self.base is None:  # a registry of functions: the function is the thing asked for
                if arguments:
                    raise TypeError(f"{self.kind} {spec!r} takes no arguments here, got {sorted(arguments)}")
                return found
            return found(**arguments)
        if self.base is None:
            raise TypeError(f"{self.kind} must be a name or a function, got {type(spec).__name__}")
        raise TypeError(f"{self.kind} must be a name, {self._a_kind} class or {self._a_kind} object, "
                        f"got {type(spec).__name__}")

    def from_config(self, spec):
        """``cls.from_config(spec["config"])`` for the registered class ``spec["class"]``."""
        if not isinstance(spec, dict) or "class" not in spec or "config" not in spec:
            raise ValueError(f"the {self.kind} config needs 'class' and 'config' keys, got {spec!r:.200}")
        cls = self._classes.get(spec["class"])
        if cls is None:
            raise ValueError(f"unknown {self.kind} class {spec['class']!r}; known: {', '.join(sorted(self._classes))}")
        if not isinstance(spec["config"], dict):
            raise ValueError(f"config of {spec['class']} must be a dict, got {type(spec['config']).__name__}")
        return cls.from_config(spec["config"])

    def config_of(self, thing) -> dict:
        """``{"class": key, "config": thing.get_config()}``, the JSON form ``from_config`` reads."""
        if self.base is not None and not isinstance(thing, self.base):
            raise TypeError(f"expected {self._a_kind}, got {type(thing).__name__}")
        return {"class": class_key(type(thing)), "config": thing.get_config()}
