//! JSON forms of index entries, schemas and sample values for `--json` output.
//!
//! Field names follow the Python package where it has them (`name`, `cid`, `data_urls`,
//! `schema_ref`, `metadata`), so scripts written against either read the same keys.

use serde_json::{json, Value as Json};

use atdata::index::Entry;
use atdata::{Schema, Value};

/// An entry with everything the index knows about it.
pub fn entry(e: &Entry) -> Json {
    json!({
        "name": e.name,
        "version": e.version,
        "reference": e.reference(),
        "cid": e.cid,
        "schema_ref": e.schema_ref,
        "data_urls": e.data_urls().collect::<Vec<_>>(),
        "shards": e.shards.iter().map(|s| json!({
            "url": s.url,
            "sha256": s.sha256,
            "samples": s.samples,
            "bytes": s.bytes,
        })).collect::<Vec<_>>(),
        "num_samples": e.num_samples,
        "description": e.description,
        "tags": e.tags,
        "license": e.license,
        "metadata": e.metadata.as_ref().map_or(Json::Null, value),
        "created_at": e.created_at,
    })
}

/// A schema record as the index stores it (the JSON of docs/FORMAT.md section 5).
pub fn schema(s: &Schema) -> Json {
    serde_json::from_str(&s.to_json())
        .unwrap_or_else(|_| json!({ "name": s.name, "version": s.version }))
}

/// A dynamic value. Bytes become a hex string and arrays a summary (dtype, shape): JSON has no
/// faithful form for either, and the output is for reading, not for round trips.
pub fn value(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::from(s.as_str()),
        Value::Bytes(b) => Json::from(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        Value::Array(a) => json!({ "dtype": a.dtype().as_str(), "shape": a.shape() }),
        Value::List(items) => Json::from(items.iter().map(value).collect::<Vec<_>>()),
        Value::Map(pairs) => {
            Json::Object(pairs.iter().map(|(k, v)| (k.clone(), value(v))).collect())
        }
    }
}
