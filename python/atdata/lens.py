"""Lenses: read a dataset of one sample type as another (atdata 0.7's ``atdata.lens`` module).

A lens pairs a *getter* (source -> view) with an optional *putter* ((view, source) -> source).
``@atdata.lens`` on ``def f(src: A) -> B`` builds one from the annotations and registers it,
so that ``Dataset[A].as_type(B)`` finds it. ``Lens`` objects compose: ``a | b`` runs ``a``
then ``b``; ``b @ a`` is the same lens written right to left.

As in atdata 0.7, ``atdata.lens`` at package level is the decorator, while
``from atdata.lens import Lens, LensNetwork, lens`` imports from this module.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from ._exceptions import LensNotFoundError

S = TypeVar("S")
V = TypeVar("V")
W = TypeVar("W")


def _keep_source(view: Any, source: Any) -> Any:
    # A lens without a putter cannot push a view back: the source is returned as it was.
    return source


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", repr(tp))


def _getter_types(get: Callable[..., Any], localns: Optional[dict] = None) -> tuple[Any, Any]:
    """The (source, view) types a getter declares: its one parameter's annotation and its
    return annotation, string annotations resolved (``from __future__ import annotations``
    in the caller's module makes every annotation a string) in the getter's module and in
    ``localns`` (the namespace the lens is defined in, for classes local to a function)."""
    name = getattr(get, "__qualname__", repr(get))
    try:
        sig = inspect.signature(get)
    except (TypeError, ValueError) as e:
        raise TypeError(f"a lens getter must be a function; {name} is not ({e})") from None
    params = list(sig.parameters.values())
    if len(params) != 1:
        raise ValueError(
            f"a lens getter takes exactly one parameter (the source sample); {name} takes "
            f"{len(params)}: {[p.name for p in params]}"
        )
    try:
        hints = typing.get_type_hints(get, localns=localns)
    except Exception:  # an unresolvable name: reported below, by annotation
        hints = {}
    empty = inspect.Parameter.empty
    out = []
    for what, key, raw in (
        ("parameter", params[0].name, params[0].annotation),
        ("return", "return", sig.return_annotation),
    ):
        tp = hints.get(key, raw)
        if isinstance(tp, str):
            raise TypeError(
                f"lens {name}: cannot resolve its {what} annotation {tp!r} (define the class "
                "before the lens, at module level or in the function that defines the lens)"
            )
        out.append(None if tp is empty else tp)
    return out[0], out[1]


def _caller_locals(get: Callable[..., Any]) -> Optional[dict]:
    """The local namespace of the frame that defines ``get`` (found by walking up from here
    to the frame running the code object ``get`` was defined in), or None at module level."""
    code_name = getattr(get, "__qualname__", "").rsplit(".<locals>.", 1)
    if len(code_name) != 2:
        return None
    frame = sys._getframe(1)
    outer = code_name[0].rsplit(".", 1)[-1]
    while frame is not None:
        if frame.f_code.co_name == outer:
            return dict(frame.f_locals)
        frame = frame.f_back
    return None


class Lens(Generic[S, V]):
    """A two-way view between sample types: ``get`` turns a source ``S`` into a view ``V``;
    ``put`` writes a changed view back into a source.

    Build one with ``@atdata.lens`` (which also registers it) or ``Lens(getter, putter)``
    (which does not). ``source_type`` and ``view_type`` come from the getter's annotations.
    Without a putter, ``put(view, source)`` returns ``source`` unchanged.
    """

    source_type: Any
    view_type: Any

    def __init__(
        self, get: Callable[[S], V], put: Optional[Callable[[V, S], S]] = None
    ) -> None:
        self.source_type, self.view_type = _getter_types(get, _caller_locals(get))
        functools.update_wrapper(self, get)
        self._getter = get
        self._putter = put if put is not None else _keep_source

    @classmethod
    def _from_parts(
        cls, get: Callable[[Any], Any], put: Callable[[Any, Any], Any], source: Any, view: Any
    ) -> "Lens":
        # Composite and implicit lenses have no annotated getter to read types from.
        out = cls.__new__(cls)
        out._getter, out._putter = get, put
        out.source_type, out.view_type = source, view
        out.__name__ = f"{_type_name(source)}_to_{_type_name(view)}"
        return out

    def putter(self, put: Callable[[V, S], S]) -> Callable[[V, S], S]:
        """Decorator: sets this lens's putter and returns the function unchanged."""
        if not callable(put):
            raise TypeError(f"a lens putter must be callable, got {put!r}")
        self._putter = put
        return put

    def get(self, s: S) -> V:
        """The view of source sample ``s``."""
        return self._getter(s)

    def put(self, v: V, s: S) -> S:
        """Source ``s`` updated from view ``v``."""
        return self._putter(v, s)

    def __call__(self, s: S) -> V:
        return self._getter(s)

    @staticmethod
    def identity(sample_type: Any) -> "Lens":
        """The lens that views ``sample_type`` as itself (``put`` returns the view)."""
        return Lens._from_parts(lambda s: s, lambda v, s: v, sample_type, sample_type)

    def __or__(self, other: "Lens") -> "Lens":
        """``self | other``: apply ``self``, then ``other``."""
        if not isinstance(other, Lens):
            return NotImplemented
        get1, put1, get2, put2 = self._getter, self._putter, other._getter, other._putter

        def get(s: Any) -> Any:
            return get2(get1(s))

        def put(w: Any, s: Any) -> Any:
            return put1(put2(w, get1(s)), s)

        return Lens._from_parts(get, put, self.source_type, other.view_type)

    def __matmul__(self, other: "Lens") -> "Lens":
        """``self @ other``: apply ``other``, then ``self`` (function composition order)."""
        if not isinstance(other, Lens):
            return NotImplemented
        return other | self

    def __repr__(self) -> str:
        name = getattr(self, "__name__", "lens")
        return f"Lens({name}: {_type_name(self.source_type)} -> {_type_name(self.view_type)})"


class LensNetwork:
    """The registry of lenses by (source type, view type); one per process.

    ``LensNetwork()`` always returns the same object. ``register`` adds a lens (a later one
    for the same pair replaces the earlier); ``transform`` finds one or raises
    ``LensNotFoundError`` listing the views the source type has.
    """

    _instance: Optional["LensNetwork"] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> "LensNetwork":
        if cls._instance is None:
            inst = super().__new__(cls)
            inst._registry = {}
            cls._instance = inst
        return cls._instance

    _registry: dict

    def register(self, _lens: Lens) -> None:
        """Makes ``_lens`` the lens from its source type to its view type."""
        if not isinstance(_lens, Lens):
            raise TypeError(f"LensNetwork.register takes a Lens, got {type(_lens).__name__}")
        if _lens.source_type is None or _lens.view_type is None:
            missing = "parameter" if _lens.source_type is None else "return"
            raise TypeError(
                f"cannot register lens {getattr(_lens, '__name__', _lens)!r}: its getter has no "
                f"{missing} type annotation (write def f(src: Source) -> View)"
            )
        self._registry[_lens.source_type, _lens.view_type] = _lens

    def find(self, source: Any, view: Any) -> Optional[Lens]:
        """The lens from ``source`` to ``view``, or None. Besides registered lenses, every
        ``@packable`` type is reachable from ``DictSample`` (as in atdata 0.7, where
        ``@packable`` registers that lens)."""
        found = self._registry.get((source, view))
        if found is not None:
            return found
        from ._dataset import DictSample

        if source is DictSample and hasattr(view, "__atdata_schema_json__"):
            return Lens._from_parts(
                lambda s: view.from_data(s._data), _keep_source, DictSample, view
            )
        return None

    def transform(self, source: Any, view: Any) -> Lens:
        """The lens from ``source`` to ``view``; ``LensNotFoundError`` if none is registered.

        Only direct lenses are found: chain several with ``|`` or ``@``."""
        found = self.find(source, view)
        if found is None:
            raise LensNotFoundError(source, view, self.views_of(source))
        return found

    def views_of(self, source: Any) -> list:
        """The view types registered lenses turn ``source`` into."""
        return [v for (s, v) in self._registry if s is source]

    def lenses_to(self, view: Any) -> list:
        """Registered lenses whose view type is ``view``."""
        return [l for (s, v), l in self._registry.items() if v is view]


def lens(f: Callable[[S], V]) -> Lens[S, V]:
    """Decorator: the lens whose getter is ``f`` (``def f(src: A) -> B``), registered so
    that ``Dataset[A].as_type(B)`` uses it. Add a putter with ``@f.putter``."""
    out: Lens[S, V] = Lens(f)
    LensNetwork().register(out)
    return out


# -- applying lenses while reading (Dataset.as_type) ----------------------------------


def _schema_matches(sample_type: Any, schema_json: Optional[str]) -> bool:
    """Whether ``sample_type`` declares the same schema as the data (so that a dataset typed
    from its stored schema, not from the user's class, still finds the user's lenses)."""
    from . import _core

    own = getattr(sample_type, "__atdata_schema_json__", None)
    if own is None or schema_json is None:
        return False
    try:
        return _core.schema_ref(own) == _core.schema_ref(schema_json)
    except Exception:  # an unparsable stored schema matches nothing
        return False


def dataset_as_type(ds: Any, view: Any) -> Any:
    """``Dataset.as_type``: ``ds`` read as ``view``.

    In order: the same type, or ``DictSample``: no lens; a registered lens from the dataset's
    sample type (or from a type with the same schema) to ``view``: applied to every sample;
    a registered ``DictSample`` -> ``view`` lens for untyped data; otherwise the data is read
    as ``view`` directly, which needs ``view``'s required fields in the data (atdata 0.7's
    structural fallback). When even that fails the error is a ``LensNotFoundError`` that is
    also the core's ``SchemaMismatchError`` (naming the missing fields).
    """
    from . import _core
    from ._dataset import Dataset, DictSample
    from ._packable import schema_json_of

    if not isinstance(view, type):
        raise TypeError(f"as_type takes a sample class, got {view!r}")
    source = ds.sample_type
    if view is DictSample:
        return Dataset(ds._core, sample_type=DictSample)
    net = LensNetwork()
    if view is not source:
        found = net._registry.get((source, view))
        if found is None and source is not DictSample:
            for cand in net.lenses_to(view):
                if _schema_matches(cand.source_type, ds.schema_json):
                    found = cand
                    break
        if found is not None:
            return _LensDataset(ds, found)
    # The core reads the data as ``view`` itself: faster than any lens, same result.
    try:
        ds._core.check_readable_as(schema_json_of(view))
    except _core.SchemaMismatchError as e:
        raise _no_lens_error(source, view, net.views_of(source), e) from None
    return Dataset(ds._core, sample_type=view)


def _no_lens_error(source: Any, view: Any, available: list, cause: Exception) -> Exception:
    """One error for both ways a caller may catch "cannot read as ``view``": atdata 0.7's
    ``LensNotFoundError`` and our ``SchemaMismatchError`` (with the core's message and its
    ``dataset``/``shard`` attributes)."""
    err = _NoLens(source, view, available)
    err.args = (f"{cause}; and no lens from {_type_name(source)} to {_type_name(view)} is "
                "registered (declare one with @atdata.lens)",)
    for attr in ("retryable", "dataset", "shard", "offset", "key", "sample", "field"):
        if hasattr(cause, attr):
            setattr(err, attr, getattr(cause, attr))
    return err


def _make_no_lens() -> type:
    from . import _core

    class LensNotFoundError_(LensNotFoundError, _core.SchemaMismatchError):  # noqa: N801
        __doc__ = LensNotFoundError.__doc__
        __str__ = Exception.__str__

        def __reduce__(self) -> Any:
            # Its name is the public class's, so pickle cannot find it by name: rebuild it.
            return (_rebuild_no_lens, (self.args, self.__dict__))

    # Shown in tracebacks as what the caller catches.
    LensNotFoundError_.__name__ = LensNotFoundError_.__qualname__ = "LensNotFoundError"
    LensNotFoundError_.__module__ = "atdata"
    return LensNotFoundError_


_NoLens = _make_no_lens()


def _rebuild_no_lens(args: tuple, state: dict) -> Exception:
    """Unpickles the error ``as_type`` raises (see ``_make_no_lens``)."""
    err = _NoLens.__new__(_NoLens)
    err.args = args
    err.__dict__.update(state)
    return err


def _lens_dataset_class() -> type:
    from ._dataset import Dataset, SampleBatch, _make_sample, _ROW_CHUNK

    class LensDataset(Dataset):
        """A dataset read through a lens: the core decodes the lens's source type, and each
        sample (or each batch, row by row) goes through the getter. The plain read path is
        untouched; only datasets made by ``as_type`` with a lens pay for the Python calls."""

        def __init__(self, base: Any, lens_: Lens) -> None:
            Dataset.__init__(self, base._core, sample_type=base._sample_type)
            self._lens = lens_
            self._view_type = lens_.view_type

        @property
        def sample_type(self) -> Any:
            return self._view_type

        def _views(self, columns: dict) -> list:
            get, st = self._lens._getter, self._lens.source_type
            names = list(columns)
            cols = [columns[k] for k in names]
            return [get(_make_sample(st, dict(zip(names, row)))) for row in zip(*cols)]

        @property
        def _plain(self) -> bool:
            # The core's columns are the lens source's, never what this dataset yields: every
            # path of Dataset (filter, map, exports, select, process_shards) must take samples
            # from _samples, which applies the lens.
            return False

        @property
        def _untransformed(self) -> bool:
            return self._filter is None and self._map is None

        def _samples(self, shuffle: Any, progress: Optional[bool]) -> Iterator[Any]:
            for cols in self._batches(_ROW_CHUNK, shuffle, progress):
                yield from self._views(cols)

        def _derive(self, core: Any = None, sample_type: Any = None) -> Any:
            d = Dataset._derive(self, core, sample_type)
            out = LensDataset.__new__(LensDataset)
            out.__dict__.update(d.__dict__)
            out._lens, out._view_type = self._lens, self._view_type
            return out

        def _generate(
            self, batch_size: Optional[int], shuffle: Any, progress: Optional[bool]
        ) -> Iterator[Any]:
            if not self._untransformed:
                yield from Dataset._generate(self, batch_size, shuffle, progress)
                return
            chunk = _ROW_CHUNK if batch_size is None else batch_size
            for cols in self._batches(chunk, shuffle, progress):
                views = self._views(cols)
                if batch_size is None:
                    yield from views
                else:
                    yield SampleBatch(view_columns(views, self._view_type), self._view_type)

        def head(self, n: int = 5) -> list:
            from ._args import check_int

            if not self._untransformed:
                return Dataset.head(self, n)
            n = check_int("n", n)
            st, get = self._lens.source_type, self._lens._getter
            return [get(_make_sample(st, d)) for d in self._core.head(n)]

        def part(self, index: int, count: int) -> Any:
            return LensDataset(Dataset.part(self, index, count), self._lens)

        def as_type(self, sample_type: Any) -> Any:
            # Lenses do not chain implicitly (as in 0.7): compose them with | instead.
            if sample_type is self._view_type:
                return self
            nxt = LensNetwork()._registry.get((self._view_type, sample_type))
            if nxt is not None:
                return LensDataset(self, self._lens | nxt)
            source = Dataset(self._core, sample_type=self._lens.source_type)
            return dataset_as_type(source, sample_type)

    return LensDataset


_LensDatasetClass: Optional[type] = None


def _LensDataset(ds: Any, lens_: Lens) -> Any:
    global _LensDatasetClass
    if _LensDatasetClass is None:  # built on first use: _dataset imports this module lazily
        _LensDatasetClass = _lens_dataset_class()
    return _LensDatasetClass(ds, lens_)


def view_columns(views: list, view_type: Any) -> dict:
    """Columns (one list or stacked numpy array per field) of a list of view samples, the
    form a ``SampleBatch`` holds: array fields are stacked when every array in the batch
    has one shape and dtype, as the core does when it reads a batch."""
    import numpy as np

    fields = getattr(view_type, "__atdata_fields__", None)
    if fields is None:  # DictSample views: the union of their keys, in first-seen order
        seen: dict = {}
        for v in views:
            for k in v.keys():
                seen.setdefault(k, None)
        fields = tuple(seen)
        column = lambda name: [v.get(name) for v in views]  # noqa: E731
    else:
        column = lambda name: [getattr(v, name, None) for v in views]  # noqa: E731
    out: dict = {}
    for name in fields:
        values = column(name)
        if _stackable(values):
            out[name] = np.stack(values)
        else:
            out[name] = values
    return out


def _stackable(values: list) -> bool:
    import numpy as np

    if not values or not isinstance(values[0], np.ndarray):
        return False
    shape, dtype = values[0].shape, values[0].dtype
    return all(isinstance(v, np.ndarray) and v.shape == shape and v.dtype == dtype for v in values)


__all__ = ["Lens", "LensNetwork", "lens"]
