//! The `atdata` command-line tool: inspect shard files, and list, show, verify, preview, add
//! and copy datasets of an index.
//!
//! This file holds the command-line definitions and the dispatch; each command group lives in
//! its own module. Every failure ends in one `error: ...` line on stderr and a non-zero exit
//! status (2 for usage errors, as clap does, 1 for everything else).
#![forbid(unsafe_code)]

mod compat;
mod context;
mod copy;
mod datasets;
mod gc;
mod inspect;
mod json;
mod output;
mod preview;
mod progress;
mod schemas;
mod target;
mod values;
mod verify;

// mimalloc: the entries, batches and strings we build are many small allocations, which it
// serves two to three times faster than glibc malloc (index listing 48 ms -> 20 ms for 10k).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Typed, versioned, content-addressed ML datasets.
#[derive(Debug, Parser)]
#[command(name = "atdata", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the index database and the data store are.
#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// Index: a SQLite file, postgresql://USER[:PASSWORD]@HOST[:PORT]/DB or
    /// redis://[:PASSWORD@]HOST[:PORT][/DB] [default: $ATDATA_INDEX, else
    /// $ATDATA_HOME/index.db, $ATDATA_HOME defaulting to ~/.atdata]. `--db` is atdata
    /// 0.7's name for it.
    #[arg(long, visible_alias = "db", value_name = "URL|PATH")]
    pub index: Option<String>,
    /// Data store: a directory, or s3://BUCKET/PREFIX (builds with the `s3` feature)
    /// [default: $ATDATA_STORE, else $ATDATA_HOME/data]
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub store: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Summarise shard files: shards, sample count, inferred field types.
    Inspect {
        /// A shard path, brace pattern (`data-{000000..000009}.tar`), glob, directory or
        /// file:// URL. A path that exists is read as it is, even with pattern characters.
        target: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the datasets of the index (every version).
    Ls {
        #[command(flatten)]
        index: IndexArgs,
        /// Print a JSON list instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dataset in full: schema, shards with digests, metadata.
    Show {
        /// `@local/name`, `@local/name@version`, `@local/name@cid` or a bare name.
        reference: String,
        #[command(flatten)]
        index: IndexArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the schemas stored in the index.
    Schemas {
        #[command(flatten)]
        index: IndexArgs,
        /// Print a JSON list instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Schema commands.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Recompute the digests of a dataset's shards and compare them with the index.
    Verify {
        /// `@local/name`, `@local/name@version`, `@local/name@cid` or a bare name.
        reference: String,
        #[command(flatten)]
        index: IndexArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete shard files of the store that no index entry refers to.
    ///
    /// Only from a store this index owns: a store records the index it belongs to when that
    /// index first writes to it (ROOT/.atdata-store). gc refuses, deleting nothing, when the
    /// index file does not exist or is not an atdata index, when the store records another
    /// index or none (written by atdata 0.7 or an earlier build; see --claim), when no entry
    /// of the index references any shard of the store (see --force), and when a row of the
    /// index cannot be read. A dry run reports the same refusals.
    Gc {
        #[command(flatten)]
        index: IndexArgs,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Record this index as the store's owner first: for a store written by atdata 0.7 or
        /// an earlier build (no owner recorded), or one whose index was rebuilt.
        #[arg(long)]
        claim: bool,
        /// Collect even when no entry of the index references any shard of the store.
        #[arg(long)]
        force: bool,
        /// Keep unreferenced files younger than this (`0`, `90s`, `15m`, `2h`, `1d`): they may
        /// belong to a write in progress. Shorter than a write takes is unsafe for that write
        /// only (it fails and can be retried); committed data is never at risk.
        #[arg(long, default_value = "15m", value_parser = gc::parse_grace)]
        grace: std::time::Duration,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the first samples of a dataset (or of shard files).
    ///
    /// How the argument is read (by its text, never by what files exist): with --files, or with
    /// a URL scheme, a '/', or ending in .tar/.tar.gz/.tgz, it is shard files (a path, brace
    /// pattern, glob or directory); starting with '@' it is a dataset reference; any other word
    /// is a dataset name of the local repository (`docs`, `docs@2`, `*`). Write `./shards` or
    /// --files for a folder with a bare name, `@local/x.tar` for a dataset whose name ends in .tar.
    Preview {
        /// `@local/name[@version]`, a bare dataset name, or shard files (see above).
        reference: String,
        /// Number of samples (`--limit` is atdata 0.7's name).
        #[arg(
            short = 'n',
            long = "num",
            visible_alias = "limit",
            default_value_t = 5
        )]
        n: usize,
        /// Read the argument as shard files (path, pattern or directory), whatever it looks like.
        #[arg(long)]
        files: bool,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Add existing shard files to the index as a new version of NAME.
    Add {
        /// Dataset name.
        name: String,
        /// A shard path, brace pattern, glob or directory.
        target: String,
        /// Copy the shards into the store instead of indexing them where they are.
        #[arg(long)]
        copy: bool,
        /// Free-text description.
        #[arg(long)]
        description: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[command(flatten)]
        index: IndexArgs,
        /// Print the new entry as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy a dataset into another index and store, shards byte for byte.
    ///
    /// Reads the dataset from --index/--store (or ATDATA_INDEX/ATDATA_STORE), writes its shards
    /// into --to-store and commits it in --to-index, like `aws s3 cp SRC DEST` for one dataset:
    ///
    ///   atdata copy mnist@1 --to-index postgresql://lab-db/atdata --to-store s3://lab/datasets
    ///
    /// Every shard is checked against the digest the source recorded before anything is
    /// committed: a damaged shard fails the copy, naming it, and nothing is committed (shards
    /// already published are left for gc). The copy keeps the dataset's CID (same name, schema
    /// and bytes), so copying again does nothing. The destination numbers its own versions.
    /// Entries atdata 0.7 wrote without checksums get digests computed on the way (and a new
    /// CID: 0.7's covers shard paths), which the output says.
    Copy {
        /// The dataset: `name`, `name@version`, `@repo/name[@version|@cid]` (newest version
        /// when none is given).
        source: String,
        /// Destination index: a SQLite file (created if missing), postgresql://... or
        /// redis://...
        #[arg(long, value_name = "URL|PATH")]
        to_index: String,
        /// Destination store: a directory, or s3://BUCKET/PREFIX [default: $ATDATA_HOME/data]
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        to_store: Option<String>,
        /// Copy every version of the name, oldest first, in one commit.
        #[arg(long)]
        all_versions: bool,
        /// Name of the copy (gives it another CID: the CID covers the name).
        #[arg(long = "as", value_name = "NEW_NAME")]
        rename: Option<String>,
        #[command(flatten)]
        index: IndexArgs,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the version (as --version does).
    Version,
    /// Check that the index and the data store answer (atdata 0.7's check of its Redis).
    ///
    /// Opens the index to read only, counting its datasets and schemas, and the store,
    /// reading its owner record; one line each, exit status 1 when either fails.
    Diagnose {
        /// Check the Redis index at this host (atdata 0.7's option; port 6379 unless --port).
        #[arg(long)]
        host: Option<String>,
        /// Check the Redis index at this port (host localhost unless --host).
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Not supported: atdata 0.7's docker containers (exits with status 2, saying what to use).
    Infra {
        /// atdata 0.7's `up`, `down` or `status` and their options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Show one schema: by dataset reference, by `Name` / `Name@version`, or inferred from
    /// shard files (a path, pattern or directory, told apart as `preview` does).
    Show {
        /// A dataset reference (`@local/docs-v1`), a schema name (`TextSample@1.0.0`) or shard
        /// files (`./shards`, `data-{000000..000009}.tar`).
        reference: String,
        #[command(flatten)]
        index: IndexArgs,
        /// Print the schema record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare two schemas: fields added, removed and changed from A to B.
    ///
    /// Each side is a dataset, a schema or shard files, as for `schema show`. Exit status 0
    /// when the fields are the same, 1 when they differ, 2 on an error (as `diff` does).
    Diff {
        /// The first dataset, schema or shard files.
        a: String,
        /// The second.
        b: String,
        #[command(flatten)]
        index: IndexArgs,
    },
}

/// Runs a command; its exit status is 0 unless the command says otherwise.
fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    use context::Paths;
    let status = |ok: bool| {
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    };
    let done: anyhow::Result<()> = match command {
        Command::Version => compat::version(),
        Command::Infra { args } => compat::infra(&args),
        Command::Diagnose { host, port, index } => {
            return compat::diagnose(&index, host, port).map(status)
        }
        Command::Schema {
            command: SchemaCommand::Diff { a, b, index },
        } => return compat::schema_diff(&index, &a, &b).map(status),
        Command::Inspect { target, json } => {
            compat::refuse_atproto(&target)?;
            inspect::run(target::files_only(&target, "inspect")?, json)
        }
        Command::Ls { index, json } => datasets::ls(&Paths::resolve(&index)?, json),
        Command::Show {
            reference,
            index,
            json,
        } => datasets::show(&Paths::resolve(&index)?, &reference, json),
        Command::Schemas { index, json } => schemas::list(&Paths::resolve(&index)?, json),
        Command::Schema {
            command:
                SchemaCommand::Show {
                    reference,
                    index,
                    json,
                },
        } => schemas::show(&index, &reference, json),
        Command::Verify {
            reference,
            index,
            json,
        } => verify::run(&Paths::resolve(&index)?, &reference, json),
        Command::Gc {
            index,
            dry_run,
            claim,
            force,
            grace,
            json,
        } => {
            let opts = atdata::index::GcOptions {
                dry_run,
                grace,
                claim,
                force,
            };
            gc::run(&Paths::resolve(&index)?, &opts, json)
        }
        Command::Preview {
            reference,
            n,
            files,
            index,
        } => {
            compat::refuse_atproto(&reference)?;
            preview::run(&index, &reference, n, files)
        }
        Command::Copy {
            source,
            to_index,
            to_store,
            all_versions,
            rename,
            index,
            json,
        } => {
            let dest = copy::Dest::resolve(to_index, to_store)?;
            let opts = atdata::index::CopyOptions {
                all_versions,
                rename,
                repo: None,
            };
            copy::run(&Paths::resolve(&index)?, &source, &dest, &opts, json)
        }
        Command::Add {
            name,
            target,
            copy,
            description,
            tags,
            index,
            json,
        } => {
            let opts = atdata::index::InsertOptions {
                copy,
                description,
                tags,
                ..Default::default()
            };
            let target = target::files_only(&target, "add")?;
            // The one name rule, before any shard is read (`@repo/name` is checked by the core).
            if !name.starts_with('@') {
                atdata::index::reference::check_dataset_name(&name)?;
            }
            datasets::add(&Paths::resolve(&index)?, &name, target, opts, json)
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// True when the error is a closed stdout (`atdata ls | head -1`): not worth a message.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stderr leaves nothing to report to; the exit status still says it.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            match e.downcast_ref::<compat::Exit>() {
                Some(exit) => ExitCode::from(exit.code),
                None => ExitCode::FAILURE,
            }
        }
    }
}
