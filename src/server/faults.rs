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
//!
//! A connection that opens with the HTTP/2 preface (h2c prior knowledge) gets the same faults
//! in HTTP/2's terms, by [`h2c`]: a stream reset before the head, a hang, a head whose
//! `:status` is not a number, bytes that are not frames, a body cut by a reset, a body shorter
//! than its `content-length`, and a GOAWAY after a complete response.

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
    if opens_with_h2_preface(&stream).await? {
        h2c::serve(stream, state).await;
        return Ok(());
    }
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

/// Whether the connection's first bytes are HTTP/2's preface (`PRI * HTTP/2.0…`), looked at
/// without consuming them.
async fn opens_with_h2_preface(stream: &TcpStream) -> std::io::Result<bool> {
    let mut first = [0u8; 3];
    for _ in 0..1000 {
        let n = stream.peek(&mut first).await?;
        if n == 0 || (n < 3 && first[..n] != b"PRI"[..n]) {
            return Ok(false);
        }
        if n == 3 {
            return Ok(&first == b"PRI");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(false)
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

/// The fault routes over h2c. hyper's HTTP/2 server answers; the faults it will not produce
/// (a malformed head, bytes that are not frames) are written straight to the socket, which
/// the connection shares with hyper through [`Shared`].
mod h2c {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::task::{Context, Poll, ready};

    use bytes::Bytes;
    use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
    use hyper::{Response, StatusCode};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;

    use super::{HANG, State};

    /// What a fault route does beside (or instead of) answering.
    enum Reply {
        Answer(Response<FaultBody>),
        /// Reset the stream before any head (hyper resets a stream whose service fails).
        Reset,
        /// Write these bytes to the socket, then never answer.
        Raw(Vec<u8>),
        /// Answer, then close the connection with GOAWAY.
        AnswerThenGoAway(Response<FaultBody>),
        Hang,
    }

    pub(super) async fn serve(stream: TcpStream, state: &State) {
        let socket = Arc::new(stream);
        let streams = Arc::new(AtomicU32::new(0));
        let go_away = Arc::new(tokio::sync::Notify::new());
        let counters = Arc::clone(&state.counters);
        let timer = state.timer.clone();
        let service = {
            let socket = Arc::clone(&socket);
            let go_away = Arc::clone(&go_away);
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                counters.requests.fetch_add(1, Ordering::SeqCst);
                // Client streams are numbered 1, 3, 5… in the order their heads arrive,
                // which is the order hyper calls the service in.
                let stream_id = 2 * streams.fetch_add(1, Ordering::SeqCst) + 1;
                let reply = reply(request.uri().path(), stream_id);
                let (socket, go_away, timer) =
                    (Arc::clone(&socket), Arc::clone(&go_away), timer.clone());
                async move {
                    match reply {
                        Reply::Answer(response) => Ok(response),
                        Reply::AnswerThenGoAway(response) => {
                            go_away.notify_one();
                            Ok(response)
                        }
                        Reply::Reset => Err(io::Error::other("fault: reset before the head")),
                        Reply::Raw(bytes) => {
                            let _ = write_all(&socket, &bytes).await;
                            timer.sleep(HANG).await;
                            Err(io::Error::other("fault: raw bytes written"))
                        }
                        Reply::Hang => {
                            timer.sleep(HANG).await;
                            Err(io::Error::other("fault: hung"))
                        }
                    }
                }
            })
        };
        let connection =
            hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(Shared(socket)), service);
        let mut connection = std::pin::pin!(connection);
        let mut notified = std::pin::pin!(go_away.notified());
        let ended = std::future::poll_fn(|cx| {
            if connection.as_mut().poll(cx).is_ready() {
                Poll::Ready(true)
            } else if notified.as_mut().poll(cx).is_ready() {
                Poll::Ready(false)
            } else {
                Poll::Pending
            }
        })
        .await;
        if !ended {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }

    fn reply(path: &str, stream_id: u32) -> Reply {
        let response = |length: Option<u64>, body: FaultBody| {
            let mut builder = Response::builder().header(CONTENT_TYPE, "text/plain");
            if let Some(length) = length {
                builder = builder.header(CONTENT_LENGTH, length);
            }
            builder
                .body(body)
                .unwrap_or_else(|_| Response::new(FaultBody::Whole(None)))
        };
        match path {
            "/reset-before-headers" => Reply::Reset,
            "/hang" => Reply::Hang,
            "/malformed-status" => Reply::Raw(malformed_head(stream_id)),
            "/garbage" => Reply::Raw(b"this is not HTTP at all\r\n\r\n".to_vec()),
            // The h2 form of a truncated chunked body: the head and five bytes, then (once
            // they are surely out) a stream reset.
            "/truncated-chunked" => Reply::Answer(response(
                None,
                FaultBody::Cut(Some(Bytes::from_static(b"hello")), None),
            )),
            "/short-body" => Reply::Answer(response(
                Some(100),
                FaultBody::Whole(Some(Bytes::from_static(b"only ten!!"))),
            )),
            "/keep-alive-then-close" => Reply::AnswerThenGoAway(response(
                Some(2),
                FaultBody::Whole(Some(Bytes::from_static(b"ok"))),
            )),
            _ => Reply::Answer(
                Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(FaultBody::Whole(None))
                    .unwrap_or_else(|_| Response::new(FaultBody::Whole(None))),
            ),
        }
    }

    /// A fault route's body: whole, or some bytes and then (50 ms later, so the head and the
    /// bytes are out first) an error, which makes hyper reset the stream.
    enum FaultBody {
        Whole(Option<Bytes>),
        Cut(Option<Bytes>, Option<Pin<Box<tokio::time::Sleep>>>),
    }

    impl http_body::Body for FaultBody {
        type Data = Bytes;
        type Error = io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
            match self.get_mut() {
                FaultBody::Whole(data) => {
                    Poll::Ready(data.take().map(|d| Ok(http_body::Frame::data(d))))
                }
                FaultBody::Cut(data, pause) => {
                    if let Some(data) = data.take() {
                        return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
                    }
                    let pause = pause.get_or_insert_with(|| {
                        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(50)))
                    });
                    ready!(pause.as_mut().poll(cx));
                    Poll::Ready(Some(Err(io::Error::other("fault: stream cut mid-body"))))
                }
            }
        }
    }

    /// A HEADERS frame (END_HEADERS | END_STREAM) on `stream_id` whose only field is
    /// `:status: 2x0`, HPACK "literal without indexing, indexed name" (static entry 8).
    fn malformed_head(stream_id: u32) -> Vec<u8> {
        let block = [0x08, 3, b'2', b'x', b'0'];
        let mut frame = vec![0, 0, block.len() as u8, 0x1, 0x4 | 0x1];
        frame.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
        frame.extend_from_slice(&block);
        frame
    }

    async fn write_all(socket: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            socket.writable().await?;
            match socket.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A socket hyper reads and writes while a route may write to it too. Each write is one
    /// `send`, so a route's frame never lands inside one of hyper's.
    struct Shared(Arc<TcpStream>);

    impl AsyncRead for Shared {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            loop {
                ready!(self.0.poll_read_ready(cx))?;
                match self.0.try_read(buf.initialize_unfilled()) {
                    Ok(n) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
    }

    impl AsyncWrite for Shared {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            loop {
                ready!(self.0.poll_write_ready(cx))?;
                match self.0.try_write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    done => return Poll::Ready(done),
                }
            }
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            let _ = rustix::net::shutdown(&*self.0, rustix::net::Shutdown::Write);
            Poll::Ready(Ok(()))
        }
    }
}
