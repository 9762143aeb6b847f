"""JSON form of sample values, shared by py07_make_fixtures.py and py07_read.py.

Both scripts must print values the same way so that a test can compare what the real atdata 0.7
decoded with what a fixture sidecar (or our own writer) says the values are.

Value -> JSON:
  str, int (any size), float, bool, None  -> the JSON scalar (floats are finite in our fixtures)
  list                                     -> JSON list, items converted recursively
  bytes                                    -> {"$type": "bytes", "hex": "0a0b..."}
  numpy array                              -> {"$type": "ndarray", "dtype": "<f4", "shape": [2, 3],
                                               "data": [flat values in C order]}
  numpy scalar                             -> the Python scalar it holds

"dtype" is numpy's dtype.str (byte order + kind + item size: "<f4", "|u1", "|b1", "<i8"), which is
exactly the text the compact array encoding stores.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def to_json_value(v: Any) -> Any:
    """Converts one decoded field value to its JSON form (see module doc)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.ndarray):
        return {
            "$type": "ndarray",
            "dtype": v.dtype.str,
            "shape": list(v.shape),
            "data": v.reshape(-1).tolist(),
        }
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$type": "bytes", "hex": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json_value(x) for k, x in v.items()}
    raise TypeError(f"no JSON form for a value of type {type(v).__name__}")


def values_digest(samples: list[dict[str, Any]]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of a list of JSON-form samples."""
    text = json.dumps(samples, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()
