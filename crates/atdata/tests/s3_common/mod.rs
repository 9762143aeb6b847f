//! A real S3-compatible server for the S3 store tests, and (from `fault_proxy`) a TCP proxy the
//! tests can cut.
//!
//! The server is moto's (`python -m moto.server`), run from `$ATDATA_REF_PYTHON` (or the
//! repository's `.venv-ref`), which `scripts/ref-venv.sh` creates with `moto[server]`
//! installed; each server listens on a free loopback port and is killed when dropped. When it
//! cannot be started the tests fail, saying how to provide it.
#![allow(dead_code)]

#[path = "../fault_proxy/mod.rs"]
mod fault_proxy;
#[allow(unused_imports)]
pub use fault_proxy::FaultProxy;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atdata::store::{RetryPolicy, S3Options};

/// Access keys moto accepts (any).
pub const KEY_ID: &str = "testing";
/// The secret.
pub const SECRET: &str = "testing";

/// The Python that runs moto: `$ATDATA_S3_SERVER_PYTHON` (scripts/test.sh sets it on a
/// machine without the reference venv), else the reference venv's.
fn python() -> PathBuf {
    for var in ["ATDATA_S3_SERVER_PYTHON", "ATDATA_REF_PYTHON"] {
        if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    repo.join(".venv-ref/bin/python")
}

/// An S3-compatible server (moto) on a loopback port, killed on drop.
pub struct S3Server {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl S3Server {
    /// Starts a server and waits until it answers; panics, saying how to provide one, when it
    /// cannot.
    pub fn start() -> S3Server {
        let py = python();
        let how = "the S3 store tests need moto's S3 server: run scripts/ref-venv.sh (it installs \
                   moto[server] into the reference venv) and export ATDATA_REF_PYTHON=<its python>";
        let mut last = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(&py)
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => panic!("cannot run {}: {e}; {how}", py.display()),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    last = format!("{} -m moto.server exited ({status}): {err}", py.display());
                    break;
                }
                if http(port, "GET", "/", b"").is_ok_and(|r| r.starts_with("HTTP/1.")) {
                    // Nobody reads its log: stop piping it, or a full pipe blocks the server.
                    drop(child.stderr.take());
                    return S3Server { child, port };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last.is_empty() {
                last = "it did not answer within 60 s".into();
            }
        }
        panic!("cannot start moto's S3 server: {last}; {how}");
    }

    /// `http://127.0.0.1:{port}`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        create_bucket(self.port, bucket);
    }

    /// Options for this server, with quick retries (tests wait for failures).
    pub fn options(&self) -> S3Options {
        options_at(&self.endpoint())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for the server at `endpoint`, with retries quick enough for tests.
pub fn options_at(endpoint: &str) -> S3Options {
    S3Options::new()
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_keys(KEY_ID, SECRET)
        .with_retry(RetryPolicy {
            max_retries: 2,
            retry_timeout: Duration::from_secs(5),
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
        })
}

/// Creates `bucket` on the server at `port` (moto accepts unsigned requests).
pub fn create_bucket(port: u16, bucket: &str) {
    let r = http(port, "PUT", &format!("/{bucket}"), b"").unwrap();
    assert!(
        r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"),
        "{r}"
    );
}

/// Puts an object with unsigned raw HTTP (for objects not written by a store).
pub fn put_object(port: u16, bucket: &str, key: &str, body: &[u8]) {
    let r = http(port, "PUT", &format!("/{bucket}/{key}"), body).unwrap();
    assert!(r.contains(" 200 "), "{r}");
}

/// Puts an object anyone may read without signing (public-read), as plain HTTP serves it.
pub fn put_public_object(port: u16, bucket: &str, key: &str, body: &[u8]) {
    let path = format!("/{bucket}/{key}");
    let r = request(port, "PUT", &path, "x-amz-acl: public-read\r\n", body).unwrap();
    assert!(r.contains(" 200 "), "{r}");
}

/// One HTTP/1.0 request; the response head and body as text (lossy).
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<String> {
    request(port, method, path, "", body)
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Deterministic pseudo-random bytes (incompressible enough for transfer tests).
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
