//! The fault listener: a second port where every connection is answered by hand, to break
//! HTTP in ways a real HTTP library will not produce (tests only; loopback by default).
//!
//! Each connection sends one request; the path picks the fault:
//! `/reset-before-headers`, `/malformed-status`, `/garbage`, `/truncated-chunked`,
//! `/short-body` (Content-Length longer than the body), `/hang` (never answers),
//! `/keep-alive-then-close` (a complete keep-alive response, then the connection is closed:
//! a client that reuses it finds it dead), and `/range/KIND/N`: N bytes of `/bytes/N`'s
//! stream with its ETag, answering `Range: bytes=S-` with a broken 206 (KIND
//! `wrong-offset`: a range that starts at 0; `no-content-range`; `other-etag`; `too-many`: 100
//! bytes more than the range announces) and a plain GET with a 200 — or, for `always-206`,
//! every request with a 206 of the whole body.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::State;

/// How long `/hang` holds a connection before closing it.
const HANG: Duration = Duration::from_secs(60);

pub(super) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        state.counters.connections.fetch_add(1, Ordering::SeqCst);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _ = answer(stream, &state).await;
        });
    }
}

async fn answer(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (path, range_start) = read_request_head(&mut stream).await?;
    state.counters.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(reply) = bad_range(&path, range_start) {
        stream.write_all(&reply).await?;
        return stream.shutdown().await;
    }
    let reply: &[u8] = match path.as_str() {
        "/reset-before-headers" => {
            // Linger 0: close sends RST instead of FIN.
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
            return Ok(());
        }
        "/malformed-status" => b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        "/garbage" => b"this is not HTTP at all\r\n\r\n",
        "/truncated-chunked" => {
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n"
        }
        "/keep-alive-then-close" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok",
        "/short-body" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nonly ten!!",
        "/hang" => {
            state.timer.sleep(HANG).await;
            return Ok(());
        }
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    };
    stream.write_all(reply).await?;
    stream.shutdown().await
}

/// Read a request head (at most 16 KiB) and return its path and the start of its
/// `Range: bytes=S-`, if any.
async fn read_request_head(stream: &mut TcpStream) -> std::io::Result<(String, Option<u64>)> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    let range_start = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let value = value.trim().strip_prefix("bytes=")?;
        name.eq_ignore_ascii_case("range")
            .then(|| value.split('-').next()?.trim().parse().ok())?
    });
    Ok((path, range_start))
}

/// The whole reply of `/range/KIND/N` to a request whose range starts at `range_start`.
fn bad_range(path: &str, range_start: Option<u64>) -> Option<Vec<u8>> {
    let rest = path.strip_prefix("/range/")?;
    let (kind, n) = rest.split_once('/')?;
    let n: u64 = n.parse().ok().filter(|n| *n <= 16 << 20)?;
    let bytes = |from: u64, to: u64| -> Vec<u8> {
        (from..to).map(|o| b'a' + (o % 65_536 % 26) as u8).collect()
    };
    let reply = |status: &str, headers: String, body: Vec<u8>| {
        let mut reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        reply.extend_from_slice(&body);
        reply
    };
    let etag = format!("ETag: \"bytes-{n}\"\r\n");
    let whole = || reply("200 OK", etag.clone(), bytes(0, n));
    let partial = |headers: String, body| reply("206 Partial Content", headers, body);
    Some(match (kind, range_start) {
        ("always-206", _) => partial(
            format!(
                "{etag}Content-Range: bytes 0-{}/{n}\r\n",
                n.saturating_sub(1)
            ),
            bytes(0, n),
        ),
        (_, None) => whole(),
        (_, Some(start)) if start >= n => whole(),
        ("wrong-offset", Some(_)) => partial(
            format!("{etag}Content-Range: bytes 0-{}/{n}\r\n", n - 1),
            bytes(0, n),
        ),
        ("no-content-range", Some(start)) => partial(etag.clone(), bytes(start, n)),
        ("other-etag", Some(start)) => partial(
            format!(
                "ETag: \"other\"\r\nContent-Range: bytes {start}-{}/{n}\r\n",
                n - 1
            ),
            bytes(start, n),
        ),
        ("too-many", Some(start)) => partial(
            format!("{etag}Content-Range: bytes {start}-{}/{n}\r\n", n - 1),
            bytes(start, n + 100),
        ),
        _ => return None,
    })
}
