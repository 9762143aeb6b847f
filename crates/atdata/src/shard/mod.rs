//! Shards: the WebDataset tar files that hold a dataset's samples (docs/FORMAT.md section 3).
//!
//! This module owns the tar layer and nothing above it: [`ShardWriter`] turns msgpack sample
//! bytes into deterministic tar shards, hashed while written and staged in temp files that
//! [`StagedShard::publish`] renames into place atomically without clobbering; [`ShardReader`]
//! streams any POSIX/GNU/PAX tar (the Python writer's included), plain or gzip-compressed, back
//! into [`RawSample`]s by the WebDataset grouping rule, treating its input as hostile;
//! [`open_shard_file`] is the one way shard files are opened for reading; [`expand`] turns brace patterns,
//! globs and directories into shard lists. It does not decode samples (that is `codec`), decide
//! where shards live (`store`) or iterate datasets (`dataset`).
//!
//! Why a module of its own: shard bytes are where content addressing starts (a shard's sha256
//! feeds the dataset CID, so writing must be byte-deterministic) and where untrusted files enter
//! (so reading must never panic or over-allocate, and must say where the damage is).

mod reader;
mod tar_header;
mod urls;
mod writer;

pub(crate) use reader::not_a_regular_file;
pub use reader::{open_shard_file, read_shard_bytes, RawSample, ShardReader};
pub use tar_header::MAX_MEMBER_SIZE;
pub use urls::{
    expand, expand_braces, local_path, MAX_BRACE_DEPTH, MAX_EXPANDED_BYTES, MAX_EXPANSIONS,
};
pub(crate) use urls::{scheme_of, without_password};
pub use writer::{
    sample_key, stage_shards, try_write_shards, write_shards, write_shards_at, PublishedShard,
    ShardNamePattern, ShardOptions, ShardWriter, StagedShard, StagingCopy,
};
