"""The generated fast predicates agree with the worded checks.

A request's input is first put to a generated predicate; only when it says
no does the walk that words AWS's messages run. If the two ever disagreed, a
bad value would pass unchecked (predicate too lenient) or a good one would be
refused with an empty message (too strict). For every input shape of every
served model: a valid value, then mutants of it that break one thing each
(a required member dropped, a string or list too long or too short, a number
out of range, a value off its enum or pattern), and each is put to both.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.model import Shape
from protocol_oracle import SERVICES
from protocol_shape_values import Unsatisfiable, ValueGen

from strongroom.protocol.model import load_service_model
from strongroom.protocol.validation import ValidatorCompiler

MUTANTS = 12


def _paths(value: Any, shape: Shape, path: tuple = ()) -> list[tuple[tuple, Shape]]:
    """Every (path, shape) inside `value`, the value itself first."""
    out = [(path, shape)]
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        for name, member in shape.members.items():
            if name in value:
                out += _paths(value[name], member, (*path, name))
        out += [((*path, name), None) for name in shape.metadata.get("required", ())]
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, shape.member, (*path, i))
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, shape.value, (*path, k))
    return out


def _broken(shape: Shape | None, value: Any, rng: random.Random) -> Any:
    """A value of the same type that breaks a constraint if it can (else as is)."""
    if shape is None:
        return _DROP
    md = shape.metadata
    kind = shape.type_name
    if kind == "string":
        choices = ["", "x" * _over(md), "\u2603 not-a-pattern \x00", "Z"]
        return rng.choice(choices)
    if kind == "blob":
        return rng.choice([b"", b"x" * _over(md)])
    if kind in ("integer", "long"):
        return rng.choice([int(md.get("min", 0)) - 1, int(md.get("max", 10**6)) + 1, 0])
    if kind in ("float", "double"):
        return rng.choice([float(md.get("min", 0)) - 1.5, float(md.get("max", 1e6)) + 1.5])
    if kind == "list":
        return rng.choice([[], list(value) * _over(md) if value and _over(md) < 5000 else []])
    if kind == "map":
        return {}
    return value


_DROP = object()


def _over(md: dict) -> int:
    """One more than a shape's max length, when that is a length one can build."""
    top = int(md.get("max", 64))
    return top + 1 if top < 1 << 20 else 1


def _with(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if rest or new is not _DROP:
            copy[head] = _with(value.get(head), rest, new) if rest else new
        else:
            copy.pop(head, None)
        return copy
    copy = list(value)
    copy[head] = _with(value[head], rest, new)
    return copy


def _cases() -> list[tuple[str, str]]:
    return [(s, op) for s in SERVICES for op in load_service_model(s).operation_names]


@pytest.mark.parametrize("service", SERVICES)
def test_predicates_agree_with_the_worded_checks(service: str) -> None:
    model = load_service_model(service)
    compiler = ValidatorCompiler()
    rng = random.Random(service)
    disagreements: list[str] = []
    checked = refused = 0
    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        if shape is None:
            continue
        worded = compiler.compile(shape)
        valid = compiler._predicates.predicate(shape)
        if worded is None:
            assert valid is None, f"{operation}: a predicate where nothing can fail"
            continue
        assert valid is not None, f"{operation}: no predicate for a shape with constraints"
        try:
            good = ValueGen(seed=rng.randrange(1 << 30)).structure(shape)
        except (Unsatisfiable, RecursionError):
            continue
        paths = _paths(good, shape)
        candidates = [good] + [
            _with(good, p, _broken(s, None, rng) if s is None else _broken(s, _get(good, p), rng))
            for p, s in rng.sample(paths, min(MUTANTS, len(paths)))
        ]
        for value in candidates:
            errors: list[str] = []
            try:
                worded(value, "", errors)
            except (TypeError, AttributeError):
                continue  # a mutant of the wrong type for the walk: readers refuse those
            checked += 1
            refused += bool(errors)
            if valid(value) != (not errors):
                disagreements.append(f"{operation}: predicate {valid(value)}, errors {errors}")
    assert not disagreements, disagreements[:5]
    assert checked > 0 and refused > 0, (checked, refused)


def _get(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step] if not isinstance(value, dict) else value.get(step)
    return value


def test_mutants_do_get_refused() -> None:
    """The test above cannot pass vacuously: mutants break constraints."""
    model = load_service_model("kms")
    shape = model.operation_model("Encrypt").input_shape
    compiler = ValidatorCompiler()
    valid = compiler._predicates.predicate(shape)
    assert valid({"KeyId": "k", "Plaintext": b"p"}) is True
    assert valid({"KeyId": "k"}) is False  # Plaintext is required
    assert valid({"KeyId": "", "Plaintext": b"p"}) is False  # KeyId min 1
    assert valid({"KeyId": "k", "Plaintext": b"p" * 4097}) is False  # max 4096
    assert valid({"KeyId": "k", "Plaintext": b"p", "EncryptionAlgorithm": "ROT13"}) is False
