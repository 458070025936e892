//! Local receivers for the sink tests: an HTTP server that fails its first
//! requests and then accepts (recording what it accepted), and syslog
//! collectors over TCP and TLS that read octet-counted frames.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One accepted request.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Decides on a request once the failures are used up: `Ok` accepts it,
/// `Err((status, body))` refuses it (and it is not recorded as accepted).
pub type Check = dyn Fn(&HeaderMap, &Bytes) -> Result<(), (u16, String)> + Send + Sync;

struct Inner {
    fail_first: usize,
    fail_status: u16,
    fail_body: String,
    ok_status: u16,
    ok_body: String,
    check: Box<Check>,
    attempts: AtomicUsize,
    accepted: Mutex<Vec<Received>>,
    refused: Mutex<Vec<String>>,
}

pub struct HttpReceiver {
    pub url: String,
    inner: Arc<Inner>,
}

impl HttpReceiver {
    /// Serves on 127.0.0.1: the first `fail_first` requests get
    /// `fail_status` with `fail_body`; after that `check` decides, and
    /// accepted ones get `ok_status` with `ok_body`.
    pub fn start(
        fail_first: usize,
        fail_status: u16,
        fail_body: &str,
        ok_status: u16,
        ok_body: &str,
        check: Box<Check>,
    ) -> HttpReceiver {
        let inner = Arc::new(Inner {
            fail_first,
            fail_status,
            fail_body: fail_body.to_string(),
            ok_status,
            ok_body: ok_body.to_string(),
            check,
            attempts: AtomicUsize::new(0),
            accepted: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        // A current-thread runtime drives its I/O only inside its own
        // block_on, so the runtime lives on the server thread.
        std::thread::spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                tx.send(()).unwrap();
                axum::serve(listener, app).await.unwrap();
            })
        });
        rx.recv().unwrap();
        HttpReceiver {
            url: format!("http://{addr}"),
            inner,
        }
    }

    pub fn attempts(&self) -> usize {
        self.inner.attempts.load(Ordering::SeqCst)
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.inner.accepted.lock().unwrap().clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.inner.refused.lock().unwrap().clone()
    }
}

async fn handle(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let n = s.attempts.fetch_add(1, Ordering::SeqCst);
    if n < s.fail_first {
        return (
            StatusCode::from_u16(s.fail_status).unwrap(),
            s.fail_body.clone(),
        );
    }
    match (s.check)(&headers, &body) {
        Ok(()) => {
            s.accepted.lock().unwrap().push(Received { headers, body });
            (
                StatusCode::from_u16(s.ok_status).unwrap(),
                s.ok_body.clone(),
            )
        }
        Err((status, why)) => {
            s.refused.lock().unwrap().push(why.clone());
            (StatusCode::from_u16(status).unwrap(), why)
        }
    }
}

/// Reads RFC 6587 octet-counted frames (`<len> <msg>`) until EOF.
pub fn read_frames(r: &mut impl Read, out: &Mutex<Vec<String>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(sp) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp])
                .expect("frame length is ASCII")
                .parse()
                .expect("frame starts with its length");
            if buf.len() < sp + 1 + len {
                break;
            }
            let msg = String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).expect("UTF-8");
            out.lock().unwrap().push(msg);
            buf.drain(..sp + 1 + len);
        }
    }
}

/// Waits until `ok` holds, up to `timeout`.
pub fn wait_for(what: &str, timeout: Duration, ok: impl Fn() -> bool) {
    let until = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
