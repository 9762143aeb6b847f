//! [`HttpSource`]: reading shards at plain `https://` and `http://` URLs (feature `s3`), e.g. a
//! public bucket's objects or a web server's files, with the same streaming, ranged reads and
//! retries as S3 (`store::object`), through `object_store`'s HTTP client. The server must
//! answer `HEAD` with the size and ranged `GET`s with `206 Partial Content`. One client per
//! origin (scheme, host, port), made at first use. URLs with a query string or fragment are
//! refused (a presigned URL's signature could not be kept through the client).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use object_store::http::HttpBuilder;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::{Error, Result};
use crate::store::object::{open_stream, unsupported_scheme, Located, ReadTuning, Runtime};
use crate::store::s3::RetryPolicy;
use crate::store::{OpenedShard, ShardSource};

const READS: &str = "an HTTP source reads http:// and https:// URLs";

/// Reads shards at `http://` and `https://` URLs (see the module docs).
pub struct HttpSource {
    rt: Arc<Runtime>,
    retry: RetryPolicy,
    read: ReadTuning,
    clients: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSource").finish_non_exhaustive()
    }
}

/// `url` split into its origin (`https://host:port`) and path.
fn split(url: &str) -> Result<(String, ObjectPath)> {
    let scheme = crate::shard::scheme_of(url)
        .filter(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        .ok_or_else(|| unsupported_scheme(url, READS))?;
    if url.contains(['?', '#']) {
        return Err(Error::invalid(format!(
            "HTTP shard URL '{url}' has a query or fragment, which cannot be read"
        )));
    }
    let rest = url.get(scheme.len() + 3..).unwrap_or_default();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() || path.is_empty() {
        return Err(Error::invalid(format!(
            "HTTP shard URL '{url}' must name a host and a path"
        )));
    }
    let path = ObjectPath::from_url_path(path)
        .map_err(|e| Error::invalid(format!("HTTP shard URL '{url}' has a bad path: {e}")))?;
    Ok((format!("{}://{host}", scheme.to_ascii_lowercase()), path))
}

/// Checks, without I/O, that `url` is an `http(s)://host/path` URL this source reads.
pub(crate) fn check_http_url(url: &str) -> Result<()> {
    split(url).map(|_| ())
}

impl HttpSource {
    /// A source with default retries and read tuning.
    pub fn new() -> Result<Self> {
        Self::with(RetryPolicy::default(), ReadTuning::default())
    }

    /// A source with `retry` and `read`.
    pub fn with(retry: RetryPolicy, read: ReadTuning) -> Result<Self> {
        Ok(HttpSource {
            rt: Runtime::new("http")?,
            retry,
            read,
            clients: Mutex::new(HashMap::new()),
        })
    }

    fn locate(&self, url: &str) -> Result<Located> {
        let (origin, path) = split(url)?;
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Error::invalid("HTTP client cache poisoned by a panic"))?;
        let store = match clients.get(&origin) {
            Some(c) => c.clone(),
            None => {
                let built = HttpBuilder::new()
                    .with_url(&origin)
                    .with_retry(self.retry.retry_config())
                    .with_client_options(self.retry.client_options(origin.starts_with("http:")))
                    .build()
                    .map_err(|e| Error::invalid(format!("HTTP client for '{origin}': {e}")))?;
                let c: Arc<dyn ObjectStore> = Arc::new(built);
                clients.insert(origin.clone(), c.clone());
                c
            }
        };
        Ok(Located {
            store,
            path,
            url: url.to_string(),
            endpoint: origin,
        })
    }
}

impl ShardSource for HttpSource {
    fn check_url(&self, url: &str) -> Result<()> {
        split(url).map(|_| ())
    }

    fn open(&self, url: &str) -> Result<OpenedShard> {
        open_stream(&self.rt, self.locate(url)?, self.read)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_and_path() {
        let (o, p) = split("https://Host:8443/a/b%20c.tar").unwrap();
        assert_eq!(o, "https://Host:8443");
        assert_eq!(p.as_ref(), "a/b c.tar");
        for bad in [
            "https://h",
            "https:///x",
            "https://h/x?sig=1",
            "ftp://h/x",
            "/x",
        ] {
            let e = split(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
