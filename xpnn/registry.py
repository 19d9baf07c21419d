"""Classes that files may name: layers, optimizers and schedules are rebuilt from JSON by looking
their name up in a registry, never by importing or evaluating anything the file says."""

from __future__ import annotations


def class_key(cls: type) -> str:
    """xpnn's own classes by bare name ("Dense"); anyone else's by module and name, so a user
    class called Dense never shadows ours."""
    if cls.__module__.split(".")[0] == "xpnn":
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def build_registered(spec, classes: dict, kind: str):
    """``classes[spec["class"]].from_config(spec["config"])`` after checking the spec's shape;
    ``kind`` ("layer", "schedule"...) names what was asked for in the errors."""
    if not isinstance(spec, dict) or "class" not in spec or "config" not in spec:
        raise ValueError(f"the {kind} config needs 'class' and 'config' keys, got {spec!r:.200}")
    cls = classes.get(spec["class"])
    if cls is None:
        raise ValueError(f"unknown {kind} class {spec['class']!r}; known: {', '.join(sorted(classes))}")
    if not isinstance(spec["config"], dict):
        raise ValueError(f"config of {spec['class']} must be a dict, got {type(spec['config']).__name__}")
    return cls.from_config(spec["config"])
