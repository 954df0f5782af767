//! `Content-Encoding` on the way in, the same on both engines: gzip, deflate and br are
//! decoded as the chunks arrive, straight into the body's sink (each decoder writes its
//! output there a buffer at a time), so `--max-body` bounds what a small compressed body may
//! become: a bomb is `too_large` and is never held in memory. Any other coding passes through
//! as it was sent.

use std::io::{self, Write};

use crate::sink::{BodySink, SinkError};

/// What the core asks for: gzip always (what both engines asked for before decoding moved
/// here); with `--compressed` also deflate and br, as `curl --compressed` does.
pub(crate) fn accept_encoding(compressed: bool) -> &'static str {
    if compressed {
        "gzip, deflate, br"
    } else {
        "gzip"
    }
}

/// The sink, as the writer a decoder writes its output to.
struct IntoSink {
    sink: BodySink,
    /// Why the sink refused, kept to be reported as itself rather than as an I/O error.
    refused: Option<SinkError>,
}

impl Write for IntoSink {
    fn write(&mut self, decoded: &[u8]) -> io::Result<usize> {
        match self.sink.push(decoded) {
            Ok(()) => Ok(decoded.len()),
            Err(e) => {
                self.refused = Some(e);
                Err(io::Error::other(
                    "the body's sink refused the decoded bytes",
                ))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a decoding stage writes: the body's sink, or the stage that undoes the coding
/// applied before it.
enum Out {
    Sink(IntoSink),
    Next(Box<Decoder>),
}

impl Write for Out {
    fn write(&mut self, decoded: &[u8]) -> io::Result<usize> {
        match self {
            Out::Sink(sink) => sink.write(decoded),
            Out::Next(next) => next.write_all(decoded).map(|()| decoded.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Out {
    /// Why the sink at the end of the chain refused, if it did.
    fn refused(&mut self) -> Option<SinkError> {
        match self {
            Out::Sink(sink) => sink.refused.take(),
            Out::Next(next) => next.out().refused(),
        }
    }

    /// The sink, once every stage has its last bytes out.
    fn finish(self) -> Result<BodySink, DecodeError> {
        match self {
            Out::Sink(into) => match into.refused {
                Some(refused) => Err(DecodeError::Sink(refused)),
                None => Ok(into.sink),
            },
            Out::Next(next) => next.finish(),
        }
    }
}

enum Inner {
    Gzip(flate2::write::GzDecoder<Out>),
    Deflate(flate2::write::ZlibDecoder<Out>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Out>>),
}

/// A body being decoded into its sink: one stage per coding, the last applied first. (The
/// core makes one only when a first byte of body arrives: an empty body has nothing to
/// decode.)
pub(crate) struct Decoder {
    inner: Inner,
}

/// Why decoding stopped: the sink refused (too large, a file error), or the body is not
/// what its coding says.
pub(crate) enum DecodeError {
    Sink(SinkError),
    Corrupt(io::Error),
}

impl Decoder {
    /// The codings of a response's `Content-Encoding` lines, in the order they were applied,
    /// as records name them: `None` when there are none, or when one is a coding poolfetch
    /// does not decode (the body is then kept as it was sent).
    pub(crate) fn codings(headers: &http::HeaderMap) -> Option<Vec<&'static str>> {
        let mut codings = Vec::new();
        for line in headers.get_all(http::header::CONTENT_ENCODING) {
            for coding in line.to_str().ok()?.split(',') {
                match coding.trim().to_ascii_lowercase().as_str() {
                    "" | "identity" => {}
                    "gzip" | "x-gzip" => codings.push("gzip"),
                    "deflate" => codings.push("deflate"),
                    "br" => codings.push("br"),
                    _ => return None,
                }
            }
        }
        (!codings.is_empty()).then_some(codings)
    }

    /// A decoder of `codings` (in the order they were applied, from
    /// [`codings`](Self::codings)) writing into `sink`.
    pub(crate) fn new(codings: &[&'static str], sink: BodySink) -> Decoder {
        let mut out = Out::Sink(IntoSink {
            sink,
            refused: None,
        });
        let mut stages = codings.iter();
        loop {
            let coding = stages.next().copied().unwrap_or("gzip");
            let inner = match coding {
                "gzip" => Inner::Gzip(flate2::write::GzDecoder::new(out)),
                "deflate" => Inner::Deflate(flate2::write::ZlibDecoder::new(out)),
                _ => Inner::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                    out, 4096,
                ))),
            };
            let stage = Decoder { inner };
            if stages.len() == 0 {
                return stage;
            }
            out = Out::Next(Box::new(stage));
        }
    }

    fn out(&mut self) -> &mut Out {
        match &mut self.inner {
            Inner::Gzip(d) => d.get_mut(),
            Inner::Deflate(d) => d.get_mut(),
            Inner::Brotli(d) => d.get_mut(),
        }
    }

    fn write_all(&mut self, chunk: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(d) => d.write_all(chunk),
            Inner::Deflate(d) => d.write_all(chunk),
            Inner::Brotli(d) => d.write_all(chunk),
        }
    }

    /// Decode `chunk` into the sink.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        self.write_all(chunk).map_err(|e| self.why(e))
    }

    /// The end of the body: the last decoded bytes, and the sink back; an error when the
    /// body stopped part-way through its coding.
    pub(crate) fn finish(mut self) -> Result<BodySink, DecodeError> {
        // Finish in place first, so a refusal of the last bytes is still told apart.
        let done = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish(),
            Inner::Deflate(d) => d.try_finish(),
            Inner::Brotli(d) => d.close(),
        };
        if let Err(e) = done {
            return Err(self.why(e));
        }
        let out = match self.inner {
            Inner::Gzip(d) => d.finish(),
            Inner::Deflate(d) => d.finish(),
            Inner::Brotli(d) => d.into_inner().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "the br stream ended part-way")
            }),
        };
        match out {
            Ok(out) => out.finish(),
            Err(e) => Err(DecodeError::Corrupt(e)),
        }
    }

    fn why(&mut self, error: io::Error) -> DecodeError {
        self.out()
            .refused()
            .map_or(DecodeError::Corrupt(error), DecodeError::Sink)
    }
}
