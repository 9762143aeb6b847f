"""``@packable`` sample types: dataclass behaviour plus a schema record derived from annotations.

The schema built here is plain data (a dict laid out as docs/FORMAT.md section 5 says);
encoding, decoding and type checks of values happen in Rust (``atdata._core``).
"""

from __future__ import annotations

import abc
import dataclasses
import json
import sys
import types
import typing
import uuid
from typing import Any, Optional, Protocol, Union, runtime_checkable

import numpy as np

from . import _core

_PRIMITIVES = {str: "str", int: "int", float: "float", bool: "bool", bytes: "bytes"}
_PRIMITIVE_TYPES = {v: k for k, v in _PRIMITIVES.items()}

_UNION_TYPES: tuple = (Union,)
if sys.version_info >= (3, 10):
    _UNION_TYPES = (Union, types.UnionType)


#: The attributes a sample class carries once its schema is built (see ``_install_schema``).
_SCHEMA_ATTRS = (
    "__atdata_schema_json__",
    "__atdata_fields__",
    "__atdata_array_fields__",
    "__atdata_dtypes__",
)


class _PackableMeta(abc.ABCMeta):
    """Makes ``isinstance(x, PackableSample)`` true for ``@packable`` classes too.

    ``@packable`` changes a class in place rather than giving it a new base, so the base class
    recognises those by the schema they carry. Checks against any other class of this
    metaclass (a ``PackableSample`` subclass) are the ordinary ones. An ``ABCMeta`` (0.7's
    base is an ABC), so that a subclass may also derive from other abstract base classes.
    """

    def __instancecheck__(cls, obj: Any) -> bool:
        if cls is PackableSample:
            return _carries_schema(type(obj))
        return super().__instancecheck__(obj)

    def __subclasscheck__(cls, sub: type) -> bool:
        if cls is PackableSample:
            return isinstance(sub, type) and _carries_schema(sub)
        return super().__subclasscheck__(sub)


def _carries_schema(cls: type) -> bool:
    # Looked up without building anything: a subclass is recognised before its schema exists.
    return any("__atdata_schema_json__" in vars(k) for k in cls.__mro__)


class _LazySchemaAttr:
    """One of ``_SCHEMA_ATTRS`` on ``PackableSample``, built for the class asked on first use.

    A subclass's ``__init_subclass__`` runs before ``@dataclass`` has made its fields, so the
    schema cannot be built there; it is built the first time a write, ``packed`` or a reader
    needs it, then kept per class (not in the class's own namespace, so a subclass of a
    subclass gets a schema of its own rather than inheriting its parent's).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        if owner is PackableSample:
            raise AttributeError(
                f"{self.name}: atdata.PackableSample itself has no schema, only its subclasses"
            )
        built = owner.__dict__.get("__atdata_built__")
        if built is None:
            built = _build_subclass_schema(owner)
        return built[self.name]


def _build_subclass_schema(cls: type) -> dict:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(
            f"{cls.__qualname__} subclasses atdata.PackableSample but is not a dataclass: "
            f"decorate it with @dataclass, or use @atdata.packable instead of subclassing"
        )
    attrs = _schema_attrs(
        cls, cls.__dict__.get("__atdata_doc__"), cls.__dict__.get("__atdata_localns__")
    )
    type.__setattr__(cls, "__atdata_built__", attrs)
    return attrs


def _schema_attrs(cls: type, doc: Optional[str], localns: Optional[dict]) -> dict:
    """The values of ``_SCHEMA_ATTRS`` for a dataclass: its schema record (validated by the
    core) and the per-field facts the readers and the Rust encoder look up."""
    schema = _schema_of(cls, doc, localns)
    schema_json = _core.normalize_schema(json.dumps(schema))
    array_fields = tuple(
        f["name"] for f in schema["fields"] if f["fieldType"]["$type"] == "local#ndarray"
    )
    # Array fields whose annotation fixes a dtype: written arrays of another dtype are cast
    # (numpy's same_kind) or refused by the core, see docs/values.md.
    hints = field_hints(cls, localns)
    declared = {}
    for name in array_fields:
        tp = hints.get(name, cls.__dataclass_fields__[name].type)
        dt = _declared_dtype(_unwrap_optional(tp)[0])
        if dt is not None:
            declared[name] = dt.str
    return {
        "__atdata_schema_json__": schema_json,
        "__atdata_fields__": tuple(f["name"] for f in schema["fields"]),
        "__atdata_array_fields__": array_fields,
        "__atdata_dtypes__": declared,
    }


def _wrap_post_init(cls: type) -> None:
    """Array fields given as lists or encoded bytes become numpy arrays after ``__init__``,
    before a ``__post_init__`` the class defines itself."""
    user_post_init = cls.__dict__.get("__post_init__")
    if user_post_init is None:
        cls.__post_init__ = _post_init
    elif user_post_init is _post_init or getattr(user_post_init, "__atdata_wrapped__", False):
        return
    else:

        def __post_init__(self: Any, *a: Any) -> None:
            _post_init(self)
            user_post_init(self, *a)

        __post_init__.__atdata_wrapped__ = True  # type: ignore[attr-defined]
        cls.__post_init__ = __post_init__


class PackableSample(metaclass=_PackableMeta):
    """Base class of sample types, for the subclass style of atdata 0.7::

        @dataclass
        class Caption(atdata.PackableSample):
            text: str
            image: NDArray

    A subclass gets the same schema, encoding and behaviour as a ``@packable`` class (arrays
    compared by value in ``==``; ``packed``, ``as_wds``, ``from_bytes``, ``from_data``,
    ``as_dict``). Its schema is built the first time it is needed, since ``@dataclass`` applies
    only after the class statement. ``isinstance(x, PackableSample)`` is true for instances of
    both styles.
    """

    __atdata_schema_json__: str
    __atdata_fields__: tuple
    #: Array fields whose annotation fixes a dtype -> numpy ``dtype.str`` (docs/values.md).
    __atdata_dtypes__: dict

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The class's own docstring, kept before ``@dataclass`` fills in a generated one: the
        # schema's description is the same as ``@packable`` would record (None without one).
        type.__setattr__(cls, "__atdata_doc__", cls.__dict__.get("__doc__"))
        _wrap_post_init(cls)
        # ``@dataclass`` keeps an ``__eq__`` the class already has: ours compares arrays by
        # value, where the generated one would raise on them.
        if "__eq__" not in cls.__dict__:
            cls.__eq__ = _eq  # type: ignore[method-assign]
        # String annotations of a class made inside a function name the function's locals.
        # The frame of the class statement is above the metaclasses' ``__new__`` frames
        # (ABCMeta's, a user metaclass's).
        caller = sys._getframe(1)
        while caller.f_code.co_name == "__new__" and caller.f_back is not None:
            caller = caller.f_back
        if caller.f_locals is not caller.f_globals:
            type.__setattr__(cls, "__atdata_localns__", dict(caller.f_locals))
        del caller

    def __post_init__(self) -> None:
        _post_init(self)

    @property
    def packed(self) -> bytes:
        """The sample as msgpack bytes: the bytes a shard stores for it (the same bytes atdata
        0.7 makes for the same values)."""
        return _core.pack(type(self).__atdata_schema_json__, self)

    @property
    def as_wds(self) -> dict:
        """The sample as a WebDataset dict, ``{"__key__": <unique key>, "msgpack": packed}``:
        what ``webdataset.TarWriter.write`` takes to store it in a tar that ``Dataset`` reads.

        Each call makes a new key (a time-ordered UUID), so samples written one after another
        never share one (WebDataset would merge samples with equal keys).
        """
        return {"__key__": str(uuid.uuid1(node=0, clock_seq=0)), "msgpack": self.packed}

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        """Decodes msgpack bytes written for this type (``packed``, a shard member)."""
        return cls.from_data(_core.unpack(data, cls.__atdata_schema_json__))

    @classmethod
    def from_data(cls, data: dict) -> Any:
        """Builds a sample from a dict of field values (array fields may hold encoded bytes;
        keys that name no field are ignored)."""
        if not isinstance(data, dict):
            raise TypeError(
                f"{cls.__name__}.from_data takes a dict of field values, got {type(data).__name__}"
            )
        return cls(**{n: data[n] for n in cls.__atdata_fields__ if n in data})

    def as_dict(self) -> dict:
        """The field values by name, in field order."""
        return {n: getattr(self, n) for n in self.__atdata_fields__}


for _attr in _SCHEMA_ATTRS:
    setattr(PackableSample, _attr, _LazySchemaAttr(_attr))
del _attr


@runtime_checkable
class Packable(Protocol):
    """What every sample type offers, whichever way it was made (``@packable`` or a
    ``PackableSample`` subclass): atdata 0.7's name for it, for annotations such as
    ``type[Packable]`` and for ``isinstance`` checks."""

    @classmethod
    def from_data(cls, data: dict) -> Any: ...

    @classmethod
    def from_bytes(cls, data: bytes) -> Any: ...

    @property
    def packed(self) -> bytes: ...

    @property
    def as_wds(self) -> dict: ...


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
    if tp is dict or typing.get_origin(tp) is dict:
        args = typing.get_args(tp)
        if args and args[0] is not str:
            raise TypeError(
                f"unsupported annotation for field {where}: {tp!r} (dict fields have str keys)"
            )
        return {"$type": "local#dict"}
    if typing.get_origin(tp) is list or tp is list:
        args = typing.get_args(tp)
        items = _field_type(args[0], where) if args else _field_type(str, where)
        return {"$type": "local#array", "items": items}
    raise TypeError(f"unsupported annotation for field {where}: {tp!r}")


def field_hints(
    cls: type, localns: Optional[dict] = None, *, include_extras: bool = False
) -> dict:
    """The resolved annotations of a sample class: the one place that resolves them (schema,
    manifests, ``describe``, ``atdata.testing``). Text annotations (``from __future__ import
    annotations``) of a class made inside a function name that function's locals, which the
    class keeps from its definition (``__atdata_localns__``)."""
    if localns is None:
        localns = getattr(cls, "__atdata_localns__", None)
    try:
        return typing.get_type_hints(cls, localns=localns, include_extras=include_extras)
    except NameError as e:
        raise TypeError(f"cannot resolve the annotations of {cls.__name__}: {e}") from None



def _schema_of(cls: type, doc: Optional[str], localns: Optional[dict] = None) -> dict:
    hints = field_hints(cls, localns)
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
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
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


@typing.dataclass_transform() if hasattr(typing, "dataclass_transform") else (lambda f: f)
def packable(cls: type) -> type:
    """Turns a class with annotations into a sample type.

    Gives keyword construction, defaults, ``repr`` and equality (arrays compared by value), and
    records the schema: the class name, its docstring and one field per annotation (``str``,
    ``int``, ``float``, ``bool``, ``bytes``, ``NDArray``/``np.ndarray``, ``list[X]``,
    ``dict``/``dict[str, X]``, ``X | None``). Subclassing ``PackableSample`` under
    ``@dataclass`` gives the same class.
    """
    if not isinstance(cls, type):
        raise TypeError("@packable decorates a class")
    doc = cls.__doc__
    _wrap_post_init(cls)
    dc = dataclasses.dataclass(cls, eq=False)
    # String annotations (``from __future__ import annotations``) of a class defined inside a
    # function name the function's locals: resolve them in the caller's frame too.
    caller = sys._getframe(1)
    localns = dict(caller.f_locals) if caller.f_locals is not caller.f_globals else None
    del caller
    if localns is not None:
        type.__setattr__(cls, "__atdata_localns__", localns)
    if isinstance(dc, _PackableMeta):
        # A PackableSample subclass decorated too: its schema is built now, by this rule.
        type.__setattr__(dc, "__atdata_built__", _schema_attrs(dc, doc, localns))
    else:
        for name, value in _schema_attrs(dc, doc, localns).items():
            setattr(dc, name, value)
        # One set of methods for both styles: the base class's.
        for name in ("packed", "as_wds", "from_bytes", "from_data", "as_dict"):
            setattr(dc, name, PackableSample.__dict__[name])
    dc.__eq__ = _eq
    dc.__hash__ = None
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
    if kind == "dict":
        return dict
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
