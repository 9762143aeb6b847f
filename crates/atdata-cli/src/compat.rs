//! The commands of atdata 0.7's `atdata` tool that ours lacked under those names: `version`,
//! `schema diff`, `diagnose`, and `infra` (which manages 0.7's docker containers and is
//! refused, exit status 2, saying what to use instead). 0.7's option spellings are aliases on
//! the commands themselves (`preview --limit`, `--db`), in `main.rs`.
//!
//! Schemas of shard files are inferred by the core ([`atdata::index::inspect_shards`], the
//! engine of `inspect` and `add`); schemas of datasets come from the index.

use std::fmt;

use anyhow::{anyhow, Context, Result};

use atdata::index::inspect_shards;
use atdata::shard::expand;
use atdata::Schema;

use crate::context::Paths;
use crate::output::Out;
use crate::target::{classify, Source};
use crate::IndexArgs;

/// An error that ends the command with `code` instead of 1: a command of 0.7 we do not
/// support (2), or a failure of `schema diff`, whose 1 means "different" (as `diff(1)`'s).
#[derive(Debug)]
pub struct Exit {
    /// The exit status.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Exit {}

/// The status of an unsupported command.
const UNSUPPORTED: u8 = 2;

fn unsupported(message: String) -> anyhow::Error {
    Exit {
        code: UNSUPPORTED,
        error: anyhow!(message),
    }
    .into()
}

/// Refuses an AT Protocol URI (`at://...`), which atdata 0.7's inspect, preview and schema
/// commands read from the network ("atmosphere") and this tool does not.
pub fn refuse_atproto(arg: &str) -> Result<()> {
    if arg
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("at://"))
    {
        return Err(unsupported(format!(
            "'{arg}' is an AT Protocol URI: this atdata does not read datasets from the AT \
             Protocol network. Fetch the shards (in Python, atdata.BlobSource reads blobs from \
             a PDS) and give their paths or URLs, or copy the dataset into an index \
             (`atdata add`)"
        )));
    }
    Ok(())
}

/// Runs `version`: the same line as `--version`.
pub fn version() -> Result<()> {
    let mut out = Out::new();
    out.line(format!("atdata {}", env!("CARGO_PKG_VERSION")))?;
    out.flush()
}

/// Runs `infra ...`: refused (see the module docs).
pub fn infra(args: &[String]) -> Result<()> {
    let what = if args.is_empty() {
        "atdata infra".to_string()
    } else {
        format!("atdata infra {}", args.join(" "))
    };
    Err(unsupported(format!(
        "`{what}` is not supported: atdata 0.7 used it to start and stop its docker \
         containers (Redis, MinIO), and this atdata manages no infrastructure. Run the servers \
         you want yourself (Redis, PostgreSQL, or any S3-compatible server such as MinIO), \
         then pass --index redis://HOST:PORT or --index postgresql://USER@HOST/DB and \
         --store s3://BUCKET/PREFIX (with AWS_ENDPOINT_URL naming the S3 server), or set \
         ATDATA_INDEX and ATDATA_STORE; `atdata diagnose` checks that they answer"
    )))
}

/// The schema an argument names: shard files (inferred from every sample), or a dataset or
/// schema of the index (`schema show`'s rule), told apart by [`crate::target`].
pub fn schema_of(index: &IndexArgs, arg: &str) -> Result<(String, Schema)> {
    refuse_atproto(arg)?;
    // Schema references are URLs of the index, not shard files.
    let schema_ref = ["atdata://", "local://"].iter().any(|p| arg.starts_with(p));
    match classify(arg, false) {
        _ if schema_ref => {
            let index = Paths::resolve(index)?.open_existing()?;
            let schema = crate::schemas::find(&index, arg)?;
            Ok((format!("{}@{}", schema.name, schema.version), schema))
        }
        Source::Files(target) => {
            let urls = expand(target).with_context(|| format!("cannot open '{target}'"))?;
            let found = inspect_shards(&urls, &atdata::NoProgress);
            if let Some(e) = found.errors().next() {
                return Err(anyhow!("{e}"));
            }
            let schema = found
                .inference
                .schema("Sample")
                .with_context(|| format!("shards '{target}'"))?;
            Ok((format!("shards {target} (inferred)"), schema))
        }
        Source::Dataset(reference) => {
            let index = Paths::resolve(index)?.open_existing()?;
            let schema = crate::schemas::find(&index, reference)?;
            Ok((format!("{}@{}", schema.name, schema.version), schema))
        }
    }
}

/// A field's type as `schema diff` prints it.
fn field_text(schema: &Schema, name: &str) -> String {
    match schema.field(name) {
        Some(f) if f.optional => format!("{} (optional)", f.ty),
        Some(f) => f.ty.to_string(),
        None => String::new(),
    }
}

/// Runs `schema diff A B`: fields added in B, removed from A, and changed (type or
/// optionality). True when the schemas have the same fields; errors exit with 2.
pub fn schema_diff(index: &IndexArgs, a: &str, b: &str) -> Result<bool> {
    let resolved = schema_of(index, a).and_then(|sa| Ok((sa, schema_of(index, b)?)));
    let ((_, sa), (_, sb)) = resolved.map_err(|error| match error.downcast::<Exit>() {
        Ok(exit) => anyhow::Error::from(exit),
        Err(error) => Exit { code: 2, error }.into(),
    })?;
    let names = |s: &Schema| s.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    let added: Vec<String> = names(&sb)
        .into_iter()
        .filter(|n| sa.field(n).is_none())
        .collect();
    let removed: Vec<String> = names(&sa)
        .into_iter()
        .filter(|n| sb.field(n).is_none())
        .collect();
    let changed: Vec<String> = names(&sa)
        .into_iter()
        .filter(|n| sb.field(n).is_some() && field_text(&sa, n) != field_text(&sb, n))
        .collect();
    let mut out = Out::new();
    if added.is_empty() && removed.is_empty() && changed.is_empty() {
        out.line("Schemas are identical.")?;
        out.flush()?;
        return Ok(true);
    }
    if !added.is_empty() {
        out.line("Added:")?;
        for n in &added {
            out.line(format!("  + {n}: {}", field_text(&sb, n)))?;
        }
    }
    if !removed.is_empty() {
        out.line("Removed:")?;
        for n in &removed {
            out.line(format!("  - {n}: {}", field_text(&sa, n)))?;
        }
    }
    if !changed.is_empty() {
        out.line("Changed:")?;
        for n in &changed {
            out.line(format!(
                "  ~ {n}: {} -> {}",
                field_text(&sa, n),
                field_text(&sb, n)
            ))?;
        }
    }
    out.flush()?;
    Ok(false)
}

/// Runs `diagnose`: opens the index (to read only) and the store, and says for each whether
/// it answers. `host`/`port` name a Redis index as 0.7's `diagnose --host --port` did. True
/// when both answer.
pub fn diagnose(index: &IndexArgs, host: Option<String>, port: Option<u16>) -> Result<bool> {
    let mut args = index.clone();
    if host.is_some() || port.is_some() {
        if args.index.is_some() {
            return Err(anyhow!(
                "give either --index or --host/--port (a Redis index), not both"
            ));
        }
        let host = host.unwrap_or_else(|| "localhost".to_string());
        args.index = Some(format!("redis://{host}:{}", port.unwrap_or(6379)));
    }
    let paths = Paths::resolve(&args)?;
    let mut out = Out::new();
    let mut ok = true;
    match paths.open_existing() {
        Ok(index) => match (index.names(), index.schemas()) {
            (Ok(names), Ok(schemas)) => out.line(format!(
                "✓ index {}: {} dataset{}, {} schema{}",
                paths.index_shown(),
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                schemas.len(),
                if schemas.len() == 1 { "" } else { "s" },
            ))?,
            (Err(e), _) | (_, Err(e)) => {
                ok = false;
                out.line(format!("✗ index {}: {e}", paths.index_shown()))?
            }
        },
        Err(e) => {
            ok = false;
            out.line(format!("✗ index: {e:#}"))?
        }
    }
    let local_dir = match atdata::store::StoreLocation::parse(&paths.store)? {
        atdata::store::StoreLocation::Local(dir) => Some(std::path::PathBuf::from(dir)),
        _ => None,
    };
    match atdata::store::open_store_location_for_reading(&paths.store) {
        // A local store is made at the first write: not there yet is not a fault.
        Err(_) if local_dir.as_ref().is_some_and(|d| !d.exists()) => out.line(format!(
            "✓ store {}: not created yet (made at the first write)",
            paths.store_shown()
        ))?,
        Ok(store) => match store.owner() {
            Ok(owner) => out.line(format!(
                "✓ store {}: {}",
                paths.store_shown(),
                match owner {
                    Some(o) => format!("owned by index {}", o.index_id),
                    None => "no owner recorded yet".to_string(),
                }
            ))?,
            Err(e) => {
                ok = false;
                out.line(format!("✗ store {}: {e}", paths.store_shown()))?
            }
        },
        Err(e) => {
            ok = false;
            out.line(format!("✗ store {}: {e}", paths.store_shown()))?
        }
    }
    out.flush()?;
    Ok(ok)
}
