//! The fault listener: a second port where every connection is answered by hand, to break
//! HTTP in ways a real HTTP library will not produce (tests only; loopback by default).
//!
//! Each connection sends one request; the path picks the fault:
//! `/reset-before-headers`, `/malformed-status`, `/garbage`, `/truncated-chunked`,
//! `/short-body` (Content-Length longer than the body), `/hang` (never answers),
//! `/keep-alive-then-close` (a complete keep-alive response, then the connection is closed:
//! a client that reuses it finds it dead).

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
    let path = read_request_path(&mut stream).await?;
    state.counters.requests.fetch_add(1, Ordering::SeqCst);
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

/// Read a request head (at most 16 KiB) and return its path.
async fn read_request_path(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    Ok(target.split('?').next().unwrap_or("/").to_string())
}
