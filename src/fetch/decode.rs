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

enum Inner {
    Gzip(flate2::write::GzDecoder<IntoSink>),
    Deflate(flate2::write::ZlibDecoder<IntoSink>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<IntoSink>>),
}

/// A body being decoded into its sink.
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
    /// The coding of a `Content-Encoding` value, as records name it, if poolfetch decodes it.
    pub(crate) fn coding(encoding: &str) -> Option<&'static str> {
        match encoding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some("gzip"),
            "deflate" => Some("deflate"),
            "br" => Some("br"),
            _ => None,
        }
    }

    /// A decoder of `coding` (one [`coding`](Self::coding) returned) writing into `sink`.
    pub(crate) fn new(coding: &'static str, sink: BodySink) -> Decoder {
        let into = IntoSink {
            sink,
            refused: None,
        };
        let inner = match coding {
            "gzip" => Inner::Gzip(flate2::write::GzDecoder::new(into)),
            "deflate" => Inner::Deflate(flate2::write::ZlibDecoder::new(into)),
            _ => Inner::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                into, 4096,
            ))),
        };
        Decoder { inner }
    }

    /// Decode `chunk` into the sink.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        let written = match &mut self.inner {
            Inner::Gzip(d) => d.write_all(chunk),
            Inner::Deflate(d) => d.write_all(chunk),
            Inner::Brotli(d) => d.write_all(chunk),
        };
        written.map_err(|e| self.why(e))
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
        let into = match self.inner {
            Inner::Gzip(d) => d.finish(),
            Inner::Deflate(d) => d.finish(),
            Inner::Brotli(d) => d.into_inner().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "the br stream ended part-way")
            }),
        };
        match into {
            Ok(into) => match into.refused {
                Some(refused) => Err(DecodeError::Sink(refused)),
                None => Ok(into.sink),
            },
            Err(e) => Err(DecodeError::Corrupt(e)),
        }
    }

    fn why(&mut self, error: io::Error) -> DecodeError {
        let refused = match &mut self.inner {
            Inner::Gzip(d) => d.get_mut().refused.take(),
            Inner::Deflate(d) => d.get_mut().refused.take(),
            Inner::Brotli(d) => d.get_mut().refused.take(),
        };
        refused.map_or(DecodeError::Corrupt(error), DecodeError::Sink)
    }
}
