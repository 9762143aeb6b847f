//! `atdata schemas` and `atdata schema show`: the schema records of an index.

use anyhow::{anyhow, Result};
use serde_json::Value as Json;

use atdata::index::Index;
use atdata::{Error, Schema};

use crate::context::Paths;
use crate::json;
use crate::output::{truncate, Out};

/// Characters of the field list shown in the schema table.
const SHORT_FIELDS: usize = 60;
/// Characters of a description shown in the schema table.
const SHORT_DESCRIPTION: usize = 40;

/// Prints a schema's fields as an indented table: name, type, `optional`.
pub fn print_fields(out: &mut Out, schema: &Schema) -> Result<()> {
    let rows: Vec<Vec<String>> = schema
        .fields
        .iter()
        .map(|f| {
            vec![
                format!("  {}", f.name),
                f.ty.to_string(),
                if f.optional { "optional" } else { "" }.to_string(),
            ]
        })
        .collect();
    out.rows(&rows)
}

/// Runs `schemas`: every schema record, by name then version.
pub fn list(paths: &Paths, as_json: bool) -> Result<()> {
    let schemas = paths.open_existing()?.schemas()?;
    let mut out = Out::new();
    if as_json {
        out.json(&Json::from(
            schemas.iter().map(json::schema).collect::<Vec<_>>(),
        ))?;
        return out.flush();
    }
    if schemas.is_empty() {
        out.line(format!("no schemas in '{}'", paths.index_shown()))?;
        return out.flush();
    }
    let rows: Vec<Vec<String>> = schemas
        .iter()
        .map(|s| {
            let fields: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
            vec![
                s.name.clone(),
                s.version.clone(),
                truncate(&fields.join(", "), SHORT_FIELDS),
                s.description
                    .as_deref()
                    .map(|d| truncate(d.trim(), SHORT_DESCRIPTION))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    out.table(&["NAME", "VERSION", "FIELDS", "DESCRIPTION"], &rows)?;
    out.flush()
}

/// The schema a reference names: a schema reference (`atdata://local/schema/T@1.0.0`,
/// `T@1.0.0`, `T`) or a dataset reference (`@local/docs-v1`, `docs-v1`), whose schema is meant.
pub fn find(index: &Index, reference: &str) -> Result<Schema> {
    let r = reference.trim();
    if r.starts_with("atdata://") || r.starts_with("local://") {
        return Ok(index.get_schema(r)?);
    }
    let dataset = index.get(r).and_then(|e| index.get_schema(&e.schema_ref));
    match dataset {
        Ok(s) => Ok(s),
        Err(dataset_err) if !r.starts_with('@') => match index.get_schema(r) {
            Ok(s) => Ok(s),
            Err(Error::NotFound { what }) if matches!(dataset_err, Error::NotFound { .. }) => Err(
                anyhow!("'{r}' names neither a dataset nor a schema: {dataset_err}; {what}"),
            ),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Runs `schema show`: a schema of the index, by dataset or schema reference, or the schema
/// inferred from shard files (atdata 0.7's `schema show` took both).
pub fn show(index: &crate::IndexArgs, reference: &str, as_json: bool) -> Result<()> {
    let (_, schema) = crate::compat::schema_of(index, reference)?;
    let mut out = Out::new();
    if as_json {
        out.json(&json::schema(&schema))?;
        return out.flush();
    }
    out.line(format!("{}@{}", schema.name, schema.version))?;
    out.line(format!("  reference    {}", schema.reference()))?;
    if let Some(d) = &schema.description {
        out.line(format!("  description  {}", d.trim()))?;
    }
    if let Some(c) = &schema.created_at {
        out.line(format!("  created      {c}"))?;
    }
    out.line(format!("fields ({})", schema.fields.len()))?;
    print_fields(&mut out, &schema)?;
    out.flush()
}
