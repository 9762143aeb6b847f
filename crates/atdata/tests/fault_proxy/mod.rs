//! A TCP proxy in front of a server (S3, PostgreSQL, Redis), which a test can cut: the
//! fault-injection tests of the S3 store (through `s3_common`) and of the server indexes
//! (`index_faults`) share it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A TCP proxy in front of a server, which a test can cut: live connections are shut down,
/// and new ones are closed as soon as accepted, until [`restore`](Self::restore).
pub struct FaultProxy {
    /// The port clients connect to.
    pub port: u16,
    state: Arc<ProxyState>,
}

struct ProxyState {
    cut: AtomicBool,
    /// Bytes (both directions) left before the proxy cuts itself.
    budget: AtomicU64,
    /// Bytes forwarded so far (both directions).
    passed: AtomicU64,
    live: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

impl ProxyState {
    fn cut_now(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl FaultProxy {
    /// A proxy to `127.0.0.1:{upstream}`.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState {
            cut: AtomicBool::new(false),
            budget: AtomicU64::new(u64::MAX),
            passed: AtomicU64::new(0),
            live: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                if st.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                {
                    let mut live = st.live.lock().unwrap();
                    live.push(client.try_clone().unwrap());
                    live.push(server.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let st = st.clone();
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if st.cut.load(Ordering::SeqCst) {
                                break;
                            }
                            let left = st.budget.load(Ordering::SeqCst);
                            if (n as u64) >= left {
                                st.cut_now();
                                break;
                            }
                            st.budget.fetch_sub(n as u64, Ordering::SeqCst);
                            st.passed.fetch_add(n as u64, Ordering::SeqCst);
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        FaultProxy { port, state }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection now, and refuses new ones.
    pub fn cut(&self) {
        self.state.cut_now();
    }

    /// Cuts (as [`cut`](Self::cut)) once `bytes` more have passed, in either direction.
    pub fn cut_after(&self, bytes: u64) {
        self.state.budget.store(bytes, Ordering::SeqCst);
    }

    /// Bytes forwarded so far, in both directions (to aim [`cut_after`](Self::cut_after) at a
    /// point of an exchange measured once).
    pub fn passed(&self) -> u64 {
        self.state.passed.load(Ordering::SeqCst)
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.budget.store(u64::MAX, Ordering::SeqCst);
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.cut_now();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
