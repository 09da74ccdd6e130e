//! The HTTP/1 server under the routes (of `mlpc serve` and of the daemon's API): one accept
//! loop over hyper connections with what `axum::serve` leaves out. Every connection is in
//! one of three phases, and each phase has a bound:
//!
//! - idle (nothing received since the last response, or since it was accepted): closed
//!   after `--idle-timeout`;
//! - head (the first bytes of a request have come, its headers not all): closed after
//!   `--header-timeout` from the first byte (a slowloris header);
//! - busy (a request is being handled): its body must arrive within `--body-timeout`
//!   (else 408), and a `Content-Length` over `--max-body` is answered 413 from the header
//!   alone, before a byte of the body is read.
//!
//! At most `--max-connections` are open (never more than the open-file limit allows, less a
//! reserve for the server's own files); a new one past the cap closes the connection that
//! has been idle the longest (as nginx reuses keep-alive connections), or waits for one to
//! finish when all are busy. Errors accepting (EMFILE and the like) are logged once per
//! burst, free a connection and back off; they never stop the loop.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tower_service::Service;

/// What a request and a connection may take: sizes, rows, time, and how many at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The largest request body, in bytes (`--max-body`).
    pub max_body: usize,
    /// The most rows one prediction request may hold, on every protocol (`--max-rows`).
    pub max_rows: usize,
    /// From a request's first byte to the end of its headers (`--header-timeout`).
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body (`--body-timeout`).
    pub body_timeout: Duration,
    /// A connection with no request in progress is closed after this (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// Connections open at once (`--max-connections`), lowered to fit the open-file limit.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 4 << 20,
            max_rows: 10_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4_096,
        }
    }
}

/// The open-file limit of this process (`ulimit -n`), when it can be read.
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// `wanted` connections, lowered so that they and the server's own files (the registry,
/// the request log, artifacts, ONNX Runtime) fit under the open-file limit.
pub fn connection_cap(wanted: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => {
            let reserve = (n / 8).max(64);
            wanted.min(n.saturating_sub(reserve).max(1) as usize)
        }
        None => wanted,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Phase {
    pub phase: String,
}

/// The server's connection figures, for `/metrics`.
#[derive(Clone, Default)]
pub struct Counters {
    pub open: Gauge,
    /// Connections closed to make room for a new one past `--max-connections`.
    pub evicted: Counter,
    /// Connections closed (or requests answered 408) because a phase ran out of time.
    pub timed_out: Family<Phase, Counter>,
    /// Errors accepting a connection (EMFILE, ENFILE, ENOMEM, …).
    pub accept_errors: Counter,
    /// Requests answered 413 from their `Content-Length` alone.
    pub too_large: Counter,
}

impl Counters {
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register("connections_open", "HTTP connections open now", self.open.clone());
        registry.register(
            "connections_evicted",
            "Idle connections closed to make room past --max-connections",
            self.evicted.clone(),
        );
        registry.register(
            "connections_timed_out",
            "Connections or requests cut off by --header-timeout, --body-timeout or --idle-timeout",
            self.timed_out.clone(),
        );
        registry.register(
            "accept_errors",
            "Errors accepting a connection (such as EMFILE)",
            self.accept_errors.clone(),
        );
        registry.register(
            "requests_too_large",
            "Requests refused with 413 for a body over --max-body (from Content-Length, or as read)",
            self.too_large.clone(),
        );
    }

    fn timed_out(&self, phase: &str) {
        self.timed_out.get_or_create(&Phase { phase: phase.into() }).inc();
    }
}

/// How an error the server answers itself (413, 408, 400) is written: the protocol of the
/// path decides (MLflow's routes have their own error shape).
pub type ErrorShape = fn(path: &str, StatusCode, String) -> Response<Body>;

/// `{"error": message}`.
pub fn plain_error(_: &str, status: StatusCode, message: String) -> Response<Body> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// One open connection, as the accept loop and its own task see it.
struct Conn {
    phase: AtomicU8,
    /// When the phase began, in ms since the pool's epoch.
    since: AtomicU64,
    /// Asked to close (it was idle the longest when the pool was full).
    evicting: AtomicBool,
    evict: Notify,
    /// Told of every phase change, so the connection's timer starts the new phase's bound
    /// at once (a request's first byte must start the header timeout, not wait out the idle one).
    changed: Notify,
}

struct Pool {
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// One permit each time a connection ends.
    freed: Notify,
}

impl Pool {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
    fn conns(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn set(&self, c: &Conn, phase: u8) {
        c.since.store(self.now(), Ordering::Relaxed);
        c.phase.store(phase, Ordering::Release);
        c.changed.notify_one();
    }
    /// Asks the connection idle the longest to close; false when every one is busy.
    fn evict_one(&self) -> bool {
        let conns = self.conns();
        let oldest = conns
            .values()
            .filter(|c| c.phase.load(Ordering::Acquire) != BUSY && !c.evicting.load(Ordering::Relaxed))
            .min_by_key(|c| c.since.load(Ordering::Relaxed));
        match oldest {
            Some(c) => {
                c.evicting.store(true, Ordering::Relaxed);
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The socket, noting when a request's first bytes arrive on an idle connection.
struct Watched {
    io: TcpStream,
    conn: Arc<Conn>,
    pool: Arc<Pool>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let me = &*self;
            if me.conn.phase.load(Ordering::Acquire) == IDLE {
                me.pool.set(&me.conn, HEAD);
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A message repeated in bursts, logged once per burst: the first time, then at most every
/// `every` with how many were not logged in between.
pub struct Burst {
    every: Duration,
    last: Option<Instant>,
    quiet: u64,
}

impl Burst {
    pub fn new(every: Duration) -> Burst {
        Burst { every, last: None, quiet: 0 }
    }

    /// Whether to log this occurrence now, and how many were left unlogged before it.
    pub fn note(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(t) if now.duration_since(t) < self.every => {
                self.quiet += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.quiet))
            }
        }
    }
}

/// Whether an accept error concerns only the connection being accepted (the next accept may
/// well succeed at once), rather than the process running out of something.
fn connection_only(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` until `stop` resolves, then stops accepting, lets the
/// requests in flight finish and closes idle connections. `limits.max_connections` is
/// taken as given (see [`connection_cap`]).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    counters: Counters,
    shape: ErrorShape,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let pool = Arc::new(Pool { epoch: Instant::now(), conns: Mutex::default(), freed: Notify::new() });
    let bodies = Arc::new(Semaphore::new(kib(limits.max_body as u64 * BODIES) as usize));
    let limits = Arc::new(limits);
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        stop.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = watch::channel(());
    let mut accept_burst = Burst::new(Duration::from_secs(10));
    let mut full_burst = Burst::new(Duration::from_secs(10));
    let mut next_id = 0u64;
    'accept: loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = signal_tx.closed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if connection_only(&e) => continue,
            Err(e) => {
                counters.accept_errors.inc();
                if let Some(quiet) = accept_burst.note() {
                    let more = if quiet > 0 { format!(" ({quiet} more since the last report)") } else { String::new() };
                    tracing::error!(
                        "cannot accept a connection: {e}{more}; closing the longest-idle one and retrying (raise `ulimit -n`, or lower --max-connections)"
                    );
                }
                pool.evict_one();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = signal_tx.closed() => break,
                }
                continue;
            }
        };
        // Past the cap: make room first (the new connection waits, accepted).
        while pool.conns().len() >= limits.max_connections {
            if !pool.evict_one() {
                if let Some(quiet) = full_burst.note() {
                    let more = if quiet > 0 { format!(" ({quiet} more since the last report)") } else { String::new() };
                    tracing::warn!(
                        "all {} connections are busy (--max-connections): a new one waits for a free slot{more}",
                        limits.max_connections
                    );
                }
            }
            tokio::select! {
                _ = pool.freed.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = signal_tx.closed() => break 'accept,
            }
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let conn = Arc::new(Conn {
            phase: AtomicU8::new(IDLE),
            since: AtomicU64::new(pool.now()),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
            changed: Notify::new(),
        });
        pool.conns().insert(next_id, conn.clone());
        counters.open.inc();
        let task = Connection {
            id: next_id,
            stream,
            conn,
            pool: pool.clone(),
            limits: limits.clone(),
            counters: counters.clone(),
            router: router.clone(),
            shape,
            bodies: bodies.clone(),
        };
        let (signal_tx, close_rx) = (signal_tx.clone(), close_rx.clone());
        tokio::spawn(async move {
            task.run(signal_tx).await;
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
}

struct Connection {
    id: u64,
    stream: TcpStream,
    conn: Arc<Conn>,
    pool: Arc<Pool>,
    limits: Arc<Limits>,
    counters: Counters,
    router: axum::Router,
    shape: ErrorShape,
    bodies: Arc<Semaphore>,
}

impl Connection {
    async fn run(self, signal: watch::Sender<()>) {
        let Connection { id, stream, conn, pool, limits, counters, router, shape, bodies } = self;
        // Gives the slot back however the task ends, a panic included.
        let _slot = Slot { id, pool: pool.clone(), counters: counters.clone() };
        let io = TokioIo::new(Watched { io: stream, conn: conn.clone(), pool: pool.clone() });
        let service = {
            let (conn, pool, limits, counters) = (conn.clone(), pool.clone(), limits.clone(), counters.clone());
            hyper::service::service_fn(move |request: Request<Incoming>| {
                pool.set(&conn, BUSY);
                let handled = handle(request, router.clone(), limits.clone(), counters.clone(), shape, bodies.clone());
                let (conn, pool) = (conn.clone(), pool.clone());
                async move {
                    // BUSY until hyper has written the whole body and dropped it: a large
                    // answer to a slow reader is neither evicted nor idle-closed mid-write.
                    let response = handled.await.map(|body| Body::new(UntilWritten { body, conn, pool }));
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let served = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service);
        tokio::pin!(served);
        let mut stopping = false;
        loop {
            let phase = conn.phase.load(Ordering::Acquire);
            let since = pool.epoch + Duration::from_millis(conn.since.load(Ordering::Relaxed));
            let deadline = match phase {
                IDLE => since + limits.idle_timeout,
                HEAD => since + limits.header_timeout,
                // Busy: the body timeout is the handler's; look again later.
                _ => Instant::now() + limits.header_timeout.min(limits.idle_timeout),
            };
            tokio::select! {
                _ = served.as_mut() => break,
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = conn.phase.load(Ordering::Acquire);
                    let moved = pool.epoch + Duration::from_millis(conn.since.load(Ordering::Relaxed)) != since;
                    if now == phase && !moved && phase != BUSY {
                        counters.timed_out(if phase == IDLE { "idle" } else { "header" });
                        break;
                    }
                }
                _ = conn.changed.notified() => {}
                _ = conn.evict.notified() => {
                    if conn.phase.load(Ordering::Acquire) != BUSY {
                        counters.evicted.inc();
                        break;
                    }
                    conn.evicting.store(false, Ordering::Relaxed);
                }
                _ = signal.closed(), if !stopping => {
                    stopping = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A response body that marks its connection IDLE once dropped (written out, or abandoned).
struct UntilWritten {
    body: Body,
    conn: Arc<Conn>,
    pool: Arc<Pool>,
}

impl axum::body::HttpBody for UntilWritten {
    type Data = axum::body::Bytes;
    type Error = axum::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UntilWritten {
    fn drop(&mut self) {
        self.pool.set(&self.conn, IDLE);
    }
}

/// A connection's place in the pool, given back when its task ends.
struct Slot {
    id: u64,
    pool: Arc<Pool>,
    counters: Counters,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pool.conns().remove(&self.id);
        self.counters.open.dec();
        self.pool.freed.notify_one();
    }
}

/// A request's declared body length, when it gives one that parses.
fn content_length(request: &Request<Incoming>) -> Option<u64> {
    request.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn closing(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Request bodies read or being handled at once hold at most this many times `--max-body`
/// (with the default, 256 MiB); more wait for room.
const BODIES: u64 = 64;

/// A body over `--max-body` by no more than this many times is read to its end (and thrown
/// away) before the 413, so that the client, still sending, reads the answer rather than a
/// reset connection; a longer one is answered from its `Content-Length` alone.
const DRAIN: u64 = 4;

/// What reading a body came to.
enum Read {
    Whole(axum::body::Bytes),
    /// Longer than the limit: this many bytes, or more.
    TooLarge(u64),
    Broken(hyper::Error),
}

/// Reads a body, keeping at most `max` bytes and reading on (discarding) up to `drain`.
async fn read_body(mut body: Incoming, max: u64, drain: u64) -> Read {
    let mut kept = Vec::new();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return Read::Broken(e),
        };
        let Ok(data) = frame.into_data() else { continue };
        total += data.len() as u64;
        if total <= max {
            kept.extend_from_slice(&data);
        } else if total > drain {
            return Read::TooLarge(total);
        }
    }
    if total > max {
        Read::TooLarge(total)
    } else {
        Read::Whole(kept.into())
    }
}

/// The body read within its limits (413 from the header, 413 past the limit, 408 past the
/// time), then the routes.
async fn handle(
    request: Request<Incoming>,
    mut router: axum::Router,
    limits: Arc<Limits>,
    counters: Counters,
    shape: ErrorShape,
    bodies: Arc<Semaphore>,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    let max = limits.max_body as u64;
    let drain = max.saturating_mul(DRAIN);
    let too_large = |said: String| {
        counters.too_large.inc();
        closing(shape(
            &path,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {said}; this server takes at most {max} (--max-body): send fewer rows per request"),
        ))
    };
    let declared = content_length(&request);
    if let Some(length) = declared.filter(|n| *n > drain) {
        return too_large(format!("{length} bytes (Content-Length)"));
    }
    // Room for the body (its length when known — none for a GET —, else the most it may
    // be) until it is answered.
    let length = hyper::body::Body::size_hint(request.body()).exact().unwrap_or(max);
    let room = kib(length.min(max)).max(1);
    let _room = match tokio::time::timeout(limits.body_timeout, bodies.acquire_many_owned(room)).await {
        Ok(Ok(permit)) => permit,
        _ => {
            return closing(shape(
                &path,
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server is reading {BODIES} × --max-body of request bodies at once and had no room for this one within {} (--body-timeout): send it again shortly",
                    humane(limits.body_timeout)
                ),
            ))
        }
    };
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(limits.body_timeout, read_body(body, max, drain)).await {
        Ok(Read::Whole(bytes)) => bytes,
        Ok(Read::TooLarge(read)) => {
            return too_large(match declared {
                Some(length) => format!("{length} bytes (Content-Length)"),
                None => format!("over {} bytes ({read} read)", max),
            })
        }
        Ok(Read::Broken(e)) => {
            return closing(shape(&path, StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}")))
        }
        Err(_) => {
            counters.timed_out("body");
            return closing(shape(
                &path,
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {} (--body-timeout)", humane(limits.body_timeout)),
            ));
        }
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Bytes in KiB, rounded up (the unit of the body budget's permits).
fn kib(bytes: u64) -> u32 {
    bytes.div_ceil(1024).min(u64::from(u32::MAX >> 4)) as u32
}

/// A duration as the flags write it.
pub fn humane(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_flags_write_them() {
        assert_eq!(humane(Duration::from_millis(1500)), "1500ms");
        assert_eq!(humane(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn the_connection_cap_leaves_room_for_the_servers_own_files() {
        assert_eq!(connection_cap(4096, Some(1024)), 896);
        assert_eq!(connection_cap(4096, Some(20_000)), 4096);
        assert_eq!(connection_cap(4096, Some(256)), 192);
        assert_eq!(connection_cap(4096, Some(10)), 1);
        assert_eq!(connection_cap(100, None), 100);
    }

    #[test]
    fn a_burst_is_logged_once() {
        let mut b = Burst::new(Duration::from_secs(60));
        assert_eq!(b.note(), Some(0));
        assert_eq!((0..894).filter_map(|_| b.note()).count(), 0);
        b.last = Some(Instant::now() - Duration::from_secs(61));
        assert_eq!(b.note(), Some(894), "the next report says how many were quiet");
    }
}
