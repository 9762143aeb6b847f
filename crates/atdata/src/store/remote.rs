//! [`UrlSource`]: the source that reads a URL by its scheme (feature `s3`): local paths and
//! `file://` through [`LocalFiles`], `s3://` through an [`S3Source`] configured from the AWS
//! environment, `http(s)://` through an [`HttpSource`]; optionally a store's own source first,
//! for the URLs it reads. It is what a `Dataset` reads through by default in this build
//! ([`default_source`](crate::store::default_source)), so a dataset whose URLs are remote but
//! that came from no S3 store (a typed `s3://b/x-{000..003}.tar`, an entry of a local store
//! naming remote shards) is readable. The remote sources are made at their first use.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::store::http::HttpSource;
use crate::store::s3::S3Source;
use crate::store::{LocalFiles, OpenedShard, ShardSource};

/// Reads every URL scheme this build knows (see the module docs).
#[derive(Debug, Default)]
pub struct UrlSource {
    primary: Option<Arc<dyn ShardSource>>,
    s3: Mutex<Option<Arc<S3Source>>>,
    http: Mutex<Option<Arc<HttpSource>>>,
}

fn lazily<T>(slot: &Mutex<Option<Arc<T>>>, make: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
    let mut slot = slot
        .lock()
        .map_err(|_| Error::invalid("source cache poisoned by a panic"))?;
    if let Some(s) = &*slot {
        return Ok(s.clone());
    }
    let made = Arc::new(make()?);
    *slot = Some(made.clone());
    Ok(made)
}

impl UrlSource {
    /// Local files, `s3://` from the AWS environment, and `http(s)://`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Like [`new`](Self::new), but a URL `primary` reads (its
    /// [`check_url`](ShardSource::check_url) accepts it) is read through `primary`: a store's
    /// own source, with its credentials.
    pub fn over(primary: Arc<dyn ShardSource>) -> Self {
        UrlSource {
            primary: Some(primary),
            ..Self::default()
        }
    }

    fn pick(&self, url: &str) -> Result<Arc<dyn ShardSource>> {
        if let Some(p) = &self.primary {
            if p.check_url(url).is_ok() {
                return Ok(p.clone());
            }
        }
        let scheme = crate::shard::scheme_of(url).map(str::to_ascii_lowercase);
        match scheme.as_deref() {
            None | Some("file") => Ok(LocalFiles::shared()),
            Some("s3") => Ok(lazily(&self.s3, S3Source::from_env)?),
            Some("http" | "https") => Ok(lazily(&self.http, HttpSource::new)?),
            Some(other) => Err(Error::invalid(format!(
                "unsupported URL scheme '{other}' in '{url}': only local paths, file://, s3:// \
                 and http(s):// URLs can be read"
            ))),
        }
    }
}

impl ShardSource for UrlSource {
    fn check_url(&self, url: &str) -> Result<()> {
        if let Some(p) = &self.primary {
            if p.check_url(url).is_ok() {
                return Ok(());
            }
        }
        // Without I/O and without making a client: the scheme decides.
        let scheme = crate::shard::scheme_of(url).map(str::to_ascii_lowercase);
        match scheme.as_deref() {
            None | Some("file") => LocalFiles.check_url(url),
            Some("s3") => crate::store::s3::check_s3_url(url),
            Some("http" | "https") => crate::store::http::check_http_url(url),
            Some(_) => self.pick(url).map(|_| ()),
        }
    }

    fn open(&self, url: &str) -> Result<OpenedShard> {
        self.pick(url)?.open(url)
    }

    fn read_range(&self, url: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.pick(url)?.read_range(url, offset, len)
    }

    fn size(&self, url: &str) -> Result<Option<u64>> {
        self.pick(url)?.size(url)
    }

    fn local_path(&self, url: &str) -> Option<std::path::PathBuf> {
        self.pick(url).ok()?.local_path(url)
    }
}
