//! [`S3DataStore`]: shards as objects of an S3-compatible bucket (feature `s3`), in the layout
//! of the local store and of Python atdata 0.7's `S3DataStore`:
//! `s3://{bucket}/[{prefix}/]{name}/data--{tag}--{000000}.tar`, recorded by that URL.
//! [`S3Source`] reads `s3://` URLs of any bucket the credentials can read, for shards no S3
//! store owns.
//!
//! **Configuration** ([`S3Options`]): an endpoint (any S3-compatible server; plain `http://`
//! is allowed for it, e.g. a server on loopback), a region, and credentials, given explicitly,
//! or from the standard AWS environment ([`S3Options::from_env`]: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` / `AWS_DEFAULT_REGION`,
//! `AWS_ENDPOINT_URL` and 0.7's `AWS_ENDPOINT`; without keys, the rest of the AWS credential
//! chain `object_store` knows: web identity, container and instance credentials), or from
//! 0.7's credentials dict ([`S3Options::from_credentials`]).
//!
//! **Publishing.** Shards are staged in a local directory of the store (see
//! [`S3Options::staging_dir`]), then uploaded. A shard below
//! [`S3Options::multipart_threshold`] is one PUT with `If-None-Match: *` (a conditional put:
//! it never replaces an object, and S3 makes it visible only whole). A larger one is a
//! multipart upload ([`S3Options::part_size`] parts, [`S3Options::parts_in_flight`] at once),
//! which S3 also makes visible only when completed, and which is aborted on failure. Before a
//! multipart upload the store checks that nothing is at the key: `object_store` 0.14 cannot
//! complete an upload conditionally, so two writers completing *different* content under one
//! name at the same moment (the same dataset, the same 32-bit content tag and shard index)
//! could replace each other; a single PUT has no such window.
//!
//! **Same content, no second copy.** When an object is already at the key, its size is
//! compared, then its sha256: the one recorded in the object's metadata
//! (`x-amz-meta-atdata-sha256`, which this store writes on every upload), or, for an object
//! without it (written by 0.7 or another tool), the digest of its bytes, streamed. Same size
//! and digest: publishing succeeds and refreshes the object's modification time by copying it
//! onto itself with its metadata replaced (S3's only way to set `LastModified`); a different
//! one: [`Error::AlreadyExists`], the object left alone. The refresh is best effort (S3 cannot
//! copy objects above 5 GiB in one request): a failed one leaves the index's write path
//! safe, since it checks under the index lock that every shard is still there before
//! committing and publishes it again if gc took it.
//!
//! **Requests** are retried with exponential backoff by `object_store` ([`RetryPolicy`]:
//! connection failures, 5xx and throttling; up to `max_retries` times within `retry_timeout`),
//! and every failure left is an [`Error::Io`] naming the URL and the endpoint. Reading follows
//! `store::object` (streamed ranged GETs, bounded memory).

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, GetOptions, ObjectStore, ObjectStoreExt,
    PutMode, PutMultipartOptions, PutOptions, RetryConfig, WriteMultipart,
};

use crate::error::{Error, Result};
use crate::shard::StagedShard;
use crate::store::local::{inside_dir, list_staging, staging_in_use, OWNER_FILE};
use crate::store::object::{
    object_sha256, open_stream, store_error, unsupported_scheme, Located, ReadTuning, Runtime,
};
use crate::store::{
    check_dataset_name, is_shard_file_name, DataStore, OpenedShard, ShardSource, StoreOwner,
    StoredFile,
};

/// The user metadata key holding a shard's full sha256 (`x-amz-meta-atdata-sha256`).
const SHA256_KEY: &str = "atdata-sha256";

/// What a URL this module reads looks like, for refusals.
const READS: &str = "an S3 source reads s3://bucket/key URLs";

/// How requests are retried and timed out (`object_store`'s `RetryConfig` and client timeouts,
/// set explicitly rather than left to that crate's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one request at most (0: none).
    pub max_retries: usize,
    /// No retry starts after this long since the first attempt.
    pub retry_timeout: Duration,
    /// The first backoff; each next one doubles, up to `max_backoff`.
    pub init_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest one request (a part or a ranged GET) may take.
    pub request_timeout: Duration,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 10 retries within 3 minutes, backoff 100 ms doubling to 15 s; requests may take 5
    /// minutes (an 8 MiB part on a slow link), connections 10 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            request_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.init_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }

    /// Client options for `endpoint` (plain HTTP allowed when the endpoint is `http://`).
    pub(crate) fn client_options(&self, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_timeout(self.request_timeout)
            .with_connect_timeout(self.connect_timeout)
            .with_allow_http(allow_http)
    }
}

/// Where an S3 store or source connects, with which credentials, and how it moves bytes.
#[derive(Clone, Default)]
pub struct S3Options {
    /// The endpoint URL of an S3-compatible server (`http://127.0.0.1:9000`,
    /// `https://<account>.r2.cloudflarestorage.com`); `None` for AWS S3 itself. `http://` is
    /// allowed (plain HTTP is then used).
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when unset).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// A session token, for temporary credentials.
    pub session_token: Option<String>,
    /// Retries and timeouts.
    pub retry: RetryPolicy,
    /// How objects are streamed.
    pub read: ReadTuning,
    /// Shards this size or larger are uploaded in parts (default 64 MiB).
    pub multipart_threshold: u64,
    /// The size of each uploaded part (default 8 MiB; S3 wants at least 5 MiB but for the last).
    pub part_size: usize,
    /// Parts uploaded at once (default 4).
    pub parts_in_flight: usize,
    /// The local directory where the store stages shards; default:
    /// `$ATDATA_HOME/s3-staging/<id>` (`<id>` from endpoint, bucket and prefix), or the
    /// system temporary directory when there is no atdata home.
    pub staging_dir: Option<PathBuf>,
    /// Whether to fill in credentials from the rest of the AWS chain when no keys are given.
    credential_chain: bool,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

/// The keys of Python atdata 0.7's credentials dict that [`S3Options::from_credentials`]
/// takes (`AWS_SESSION_TOKEN` and `AWS_ENDPOINT_URL` too).
pub const CREDENTIAL_KEYS: [&str; 6] = [
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
];

impl S3Options {
    /// Options with nothing set: AWS S3, `us-east-1`, no credentials, default tuning.
    pub fn new() -> Self {
        S3Options {
            multipart_threshold: 64 << 20,
            part_size: 8 << 20,
            parts_in_flight: 4,
            ..Default::default()
        }
    }

    /// Options from the standard AWS environment (see the module docs); an empty variable
    /// counts as unset.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut o = Self::new();
        o.endpoint = get("AWS_ENDPOINT_URL_S3")
            .or_else(|| get("AWS_ENDPOINT_URL"))
            .or_else(|| get("AWS_ENDPOINT"));
        o.region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        o.access_key_id = get("AWS_ACCESS_KEY_ID");
        o.secret_access_key = get("AWS_SECRET_ACCESS_KEY");
        o.session_token = get("AWS_SESSION_TOKEN");
        o.credential_chain = true;
        o
    }

    /// Options from Python atdata 0.7's credentials dict: keys `AWS_ENDPOINT`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (and `AWS_SESSION_TOKEN`,
    /// `AWS_ENDPOINT_URL`); any other key is refused by name, and so is a key id without its
    /// secret or the reverse.
    pub fn from_credentials<'a>(
        credentials: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self> {
        let mut o = Self::new();
        for (k, v) in credentials {
            let v = Some(v.to_string()).filter(|v| !v.trim().is_empty());
            match k {
                "AWS_ENDPOINT" | "AWS_ENDPOINT_URL" => o.endpoint = v,
                "AWS_ACCESS_KEY_ID" => o.access_key_id = v,
                "AWS_SECRET_ACCESS_KEY" => o.secret_access_key = v,
                "AWS_SESSION_TOKEN" => o.session_token = v,
                "AWS_REGION" => o.region = v,
                other => {
                    return Err(Error::invalid(format!(
                        "unknown S3 credentials key '{other}': expected {}",
                        CREDENTIAL_KEYS.join(", ")
                    )))
                }
            }
        }
        if o.access_key_id.is_some() != o.secret_access_key.is_some() {
            return Err(Error::invalid(
                "S3 credentials need both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ));
        }
        Ok(o)
    }

    /// Options from a `.env` file as Python atdata 0.7 takes it (`S3DataStore(credentials=
    /// "s3.env")`): `KEY=VALUE` lines (an optional `export `, quotes around the value, `#`
    /// comments, blank lines). The keys of [`CREDENTIAL_KEYS`] are used and any other key is
    /// ignored, as 0.7 ignores them; a line that is not `KEY=VALUE` is an error naming the file
    /// and the line, and so is a file without both keys (0.7 also demands `AWS_ENDPOINT`; we
    /// let it default to AWS S3).
    pub fn from_env_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("S3 credentials file {}", path.display()), e))?;
        let mut pairs = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((k, v)) = line.split_once('=') else {
                return Err(Error::invalid(format!(
                    "S3 credentials file {} line {}: expected KEY=VALUE",
                    path.display(),
                    n + 1
                )));
            };
            let v = v.trim();
            let v = [('"', '"'), ('\'', '\'')]
                .iter()
                .find_map(|(a, b)| v.strip_prefix(*a).and_then(|v| v.strip_suffix(*b)))
                .unwrap_or(v);
            let k = k.trim();
            if CREDENTIAL_KEYS.contains(&k) {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        let o = Self::from_credentials(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| Error::invalid(format!("S3 credentials file {}: {e}", path.display())))?;
        if o.access_key_id.is_none() {
            return Err(Error::invalid(format!(
                "S3 credentials file {} holds no AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
                path.display()
            )));
        }
        Ok(o)
    }

    /// Sets the endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the access key id and secret.
    pub fn with_keys(
        mut self,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret.into());
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the multipart threshold and part size (parts below 5 MiB are refused by S3 but
    /// for the last one).
    pub fn with_multipart(mut self, threshold: u64, part_size: usize) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size;
        self
    }

    /// Sets the local staging directory.
    pub fn with_staging_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging_dir = Some(dir.into());
        self
    }

    /// Where requests go, for messages.
    pub(crate) fn endpoint_text(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("AWS S3 ({})", self.region.as_deref().unwrap_or("us-east-1")),
        }
    }

    fn check(&self) -> Result<()> {
        if let Some(e) = &self.endpoint {
            let lower = e.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                return Err(Error::invalid(format!(
                    "S3 endpoint '{e}' must be an http:// or https:// URL"
                )));
            }
        }
        if self.part_size == 0 || self.parts_in_flight == 0 {
            return Err(Error::invalid(
                "S3 part size and parts in flight must be positive",
            ));
        }
        Ok(())
    }

    /// The client of `bucket`, with `headers` on every request.
    fn build(
        &self,
        bucket: &str,
        headers: Option<::http::HeaderMap>,
    ) -> Result<Arc<dyn ObjectStore>> {
        let has_keys = self.access_key_id.is_some();
        let mut b = if self.credential_chain && !has_keys {
            AmazonS3Builder::from_env()
        } else {
            AmazonS3Builder::new()
        };
        let allow_http = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
        let mut client = self.retry.client_options(allow_http);
        if let Some(h) = headers {
            client = client.with_default_headers(h);
        }
        b = b
            .with_bucket_name(bucket)
            .with_region(self.region.as_deref().unwrap_or("us-east-1"))
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(self.retry.retry_config())
            .with_client_options(client);
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        if let (Some(k), Some(s)) = (&self.access_key_id, &self.secret_access_key) {
            b = b.with_access_key_id(k).with_secret_access_key(s);
            if let Some(t) = &self.session_token {
                b = b.with_token(t);
            }
        }
        let built = b.build().map_err(|e| {
            Error::invalid(format!(
                "S3 client for bucket '{bucket}' at {}: {e}",
                self.endpoint_text()
            ))
        })?;
        Ok(Arc::new(built))
    }
}

/// `s3://bucket/key` split into the bucket and the key.
fn parse_s3_url(url: &str) -> Result<(&str, ObjectPath)> {
    let scheme = crate::shard::scheme_of(url);
    if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("s3")) {
        return Err(unsupported_scheme(url, READS));
    }
    let rest = url.get(5..).unwrap_or_default();
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || key.is_empty() {
        return Err(Error::invalid(format!(
            "S3 URL '{url}' must name a bucket and a key: s3://bucket/key"
        )));
    }
    let path = ObjectPath::parse(key)
        .map_err(|e| Error::invalid(format!("S3 URL '{url}' has a bad key: {e}")))?;
    Ok((bucket, path))
}

/// Checks, without I/O, that `url` is an `s3://bucket/key` URL.
pub(crate) fn check_s3_url(url: &str) -> Result<()> {
    parse_s3_url(url).map(|_| ())
}

/// Reads `s3://` URLs of any bucket the options' credentials can read (one client per bucket,
/// made at first use); the read side of [`S3DataStore`], and on its own the reader of `s3://`
/// shards no store owns ([`S3Source::from_env`]).
pub struct S3Source {
    rt: Arc<Runtime>,
    options: S3Options,
    clients: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl fmt::Debug for S3Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Source")
            .field("endpoint", &self.options.endpoint_text())
            .finish_non_exhaustive()
    }
}

impl S3Source {
    /// A source with `options`.
    pub fn new(options: S3Options) -> Result<Self> {
        options.check()?;
        Ok(S3Source {
            rt: Runtime::new("s3")?,
            options,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// A source configured from the AWS environment ([`S3Options::from_env`]).
    pub fn from_env() -> Result<Self> {
        Self::new(S3Options::from_env())
    }

    fn client(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Error::invalid("S3 client cache poisoned by a panic"))?;
        if let Some(c) = clients.get(bucket) {
            return Ok(c.clone());
        }
        let c = self.options.build(bucket, None)?;
        clients.insert(bucket.to_string(), c.clone());
        Ok(c)
    }

    fn locate(&self, url: &str) -> Result<Located> {
        let (bucket, path) = parse_s3_url(url)?;
        Ok(Located {
            store: self.client(bucket)?,
            path,
            url: url.to_string(),
            endpoint: format!("bucket '{bucket}' at {}", self.options.endpoint_text()),
        })
    }
}

impl ShardSource for S3Source {
    fn check_url(&self, url: &str) -> Result<()> {
        parse_s3_url(url).map(|_| ())
    }

    fn open(&self, url: &str) -> Result<OpenedShard> {
        open_stream(&self.rt, self.locate(url)?, self.options.read)
    }

    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let obj = self.locate(url)?;
        self.rt.block_on(obj.read_range(offset, len))?
    }

    fn size(&self, url: &str) -> Result<Option<u64>> {
        let obj = self.locate(url)?;
        Ok(self.rt.block_on(obj.head())??.map(|m| m.size))
    }
}

/// Shards in an S3-compatible bucket, under an optional key prefix (see the module docs).
pub struct S3DataStore {
    source: S3Source,
    bucket: String,
    prefix: Option<ObjectPath>,
    staging: PathBuf,
}

impl fmt::Debug for S3DataStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3DataStore")
            .field("location", &self.location())
            .field("endpoint", &self.source.options.endpoint_text())
            .field("staging", &self.staging)
            .finish()
    }
}

impl S3DataStore {
    /// The store in `bucket` under `prefix` (`None` or empty: the bucket's root), connecting
    /// with `options`. Nothing is requested until it is used.
    pub fn new(bucket: &str, prefix: Option<&str>, options: S3Options) -> Result<Self> {
        if bucket.is_empty() || bucket.contains('/') {
            return Err(Error::invalid(format!(
                "S3 bucket name '{bucket}' must be non-empty and hold no '/'"
            )));
        }
        let prefix = match prefix
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
        {
            Some(p) => Some(ObjectPath::parse(p).map_err(|e| {
                Error::invalid(format!("S3 key prefix '{p}' of bucket '{bucket}': {e}"))
            })?),
            None => None,
        };
        let staging = match &options.staging_dir {
            Some(d) => d.clone(),
            None => default_staging(&options, bucket, prefix.as_ref()),
        };
        let source = S3Source::new(options)?;
        Ok(S3DataStore {
            source,
            bucket: bucket.to_string(),
            prefix,
            staging,
        })
    }

    /// The store at `s3://bucket[/prefix]`, configured from the AWS environment
    /// ([`S3Options::from_env`]).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_url_with(url, S3Options::from_env())
    }

    /// The store at `s3://bucket[/prefix]` with `options`.
    pub fn from_url_with(url: &str, options: S3Options) -> Result<Self> {
        if !crate::shard::scheme_of(url).is_some_and(|s| s.eq_ignore_ascii_case("s3")) {
            return Err(Error::invalid(format!(
                "'{url}' is not an S3 store URL: write s3://bucket or s3://bucket/prefix"
            )));
        }
        let rest = url.get(5..).unwrap_or_default();
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        Self::new(bucket, Some(prefix), options)
    }

    /// The store in `bucket` with Python atdata 0.7's credentials dict (see
    /// [`S3Options::from_credentials`]).
    pub fn from_credentials<'a>(
        bucket: &str,
        credentials: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self> {
        Self::new(bucket, None, S3Options::from_credentials(credentials)?)
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The endpoint of an S3-compatible server, when one is configured (None: AWS S3).
    pub fn endpoint(&self) -> Option<&str> {
        self.source.options.endpoint.as_deref()
    }

    /// The key prefix, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_ref().map(|p| p.as_ref())
    }

    fn key(&self, rel: &str) -> Result<ObjectPath> {
        let full = match &self.prefix {
            Some(p) => format!("{p}/{rel}"),
            None => rel.to_string(),
        };
        ObjectPath::parse(&full)
            .map_err(|e| Error::invalid(format!("S3 key '{full}' in '{}': {e}", self.location())))
    }

    fn url_of(&self, key: &ObjectPath) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn client(&self) -> Result<Arc<dyn ObjectStore>> {
        self.source.client(&self.bucket)
    }

    fn located(&self, key: ObjectPath) -> Result<Located> {
        Ok(Located {
            store: self.client()?,
            url: self.url_of(&key),
            path: key,
            endpoint: format!(
                "bucket '{}' at {}",
                self.bucket,
                self.source.options.endpoint_text()
            ),
        })
    }

    /// The key of `url` when it is an object of this store (strictly below the prefix).
    fn owned_key(&self, url: &str) -> Option<ObjectPath> {
        let (bucket, key) = parse_s3_url(url).ok()?;
        if bucket != self.bucket {
            return None;
        }
        match &self.prefix {
            Some(p) => (key.prefix_matches(p) && &key != p).then_some(key),
            None => Some(key),
        }
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output> {
        self.source.rt.block_on(f)
    }

    /// Uploads the staged file at `obj` without replacing anything: `Ok(true)` when this call
    /// created the object, `Ok(false)` when an object was there.
    fn upload(&self, obj: &Located, shard: &StagedShard) -> Result<bool> {
        let opts = &self.source.options;
        let attrs =
            Attributes::from_iter([(Attribute::Metadata(SHA256_KEY.into()), shard.sha256.clone())]);
        let staged = shard.path().display().to_string();
        if shard.bytes < opts.multipart_threshold {
            let data = fs::read(shard.path()).map_err(|e| Error::io(&staged, e))?;
            if data.len() as u64 != shard.bytes {
                return Err(Error::io(
                    &staged,
                    io::Error::other(format!(
                        "staged shard changed size: {} bytes, {} written",
                        data.len(),
                        shard.bytes
                    )),
                ));
            }
            let put = PutOptions {
                mode: PutMode::Create,
                attributes: attrs,
                ..Default::default()
            };
            let path = obj.path.clone();
            return match self.block_on(obj.store.put_opts(&path, data.into(), put))? {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(store_error(&obj.url, &obj.endpoint, "PUT", e)),
            };
        }
        if self.block_on(obj.head())??.is_some() {
            return Ok(false);
        }
        let file = fs::File::open(shard.path()).map_err(|e| Error::io(&staged, e))?;
        let (part_size, in_flight) = (opts.part_size, opts.parts_in_flight);
        self.block_on(upload_parts(
            obj, file, &staged, attrs, part_size, in_flight,
        ))??;
        Ok(true)
    }

    /// Checks that the object at `obj` holds `shard`'s bytes (see the module docs), and
    /// refreshes its modification time. `Ok(false)`: the object vanished meanwhile.
    fn same_content(&self, obj: &Located, shard: &StagedShard) -> Result<bool> {
        let path = obj.path.clone();
        let head = GetOptions {
            head: true,
            ..Default::default()
        };
        let got = match self.block_on(obj.store.get_opts(&path, head))? {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(store_error(&obj.url, &obj.endpoint, "HEAD", e)),
        };
        let different = |what: String| Error::AlreadyExists {
            what: format!(
                "shard '{}' with different content ({what}); shards are never replaced: \
                 remove the object or write to another path",
                obj.url
            ),
        };
        if got.meta.size != shard.bytes {
            return Err(different(format!(
                "{} bytes, new shard {} bytes",
                got.meta.size, shard.bytes
            )));
        }
        let recorded = got
            .attributes
            .get(&Attribute::Metadata(SHA256_KEY.into()))
            .map(|v| v.as_ref().to_string());
        let existing = match recorded {
            Some(sha) => sha,
            None => object_sha256(&self.source.rt, obj.clone(), self.source.options.read)?,
        };
        if existing != shard.sha256 {
            return Err(different(format!(
                "sha256 {existing}, new shard {}",
                shard.sha256
            )));
        }
        self.touch(obj, &existing, got.meta.e_tag.as_deref());
        Ok(true)
    }

    /// Copies the object onto itself with its metadata replaced, which sets its modification
    /// time (see the module docs; best effort).
    fn touch(&self, obj: &Located, sha256: &str, e_tag: Option<&str>) {
        let mut headers = ::http::HeaderMap::new();
        let pairs = [
            ("x-amz-metadata-directive", Some("REPLACE")),
            ("x-amz-meta-atdata-sha256", Some(sha256)),
            ("x-amz-copy-source-if-match", e_tag),
        ];
        for (k, v) in pairs {
            if let Some(v) = v.and_then(|v| ::http::HeaderValue::from_str(v).ok()) {
                headers.insert(::http::HeaderName::from_static(k), v);
            }
        }
        let Ok(client) = self.source.options.build(&self.bucket, Some(headers)) else {
            return;
        };
        let path = obj.path.clone();
        let _ = self.block_on(async move { client.copy(&path, &path).await });
    }
}

/// Uploads `file` to `obj` in parts (see the module docs), aborting the upload on failure.
async fn upload_parts(
    obj: &Located,
    mut file: fs::File,
    staged: &str,
    attributes: Attributes,
    part_size: usize,
    in_flight: usize,
) -> Result<()> {
    let err = |op: &str, e| store_error(&obj.url, &obj.endpoint, op, e);
    let opts = PutMultipartOptions {
        attributes,
        ..Default::default()
    };
    let upload = obj
        .store
        .put_multipart_opts(&obj.path, opts)
        .await
        .map_err(|e| err("starting a multipart upload", e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
    let mut buf = vec![0u8; part_size];
    let result: Result<()> = async {
        loop {
            writer
                .wait_for_capacity(in_flight)
                .await
                .map_err(|e| err("uploading a part", e))?;
            // The caller's thread runs this future (`block_on`), so a blocking read here
            // blocks no runtime worker.
            let n = read_full(&mut file, &mut buf).map_err(|e| Error::io(staged, e))?;
            if n == 0 {
                return Ok(());
            }
            writer.write(&buf[..n]);
        }
    }
    .await;
    match result {
        Ok(()) => writer
            .finish()
            .await
            .map(|_| ())
            .map_err(|e| err("completing a multipart upload", e)),
        Err(e) => {
            // Best effort: the connection may be what failed. S3 never shows an incomplete
            // upload; a bucket lifecycle rule clears ones left open.
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `$ATDATA_HOME/s3-staging/<id>`, or under the system temporary directory without a home;
/// `<id>` is the start of the sha256 of endpoint, bucket and prefix, one folder per store.
fn default_staging(options: &S3Options, bucket: &str, prefix: Option<&ObjectPath>) -> PathBuf {
    let id = crate::codec::sha256_hex(
        format!(
            "{}\n{bucket}\n{}",
            options.endpoint_text(),
            prefix.map(|p| p.as_ref()).unwrap_or_default()
        )
        .as_bytes(),
    );
    let base = crate::home::default_paths()
        .map(|p| p.home)
        .unwrap_or_else(|_| std::env::temp_dir().join("atdata"));
    base.join("s3-staging").join(id.get(..16).unwrap_or(&id))
}

impl ShardSource for S3DataStore {
    fn check_url(&self, url: &str) -> Result<()> {
        self.source.check_url(url)
    }

    fn open(&self, url: &str) -> Result<OpenedShard> {
        self.source.open(url)
    }

    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.source.read_range(url, offset, len)
    }

    fn size(&self, url: &str) -> Result<Option<u64>> {
        self.source.size(url)
    }
}

/// How often a publish starts over when the object it found vanished before it was checked
/// (a concurrent gc).
const PUBLISH_ATTEMPTS: usize = 3;

impl DataStore for S3DataStore {
    fn as_source(self: Arc<Self>) -> Arc<dyn ShardSource> {
        self
    }

    fn kind(&self) -> &'static str {
        "S3DataStore"
    }

    fn location(&self) -> String {
        match &self.prefix {
            Some(p) => format!("s3://{}/{p}", self.bucket),
            None => format!("s3://{}", self.bucket),
        }
    }

    fn owner(&self) -> Result<Option<StoreOwner>> {
        let obj = self.located(self.key(OWNER_FILE)?)?;
        let path = obj.path.clone();
        let bytes = match self.block_on(async { obj.store.get(&path).await?.bytes().await })? {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_error(&obj.url, &obj.endpoint, "GET", e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::corrupt(format!(
                "store owner object '{}' is not the JSON atdata writes ({e}); remove it and \
                 claim the store again",
                obj.url
            ))
        })
    }

    fn set_owner(&self, owner: &StoreOwner, replace: bool) -> Result<StoreOwner> {
        let obj = self.located(self.key(OWNER_FILE)?)?;
        let mut json = serde_json::to_vec_pretty(owner)
            .map_err(|e| Error::invalid(format!("store owner: {e}")))?;
        json.push(b'\n');
        let mode = if replace {
            PutMode::Overwrite
        } else {
            PutMode::Create
        };
        let put = PutOptions {
            mode,
            ..Default::default()
        };
        let path = obj.path.clone();
        match self.block_on(obj.store.put_opts(&path, json.into(), put))? {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(store_error(&obj.url, &obj.endpoint, "PUT", e)),
        }
        self.owner()?
            .ok_or_else(|| Error::not_found(format!("store owner object '{}' vanished", obj.url)))
    }

    fn in_use(&self, url: &str) -> bool {
        inside_dir(&self.staging, url).is_some_and(|p| staging_in_use(&p))
    }

    fn check_name(&self, dataset: &str) -> Result<()> {
        check_dataset_name(dataset)
    }

    fn staging_dir(&self) -> Result<PathBuf> {
        fs::create_dir_all(&self.staging)
            .map_err(|e| Error::io(self.staging.display().to_string(), e))?;
        Ok(self.staging.clone())
    }

    fn publish(
        &self,
        dataset: &str,
        tag: &str,
        index: usize,
        shard: StagedShard,
    ) -> Result<String> {
        let rel = super::published_shard_path(dataset, tag, index)?;
        let obj = self.located(self.key(&rel)?)?;
        for _ in 0..PUBLISH_ATTEMPTS {
            if self.upload(&obj, &shard)? || self.same_content(&obj, &shard)? {
                return Ok(obj.url);
            }
        }
        Err(Error::Conflict {
            what: format!(
                "shard '{}' kept vanishing while it was published (a concurrent gc?); retry",
                obj.url
            ),
        })
    }

    fn shards(&self) -> Result<Vec<StoredFile>> {
        let client = self.client()?;
        let prefix = self.prefix.clone();
        let listed = self.block_on(async move {
            use futures_util::TryStreamExt;
            client.list(prefix.as_ref()).try_collect::<Vec<_>>().await
        })?;
        let listed = listed.map_err(|e| {
            store_error(
                &self.location(),
                &self.source.options.endpoint_text(),
                "LIST",
                e,
            )
        })?;
        let skip = self.prefix.as_ref().map_or(0, |p| p.parts().count());
        let mut out = Vec::new();
        for meta in listed {
            let parts: Vec<_> = meta.location.parts().skip(skip).collect();
            let [name, file] = parts.as_slice() else {
                continue;
            };
            if check_dataset_name(name.as_ref()).is_err() || !is_shard_file_name(file.as_ref()) {
                continue;
            }
            out.push(StoredFile {
                url: self.url_of(&meta.location),
                bytes: meta.size,
                modified: Some(SystemTime::from(meta.last_modified)),
            });
        }
        out.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(out)
    }

    fn staging_files(&self) -> Result<Vec<StoredFile>> {
        list_staging(&self.staging)
    }

    fn owns(&self, url: &str) -> bool {
        self.owned_key(url).is_some() || inside_dir(&self.staging, url).is_some()
    }

    fn remove(&self, url: &str) -> Result<()> {
        if let Some(path) = inside_dir(&self.staging, url) {
            return match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(Error::not_found(format!("staging file '{url}'")))
                }
                Err(e) => Err(Error::io(url, e)),
            };
        }
        let key = self.owned_key(url).ok_or_else(|| {
            Error::invalid(format!(
                "'{url}' is not inside the store at '{}'",
                self.location()
            ))
        })?;
        let obj = self.located(key)?;
        // S3 deletes succeed whether or not the object is there; the contract says NotFound.
        if self.block_on(obj.head())??.is_none() {
            return Err(Error::not_found(format!("shard object '{url}'")));
        }
        let path = obj.path.clone();
        self.block_on(obj.store.delete(&path))?
            .map_err(|e| store_error(&obj.url, &obj.endpoint, "DELETE", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_0_7_env_file_gives_the_credentials_and_bad_lines_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s3.env");
        std::fs::write(
            &p,
            "# lab bucket\nexport AWS_ENDPOINT=\"http://127.0.0.1:9\"\n\nAWS_ACCESS_KEY_ID='a'\n\
             AWS_SECRET_ACCESS_KEY = b\nOTHER=ignored\n",
        )
        .unwrap();
        let o = S3Options::from_env_file(&p).unwrap();
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(o.access_key_id.as_deref(), Some("a"));
        assert_eq!(o.secret_access_key.as_deref(), Some("b"));

        std::fs::write(&p, "AWS_ACCESS_KEY_ID=a\nnot a pair\n").unwrap();
        let e = S3Options::from_env_file(&p).unwrap_err().to_string();
        assert!(e.contains("s3.env") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "AWS_ENDPOINT=http://x\n").unwrap();
        let e = S3Options::from_env_file(&p).unwrap_err().to_string();
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        let e = S3Options::from_env_file(&dir.path().join("missing.env")).unwrap_err();
        assert!(e.to_string().contains("missing.env"), "{e}");
    }

    #[test]
    fn options_come_from_the_environment_and_0_7_credentials() {
        let env = |k: &str| {
            match k {
                "AWS_ENDPOINT" => Some("http://old:1"),
                "AWS_ENDPOINT_URL" => Some("http://new:2"),
                "AWS_DEFAULT_REGION" => Some("eu-west-1"),
                "AWS_ACCESS_KEY_ID" => Some("id"),
                "AWS_SECRET_ACCESS_KEY" => Some("secret"),
                "AWS_SESSION_TOKEN" => Some(""),
                _ => None,
            }
            .map(str::to_string)
        };
        let o = S3Options::from_lookup(env);
        assert_eq!(o.endpoint.as_deref(), Some("http://new:2"));
        assert_eq!(o.region.as_deref(), Some("eu-west-1"));
        assert_eq!(o.session_token, None, "an empty variable is unset");
        assert!(!format!("{o:?}").contains("secret\""), "{o:?}");
        let only_old =
            S3Options::from_lookup(|k| (k == "AWS_ENDPOINT").then(|| "http://o:1".into()));
        assert_eq!(only_old.endpoint.as_deref(), Some("http://o:1"));

        let creds = [
            ("AWS_ENDPOINT", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
            ("AWS_REGION", "r"),
        ];
        let o = S3Options::from_credentials(creds).unwrap();
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(o.region.as_deref(), Some("r"));
        let e = S3Options::from_credentials([("AWS_SECRET", "x")]).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET"), "{e}");
        let e = S3Options::from_credentials([("AWS_ACCESS_KEY_ID", "x")]).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    }

    #[test]
    fn urls_and_locations() {
        let o = S3Options::new().with_endpoint("http://127.0.0.1:9");
        let s = S3DataStore::from_url_with("s3://bkt/some/prefix/", o.clone()).unwrap();
        assert_eq!(s.location(), "s3://bkt/some/prefix");
        assert!(s.owns("s3://bkt/some/prefix/d/data--a--000000.tar"));
        assert!(!s.owns("s3://bkt/some/prefixed/d/data--a--000000.tar"));
        assert!(!s.owns("s3://other/some/prefix/d/data--a--000000.tar"));
        assert!(!s.owns("s3://bkt/some/prefix"));
        assert!(!s.owns("/etc/hostname"));
        let root = S3DataStore::from_url_with("s3://bkt", o.clone()).unwrap();
        assert_eq!(root.location(), "s3://bkt");
        for bad in ["s3://", "s3:///k", "file:///x", "bkt/x"] {
            assert!(S3DataStore::from_url_with(bad, o.clone()).is_err(), "{bad}");
        }
        for bad in ["s3://b", "s3://b/", "s3://b/a//c", "s3://b/../x"] {
            let e = s.check_url(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        let e = s.check_url("gopher://h/x").unwrap_err().to_string();
        assert!(e.contains("'gopher'") && e.contains("gopher://h/x"), "{e}");
        let e = S3Options::new().with_endpoint("127.0.0.1:9");
        assert!(S3DataStore::new("b", None, e).is_err());
    }
}
