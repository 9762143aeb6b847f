"""``@packable`` sample types: dataclass behaviour plus a schema record derived from annotations.

The schema built here is plain data (a dict laid out as docs/FORMAT.md section 5 says);
encoding, decoding and type checks of values happen in Rust (``atdata._core``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from typing import Any, Optional, Union

import numpy as np

from . import _core

_PRIMITIVES = {str: "str", int: "int", float: "float", bool: "bool", bytes: "bytes"}
_PRIMITIVE_TYPES = {v: k for k, v in _PRIMITIVES.items()}

_UNION_TYPES: tuple = (Union,)
if sys.version_info >= (3, 10):
    _UNION_TYPES = (Union, types.UnionType)


class _PackableMeta(type):
    """Makes ``isinstance(x, PackableSample)`` true for every ``@packable`` class."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return hasattr(type(obj), "__atdata_schema_json__")

    def __subclasscheck__(cls, sub: type) -> bool:
        return hasattr(sub, "__atdata_schema_json__")


class PackableSample(metaclass=_PackableMeta):
    """Marker base of every ``@packable`` class (``isinstance`` works; do not subclass)."""

    __atdata_schema_json__: str
    __atdata_fields__: tuple
    #: Array fields whose annotation fixes a dtype -> numpy ``dtype.str`` (docs/values.md).
    __atdata_dtypes__: dict


def _is_ndarray(tp: Any) -> bool:
    if tp is np.ndarray:
        return True
    return typing.get_origin(tp) is np.ndarray


def _declared_dtype(tp: Any) -> Optional[np.dtype]:
    """The dtype an ``NDArray[...]`` annotation fixes (``NDArray[np.float32]``), else None."""
    args = typing.get_args(tp)
    if len(args) == 2:
        dt_args = typing.get_args(args[1])
        if dt_args:
            scalar = dt_args[0]
            if isinstance(scalar, type) and issubclass(scalar, np.generic):
                return np.dtype(scalar)
    return None


def _ndarray_dtype(tp: Any) -> str:
    """The dtype name an ``NDArray[...]`` annotation fixes; float32 when it fixes none (as 0.7)."""
    declared = _declared_dtype(tp)
    return declared.name if declared is not None else "float32"


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in _UNION_TYPES:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
        raise TypeError(f"unsupported union annotation {tp!r}: only 'X | None' is supported")
    return tp, False


def _field_type(tp: Any, where: str) -> dict:
    if tp in _PRIMITIVES:
        return {"$type": "local#primitive", "primitive": _PRIMITIVES[tp]}
    if _is_ndarray(tp):
        return {"$type": "local#ndarray", "dtype": _ndarray_dtype(tp)}
    if typing.get_origin(tp) is list or tp is list:
        args = typing.get_args(tp)
        items = _field_type(args[0], where) if args else _field_type(str, where)
        return {"$type": "local#array", "items": items}
    raise TypeError(f"unsupported annotation for field {where}: {tp!r}")


def _hints(cls: type, localns: Optional[dict]) -> dict:
    try:
        return typing.get_type_hints(cls, localns=localns)
    except NameError as e:
        raise TypeError(f"cannot resolve the annotations of {cls.__name__}: {e}") from None


def _schema_of(cls: type, doc: Optional[str], localns: Optional[dict] = None) -> dict:
    hints = _hints(cls, localns)
    fields = []
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap_optional(hints.get(f.name, f.type))
        fields.append(
            {
                "name": f.name,
                "fieldType": _field_type(tp, f"{cls.__name__}.{f.name}"),
                "optional": optional,
            }
        )
    # No version: the core gives a new record its first version.
    return {"name": cls.__name__, "fields": fields, "description": doc}


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and bool(np.array_equal(a, b))
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _eq(self: Any, other: Any) -> Any:
    if type(other) is not type(self):
        return NotImplemented
    return all(
        _values_equal(getattr(self, n), getattr(other, n)) for n in self.__atdata_fields__
    )


def _post_init(self: Any) -> None:
    # Arrays given as lists or as encoded bytes become numpy arrays, so reads of a field are
    # always arrays whichever way the sample was built.
    for name in self.__atdata_array_fields__:
        v = getattr(self, name)
        if v is None or isinstance(v, np.ndarray):
            continue
        if isinstance(v, (bytes, bytearray)):
            object.__setattr__(self, name, _core.unpack_array(bytes(v)))
        elif isinstance(v, (list, tuple)):
            object.__setattr__(self, name, _list_to_array(type(self), name, v))


def _list_to_array(cls: type, name: str, v: Any) -> np.ndarray:
    # An array field holds a regular n-d array: a ragged nested list is refused here, where
    # the sample is built, rather than stored as something else (declare the field
    # ``list[list[...]]`` to keep ragged lists as lists).
    try:
        return np.asarray(v)
    except ValueError as e:
        why = str(e).rstrip(".")
        raise _core.SchemaMismatchError(
            f"field {name!r} of {cls.__name__} is an array field, but its value is a nested "
            f"list numpy cannot make a regular array of (ragged lengths?): {why}. Pass an "
            f"np.ndarray, or annotate the field list[list[...]] to store ragged lists"
        ) from None


@property  # type: ignore[misc]
def _packed(self: Any) -> bytes:
    """The sample as msgpack bytes (the form stored in shards)."""
    return _core.pack(type(self).__atdata_schema_json__, self)


@classmethod  # type: ignore[misc]
def _from_bytes(cls: type, data: bytes) -> Any:
    """Decodes msgpack bytes written for this type."""
    return cls.from_data(_core.unpack(data, cls.__atdata_schema_json__))


@classmethod  # type: ignore[misc]
def _from_data(cls: type, data: dict) -> Any:
    """Builds a sample from a dict of field values (unknown keys ignored)."""
    return cls(**{n: data.get(n) for n in cls.__atdata_fields__ if n in data})


def _as_dict(self: Any) -> dict:
    return {n: getattr(self, n) for n in self.__atdata_fields__}


@typing.dataclass_transform() if hasattr(typing, "dataclass_transform") else (lambda f: f)
def packable(cls: type) -> type:
    """Turns a class with annotations into a sample type.

    Gives keyword construction, defaults, ``repr`` and equality (arrays compared by value), and
    records the schema: the class name, its docstring and one field per annotation (``str``,
    ``int``, ``float``, ``bool``, ``bytes``, ``NDArray``/``np.ndarray``, ``list[X]``,
    ``X | None``).
    """
    if not isinstance(cls, type):
        raise TypeError("@packable decorates a class")
    doc = cls.__doc__
    user_post_init = cls.__dict__.get("__post_init__")
    if user_post_init is None:
        cls.__post_init__ = _post_init
    else:

        def __post_init__(self: Any, *a: Any) -> None:
            _post_init(self)
            user_post_init(self, *a)

        cls.__post_init__ = __post_init__
    dc = dataclasses.dataclass(cls, eq=False)
    # String annotations (``from __future__ import annotations``) of a class defined inside a
    # function name the function's locals: resolve them in the caller's frame too.
    caller = sys._getframe(1)
    localns = dict(caller.f_locals) if caller.f_locals is not caller.f_globals else None
    del caller
    schema = _schema_of(dc, doc, localns)
    schema_json = _core.normalize_schema(json.dumps(schema))
    dc.__atdata_schema_json__ = schema_json
    dc.__atdata_fields__ = tuple(f["name"] for f in schema["fields"])
    dc.__atdata_array_fields__ = tuple(
        f["name"] for f in schema["fields"] if f["fieldType"]["$type"] == "local#ndarray"
    )
    # Array fields whose annotation fixes a dtype: written arrays of another dtype are cast
    # (numpy's same_kind) or refused by the core, see docs/values.md.
    hints = _hints(dc, localns)
    declared = {}
    for name in dc.__atdata_array_fields__:
        tp = hints.get(name, dc.__dataclass_fields__[name].type)
        dt = _declared_dtype(_unwrap_optional(tp)[0])
        if dt is not None:
            declared[name] = dt.str
    dc.__atdata_dtypes__ = declared
    dc.__eq__ = _eq
    dc.__hash__ = None
    dc.packed = _packed
    dc.from_bytes = _from_bytes
    dc.from_data = _from_data
    dc.as_dict = _as_dict
    dc.__doc__ = doc
    return dc


def schema_json_of(sample_type: type) -> str:
    """The schema record (JSON text) of a ``@packable`` class."""
    try:
        return sample_type.__atdata_schema_json__  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(
            f"{getattr(sample_type, '__name__', sample_type)!r} is not a @packable class"
        ) from None


def _annotation(field_type: dict) -> Any:
    kind = field_type.get("$type", "").rsplit("#", 1)[-1]
    if kind == "primitive":
        return _PRIMITIVE_TYPES[field_type["primitive"]]
    if kind in ("ndarray", "structured"):
        dtype = field_type.get("dtype")
        if dtype == "float32":
            # atdata 0.7 writes "float32" for every plain NDArray: it declares nothing, so the
            # rebuilt class stores any dtype as it is rather than casting to float32.
            return np.ndarray
        try:
            scalar = np.dtype(dtype).type if dtype else None
        except TypeError:
            scalar = None
        if scalar is None:
            return np.ndarray
        return np.ndarray[Any, np.dtype[scalar]]  # type: ignore[misc]
    if kind == "array":
        items = field_type.get("items")
        return list[_annotation(items)] if items else list  # type: ignore[misc]
    return Any


_TYPE_CACHE: dict = {}


def type_from_schema(schema_json: str) -> type:
    """A real ``@packable`` class rebuilt from a stored schema record (cached per record)."""
    schema = json.loads(schema_json)
    key = _core.normalize_schema(schema_json)
    cached = _TYPE_CACHE.get(key)
    if cached is not None:
        return cached
    annotations: dict = {}
    for f in schema["fields"]:
        tp = _annotation(f["fieldType"])
        annotations[f["name"]] = Optional[tp] if f.get("optional") else tp
    ns: dict = {"__annotations__": annotations, "__module__": "atdata.generated"}
    # Optional fields default to None, and every field after one must have a default too.
    seen_default = False
    for f in schema["fields"]:
        if f.get("optional") or seen_default:
            ns[f["name"]] = None
            seen_default = True
    if schema.get("description") is not None:
        ns["__doc__"] = schema["description"]
    cls = types.new_class(schema["name"], (), {}, lambda d: d.update(ns))
    if "__doc__" not in ns:
        cls.__doc__ = None
    out = packable(cls)
    # Keep the stored record (version, description) rather than the rebuilt one.
    _TYPE_CACHE[key] = out
    return out
