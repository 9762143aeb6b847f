"""Data sources: where a ``Dataset``'s shards come from, as atdata 0.7 names them.

``URLSource`` (paths, brace patterns, ``s3://`` and ``http(s)://`` URLs), ``S3Source`` (objects
of one bucket with an explicit endpoint and keys) and ``BlobSource`` (AT Protocol blobs) each
list shard identifiers and open a shard as a binary stream; ``Dataset[T](source)`` takes any
of them, or any object of the ``DataSource`` protocol.

The first two resolve to what the Rust core reads itself: ``Dataset`` over such a source
streams through the core's reader, with an ``S3Source``'s endpoint and keys handed to the core
(never put in the process environment). Anything else, a ``BlobSource`` included (blob URLs
carry a query string, which the core's HTTP reader refuses), is read through the streams its
``open_shard`` returns, by the same core reader (``dataset_source`` is the one place that
decides which).
"""

from __future__ import annotations

import atexit
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from typing import IO, Any, Iterator, Optional, Protocol, runtime_checkable

from . import _core
from ._core import (
    AtdataIOError,
    InvalidArgumentError,
    NotFoundError,
    ShardNotFoundError,
    UnsupportedFeatureError,
)

# At exit, reader threads of user sources stop calling into Python before the interpreter
# finalizes (a thread taking the GIL after that point aborts the process).
atexit.register(_core.Dataset.stop_python_streams)

#: Seconds to wait for a PDS or DID directory to answer.
_HTTP_TIMEOUT = 60


@runtime_checkable
class DataSource(Protocol):
    """What ``Dataset`` needs from a source of shards (atdata 0.7's protocol).

    ``list_shards()`` names the shards without opening them; ``open_shard(id)`` opens one as a
    binary stream (an object with ``read(n)``), raising ``KeyError`` for an id it does not
    list; ``shards`` yields ``(id, stream)`` pairs lazily. ``Dataset`` reads through
    ``list_shards`` and ``open_shard`` only, so that shards can be opened in any order and in
    parallel.
    """

    @property
    def shards(self) -> Iterator[tuple[str, IO[bytes]]]: ...

    def list_shards(self) -> list[str]: ...

    def open_shard(self, shard_id: str) -> IO[bytes]: ...


def _deprecated_shard_list(source: Any) -> list:
    warnings.warn(
        "shard_list is deprecated, use list_shards()", DeprecationWarning, stacklevel=3
    )
    return source.list_shards()


def _check_listed(source: Any, shard_id: str) -> None:
    if shard_id not in source.list_shards():
        raise NotFoundError(
            f"shard {shard_id!r} is not one of this {type(source).__name__}'s shards"
        )


class _CoreBacked:
    """Shared by the sources the core reads itself: one core dataset per configuration (it
    holds the clients, so streams of one source share connections), remade when a field of the
    source changes."""

    def _config(self) -> tuple:
        raise NotImplementedError

    def _open_core(self) -> Any:
        raise NotImplementedError

    def _core_dataset(self) -> Any:
        config = self._config()
        cached = self.__dict__.get("_cached")
        if cached is None or cached[0] != config:
            cached = (config, self._open_core())
            self.__dict__["_cached"] = cached
        return cached[1]

    def __getstate__(self) -> dict:
        # The core dataset is remade on first use after unpickling (DataLoader workers).
        return {k: v for k, v in self.__dict__.items() if k != "_cached"}

    def list_shards(self) -> list[str]:
        """The shard URLs."""
        return list(self._core_dataset().urls)

    @property
    def shard_list(self) -> list[str]:
        """The shard URLs (deprecated in atdata 0.7: use ``list_shards()``)."""
        return _deprecated_shard_list(self)

    @property
    def shards(self) -> Iterator[tuple[str, IO[bytes]]]:
        """``(url, stream)`` for each shard, each opened only when reached."""
        core = self._core_dataset()
        for url in core.urls:
            yield url, core.open_shard(url)

    def open_shard(self, shard_id: str) -> IO[bytes]:
        """The shard ``shard_id`` (one of ``list_shards()``; ``NotFoundError``, a
        ``KeyError``, otherwise) as a binary stream read by the core."""
        _check_listed(self, shard_id)
        return self._core_dataset().open_shard(shard_id)


@dataclass
class URLSource(_CoreBacked):
    """Shards named by one URL or path: a file, brace pattern (``data-{000..009}.tar``),
    glob or directory, or ``s3://`` / ``http(s)://`` URLs (brace patterns too), the way
    ``Dataset("...")`` reads a string. ``s3://`` URLs use the credentials of the AWS
    environment; use ``S3Source`` to give them explicitly.
    """

    url: str

    def __post_init__(self) -> None:
        if isinstance(self.url, os.PathLike):
            self.url = os.fspath(self.url)
        if not isinstance(self.url, str):
            raise TypeError(f"URLSource: url must be str, got {type(self.url).__name__}")
        if self.url.startswith("pipe:"):
            # WebDataset's shell-command URLs: running text as a command is not ours to do.
            raise UnsupportedFeatureError(
                f"URLSource: {self.url!r} is a shell command (WebDataset's pipe: URLs), which "
                "is not run; give the shards' s3:// or https:// URLs, or an S3Source"
            )

    def _config(self) -> tuple:
        return (self.url,)

    def _open_core(self) -> Any:
        return _core.Dataset.open(self.url)


def _optional_str(owner: str, name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be str or None, got {type(value).__name__}")


@dataclass
class S3Source(_CoreBacked):
    """Objects of one S3-compatible bucket (AWS S3, MinIO, R2, ...), with an explicit
    ``endpoint``, ``region`` and keys; what is not given comes from the AWS environment, as
    boto3 would take it. The keys are passed to this source's reader only: the process
    environment is left alone, so sources with different keys can be read side by side.
    """

    bucket: str
    keys: list[str]
    endpoint: Optional[str] = None
    access_key: Optional[str] = None
    # Not in the repr, so that printing a source never shows the secret.
    secret_key: Optional[str] = field(default=None, repr=False)
    region: Optional[str] = None

    def __post_init__(self) -> None:
        if not isinstance(self.bucket, str) or not self.bucket or "/" in self.bucket:
            raise InvalidArgumentError(
                f"S3Source: bucket must be a bucket name (no '/'), got {self.bucket!r}"
            )
        if isinstance(self.keys, str):
            raise TypeError("S3Source: keys must be a list of object keys, not one str")
        self.keys = list(self.keys)
        for k in self.keys:
            if not isinstance(k, str) or not k:
                raise InvalidArgumentError(f"S3Source: each key must be a non-empty str, got {k!r}")
        for name in ("endpoint", "access_key", "secret_key", "region"):
            _optional_str("S3Source", name, getattr(self, name))
        if (self.access_key is None) != (self.secret_key is None):
            raise InvalidArgumentError(
                "S3Source: access_key and secret_key go together; give both, or neither to "
                "use the AWS environment's credentials"
            )

    def _config(self) -> tuple:
        return (
            self.bucket,
            tuple(self.keys),
            self.endpoint,
            self.access_key,
            self.secret_key,
            self.region,
        )

    def _open_core(self) -> Any:
        return _core.Dataset.over_s3(
            [f"s3://{self.bucket}/{k}" for k in self.keys],
            endpoint=self.endpoint,
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )

    def list_shards(self) -> list[str]:
        """``s3://bucket/key`` for each key."""
        return [f"s3://{self.bucket}/{k}" for k in self.keys]

    @classmethod
    def from_urls(
        cls,
        urls: list[str],
        *,
        endpoint: Optional[str] = None,
        access_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        region: Optional[str] = None,
    ) -> "S3Source":
        """A source over ``s3://bucket/key`` URLs, all of one bucket (each URL is taken
        literally, braces included)."""
        if isinstance(urls, str):
            urls = [urls]
        urls = list(urls)
        if not urls:
            raise InvalidArgumentError("S3Source.from_urls: urls is empty")
        buckets: list[str] = []
        keys: list[str] = []
        for url in urls:
            if not isinstance(url, str) or not url.startswith("s3://"):
                raise InvalidArgumentError(f"S3Source.from_urls: {url!r} is not an s3:// URL")
            bucket, _, key = url[len("s3://") :].partition("/")
            if not bucket or not key:
                raise InvalidArgumentError(
                    f"S3Source.from_urls: {url!r} must name a bucket and a key: s3://bucket/key"
                )
            if bucket not in buckets:
                buckets.append(bucket)
            keys.append(key)
        if len(buckets) > 1:
            raise InvalidArgumentError(
                f"S3Source.from_urls: the URLs name several buckets ({', '.join(buckets)}); "
                "one source reads one bucket"
            )
        return cls(
            bucket=buckets[0],
            keys=keys,
            endpoint=endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
        )

    @classmethod
    def from_credentials(cls, credentials: dict, bucket: str, keys: list[str]) -> "S3Source":
        """A source from atdata 0.7's credentials dict (``AWS_ENDPOINT`` or
        ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_REGION``), the dict ``S3DataStore`` takes; another key is refused by name."""
        if not isinstance(credentials, dict):
            raise TypeError(
                f"S3Source.from_credentials: credentials must be a dict, got "
                f"{type(credentials).__name__}"
            )
        known = {
            "AWS_ENDPOINT": "endpoint",
            "AWS_ENDPOINT_URL": "endpoint",
            "AWS_ACCESS_KEY_ID": "access_key",
            "AWS_SECRET_ACCESS_KEY": "secret_key",
            "AWS_REGION": "region",
        }
        args: dict = {}
        for k, v in credentials.items():
            if k not in known:
                raise InvalidArgumentError(
                    f"S3Source.from_credentials: unknown credentials key {k!r}; expected "
                    f"{', '.join(known)}"
                )
            # None or blank counts as unset, as in S3DataStore's credentials.
            if v is not None and not (isinstance(v, str) and not v.strip()):
                args[known[k]] = v
        return cls(bucket=bucket, keys=keys, **args)


def _http_get(url: str, what: str) -> Any:
    """The response to GET ``url``, streamed; a missing resource is ``ShardNotFoundError``,
    any other failure ``AtdataIOError``, both naming ``what`` and the URL."""
    try:
        return urllib.request.urlopen(url, timeout=_HTTP_TIMEOUT)
    except urllib.error.HTTPError as e:
        e.close()
        cls = ShardNotFoundError if e.code == 404 else AtdataIOError
        raise cls(f"{what}: GET {url} answered HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise AtdataIOError(f"{what}: GET {url} failed: {reason}") from None


@dataclass
class BlobSource:
    """Shards stored as blobs on AT Protocol personal data servers (PDS), each named by the
    DID of its repository and its CID (``{"did": ..., "cid": ...}``), fetched over HTTPS with
    ``com.atproto.sync.getBlob``. ``pds_endpoint`` serves every blob; without it, each DID's
    PDS is looked up in its DID document (``did:plc`` at ``plc_directory``, ``did:web`` at
    its host). Shard ids are ``at://{did}/blob/{cid}``.
    """

    blob_refs: list
    pds_endpoint: Optional[str] = None
    _endpoint_cache: dict = field(default_factory=dict, repr=False, compare=False)
    #: Where ``did:plc`` documents are looked up (a field of ours, not of 0.7).
    plc_directory: str = "https://plc.directory"

    def __post_init__(self) -> None:
        if isinstance(self.blob_refs, dict):
            raise TypeError("BlobSource: blob_refs must be a list of {'did', 'cid'} dicts")
        self.blob_refs = list(self.blob_refs)
        for ref in self.blob_refs:
            _check_blob_ref(ref)
        _optional_str("BlobSource", "pds_endpoint", self.pds_endpoint)

    def list_shards(self) -> list[str]:
        """``at://{did}/blob/{cid}`` for each blob."""
        return [f"at://{r['did']}/blob/{r['cid']}" for r in self.blob_refs]

    @property
    def shard_list(self) -> list[str]:
        """The shard ids (deprecated in atdata 0.7: use ``list_shards()``)."""
        return _deprecated_shard_list(self)

    @property
    def shards(self) -> Iterator[tuple[str, IO[bytes]]]:
        """``(at_uri, stream)`` for each blob, each fetched only when reached."""
        for shard_id in self.list_shards():
            yield shard_id, self.open_shard(shard_id)

    def open_shard(self, shard_id: str) -> IO[bytes]:
        """The blob ``shard_id`` (one of ``list_shards()``) as the stream of its HTTPS
        response."""
        _check_listed(self, shard_id)
        did, _, cid = shard_id[len("at://") :].partition("/blob/")
        return _http_get(self._get_blob_url(did, cid), f"blob {shard_id}")

    def _get_blob_url(self, did: str, cid: str) -> str:
        endpoint = self._resolve_pds_endpoint(did).rstrip("/")
        query = urllib.parse.urlencode({"did": did, "cid": cid})
        return f"{endpoint}/xrpc/com.atproto.sync.getBlob?{query}"

    def _resolve_pds_endpoint(self, did: str) -> str:
        if self.pds_endpoint:
            return self.pds_endpoint
        if did in self._endpoint_cache:
            return self._endpoint_cache[did]
        if did.startswith("did:plc:"):
            doc_url = f"{self.plc_directory.rstrip('/')}/{urllib.parse.quote(did, safe=':')}"
        elif did.startswith("did:web:"):
            host = urllib.parse.unquote(did[len("did:web:") :])
            doc_url = f"https://{host}/.well-known/did.json"
        else:
            raise InvalidArgumentError(
                f"BlobSource: cannot find the PDS of {did!r} (did:plc and did:web are "
                "resolved); pass pds_endpoint="
            )
        with _http_get(doc_url, f"DID document of {did}") as r:
            try:
                doc = json.loads(r.read())
            except ValueError as e:
                raise InvalidArgumentError(
                    f"BlobSource: DID document of {did} at {doc_url} is not JSON: {e}"
                ) from None
        services = doc.get("service") if isinstance(doc, dict) else None
        for s in services if isinstance(services, list) else []:
            if (
                isinstance(s, dict)
                and s.get("type") == "AtprotoPersonalDataServer"
                and isinstance(s.get("serviceEndpoint"), str)
                and s["serviceEndpoint"]
            ):
                self._endpoint_cache[did] = s["serviceEndpoint"]
                return s["serviceEndpoint"]
        raise InvalidArgumentError(
            f"BlobSource: the DID document of {did} at {doc_url} names no "
            "AtprotoPersonalDataServer service"
        )

    @classmethod
    def from_refs(cls, refs: list, *, pds_endpoint: Optional[str] = None) -> "BlobSource":
        """A source from blob references with ``did`` and ``cid`` keys (a record's bare
        ``{"$type": "blob", "ref": {"$link": ...}}`` lacks the DID and is refused)."""
        refs = list(refs)
        if not refs:
            raise InvalidArgumentError("BlobSource.from_refs: refs is empty")
        out = []
        for ref in refs:
            if isinstance(ref, dict) and "did" in ref and "cid" in ref:
                out.append({"did": ref["did"], "cid": ref["cid"]})
            elif isinstance(ref, dict) and isinstance(ref.get("ref"), dict) and "$link" in ref["ref"]:
                raise InvalidArgumentError(
                    "BlobSource.from_refs: a record's blob reference has no 'did'; give "
                    "{'did': ..., 'cid': ...} dicts"
                )
            else:
                raise InvalidArgumentError(f"BlobSource.from_refs: not a blob reference: {ref!r}")
        return cls(blob_refs=out, pds_endpoint=pds_endpoint)


def _check_blob_ref(ref: Any) -> None:
    if not (isinstance(ref, dict) and isinstance(ref.get("did"), str) and isinstance(ref.get("cid"), str)):
        raise InvalidArgumentError(
            f"BlobSource: each blob reference must be a dict with str 'did' and 'cid', got {ref!r}"
        )
    if not ref["did"].startswith("did:") or "/" in ref["did"]:
        raise InvalidArgumentError(f"BlobSource: {ref['did']!r} is not a DID")
    if not ref["cid"].isalnum():
        raise InvalidArgumentError(f"BlobSource: {ref['cid']!r} is not a CID")


def dataset_source(source: Any) -> Any:
    """The core dataset ``Dataset(source)`` reads for a source object: the core's own reader
    for ``URLSource`` and ``S3Source``, else the streams of the object's ``open_shard`` for
    each id of its ``list_shards()``. Anything without those two methods is a ``TypeError``
    naming what a source needs."""
    if isinstance(source, _CoreBacked):
        return source._core_dataset()
    missing = [m for m in ("list_shards", "open_shard") if not callable(getattr(source, m, None))]
    if missing:
        raise TypeError(
            "Dataset source must be a path or URL pattern (str), or a data source with "
            f"list_shards() and open_shard(id) (URLSource, S3Source, BlobSource); got "
            f"{type(source).__name__}, which lacks {' and '.join(m + '()' for m in missing)}"
        )
    ids = source.list_shards()
    if isinstance(ids, str):
        raise TypeError(
            f"{type(source).__name__}.list_shards() returned a str; it must return a list of "
            "shard ids"
        )
    ids = list(ids)
    bad = [i for i in ids if not isinstance(i, str)]
    if bad:
        raise TypeError(
            f"{type(source).__name__}.list_shards() returned {bad[0]!r}; shard ids must be str"
        )
    return _core.Dataset.over_streams(source, ids)


__all__ = ["DataSource", "URLSource", "S3Source", "BlobSource", "dataset_source"]
