"""Content addressing and integrity checks, as atdata 0.7 exposes them: ``generate_cid``,
``verify_cid``, ``verify_checksums`` and ``ShardWriteResult``.

CIDs are computed by the Rust core (the same DAG-CBOR + sha2-256 CIDv1 recipe the index uses
for its entries), so a value gets the CID atdata 0.7 gives it; shard digests are computed by
the core's shard reader.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from . import _core

# URL schemes ``verify_checksums`` does not fetch (as in atdata 0.7): checking them would
# download whole shards from a server as a side effect of a local check.
_REMOTE_SCHEMES = ("s3://", "at://", "http://", "https://")


def generate_cid(data: Any) -> str:
    """The content identifier of ``data`` (CIDv1, DAG-CBOR, sha2-256, base32: ``bafyrei...``).

    ``data`` is what DAG-CBOR can hold: None, bool, int (-2**64 .. 2**64-1), float (finite),
    str, bytes, list, and dict with str keys, nested. The same value gives the same CID in
    atdata 0.7 and here (dict key order does not matter). Anything else (a tuple, a set, a
    numpy scalar, NaN) raises ``InvalidArgumentError`` (a ``ValueError``) saying where.
    """
    return _core.generate_cid(data)


def verify_cid(cid: str, data: Any) -> bool:
    """True when ``cid`` is the CID of ``data`` (see ``generate_cid``), False otherwise.

    Data that cannot be encoded raises as in ``generate_cid``: it has no CID to compare.
    """
    if not isinstance(cid, str):
        raise TypeError(f"verify_cid: cid must be a str, got {type(cid).__name__}")
    return generate_cid(data) == cid


class ShardWriteResult(list):
    """The shard URLs a store wrote, in order (it is a ``list[str]``), with ``checksums``:
    the sha256 hex digest of each shard by URL. atdata 0.7's stores return it from
    ``write_shards`` and its index keeps the digests to verify shards later."""

    checksums: dict

    def __init__(self, urls: Iterable[str], checksums: Mapping[str, str]) -> None:
        super().__init__(urls)
        self.checksums = dict(checksums)

    def __repr__(self) -> str:
        return f"ShardWriteResult({list(self)!r}, checksums={self.checksums!r})"


def _recorded_digests(entry: Any) -> dict:
    """``{url: sha256}`` an entry records: our entries keep one per shard (``shards``),
    entries atdata 0.7 wrote keep ``metadata["checksums"]``; both are read."""
    digests: dict = {}
    metadata = getattr(entry, "metadata", None)
    if isinstance(metadata, Mapping) and isinstance(metadata.get("checksums"), Mapping):
        digests.update(metadata["checksums"])
    for shard in getattr(entry, "shards", None) or ():
        if isinstance(shard, Mapping) and shard.get("sha256"):
            digests[shard["url"]] = shard["sha256"]
    return digests


def verify_checksums(entry: Any) -> dict:
    """Re-hashes every shard of an index entry and compares it with the digest the entry
    records. Returns ``{url: result}`` with ``"ok"``, ``"mismatch"``, ``"skipped"`` (no digest
    recorded, or a remote URL: ``s3://``, ``http(s)://``, ``at://`` are not downloaded) or
    ``"error:<message>"`` (the file could not be read), as atdata 0.7 does.

    ``entry`` is an ``IndexEntry`` (``Index.get_dataset``), a ``LocalDatasetEntry`` or any
    object with ``data_urls`` and, optionally, ``metadata["checksums"]``. For a whole
    dataset with sample counts and sizes checked too, use ``Index.verify(ref)``.
    """
    urls: Optional[list] = getattr(entry, "data_urls", None)
    if urls is None:
        raise TypeError(
            f"verify_checksums: expected an index entry (with data_urls), got "
            f"{type(entry).__name__}"
        )
    recorded = _recorded_digests(entry)
    results: dict = {}
    for url in urls:
        want = recorded.get(url)
        if want is None or url.startswith(_REMOTE_SCHEMES):
            results[url] = "skipped"
            continue
        try:
            got = _core.shard_sha256(url)
        except Exception as e:  # reported per shard, as 0.7 does: one bad file is one result
            results[url] = f"error:{e}"
            continue
        results[url] = "ok" if got == want else "mismatch"
    return results


__all__ = ["ShardWriteResult", "generate_cid", "verify_checksums", "verify_cid"]
