//! Reading a response body under a limit, decoding gzip, deflate and brotli on the way.
//!
//! The limit applies to the decoded bytes kept; once it is passed the collector says so
//! and the caller stops reading and closes the connection, so an endless body or a
//! decompression bomb costs at most the limit in memory and one slice's worth of
//! decoding in CPU. Raw input is fed to decoders in small slices for that reason.

use std::io::Write;

use brotli_decompressor::DecompressorWriter;
use flate2::write::{GzDecoder, ZlibDecoder};

/// Raw bytes fed to a decoder at a time: bounds the work done past the limit (gzip's
/// maximum ratio is about 1:1032, so at most ~4 MiB of output is produced and dropped).
const SLICE: usize = 4096;

/// A `Write` that keeps the first `limit` bytes, counts the rest and drops them.
#[derive(Debug)]
pub(crate) struct Capped {
    kept: Vec<u8>,
    limit: usize,
    seen: u64,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.seen += buf.len() as u64;
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Capped),
    Gzip(Box<GzDecoder<Capped>>),
    Zlib(Box<ZlibDecoder<Capped>>),
    Brotli(Box<DecompressorWriter<Capped>>),
}

/// Collects a body.
pub(crate) struct BodyCollector {
    decoder: Decoder,
}

impl std::fmt::Debug for BodyCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyCollector").finish_non_exhaustive()
    }
}

/// A collected body.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) bytes: Vec<u8>,
    /// Decoded bytes seen, kept or not.
    #[allow(dead_code)] // read by tests; kept for diagnostics
    pub(crate) seen: u64,
    pub(crate) truncated: bool,
}

impl BodyCollector {
    /// A collector for the given `Content-Encoding` (unknown codings are kept raw).
    pub(crate) fn new(content_encoding: Option<&str>, limit: usize) -> Self {
        let sink = Capped {
            kept: Vec::new(),
            limit,
            seen: 0,
        };
        let coding = content_encoding.map(|c| c.trim().to_ascii_lowercase());
        let decoder = match coding.as_deref() {
            Some("gzip" | "x-gzip") => Decoder::Gzip(Box::new(GzDecoder::new(sink))),
            Some("deflate") => Decoder::Zlib(Box::new(ZlibDecoder::new(sink))),
            Some("br") => Decoder::Brotli(Box::new(DecompressorWriter::new(sink, SLICE))),
            _ => Decoder::Identity(sink),
        };
        Self { decoder }
    }

    fn sink(&self) -> &Capped {
        match &self.decoder {
            Decoder::Identity(s) => s,
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Zlib(d) => d.get_ref(),
            Decoder::Brotli(d) => d.get_ref(),
        }
    }

    /// Whether more than the limit has been seen: stop reading.
    pub(crate) fn is_over(&self) -> bool {
        let sink = self.sink();
        sink.seen > sink.limit as u64
    }

    /// Feeds raw bytes; an error means the encoding is broken.
    pub(crate) fn push(&mut self, raw: &[u8]) -> Result<(), String> {
        for slice in raw.chunks(SLICE) {
            if self.is_over() {
                return Ok(());
            }
            let written = match &mut self.decoder {
                Decoder::Identity(s) => s.write_all(slice),
                Decoder::Gzip(d) => d.write_all(slice),
                Decoder::Zlib(d) => d.write_all(slice),
                Decoder::Brotli(d) => d.write_all(slice),
            };
            written.map_err(|e| format!("body does not decode: {e}"))?;
        }
        Ok(())
    }

    /// Ends the body. `complete` is false when reading stopped at the limit, in which
    /// case an unfinished compressed stream is expected and not an error.
    pub(crate) fn finish(mut self, complete: bool) -> Result<Collected, String> {
        let broken = |e: std::io::Error| format!("body does not decode: {e}");
        if complete {
            match &mut self.decoder {
                Decoder::Identity(_) => {}
                Decoder::Gzip(d) => d.try_finish().map_err(broken)?,
                Decoder::Zlib(d) => d.try_finish().map_err(broken)?,
                Decoder::Brotli(d) => d.close().map_err(broken)?,
            }
        }
        let sink = match &mut self.decoder {
            Decoder::Identity(s) => s,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zlib(d) => d.get_mut(),
            Decoder::Brotli(d) => d.get_mut(),
        };
        let truncated = sink.seen > sink.limit as u64;
        Ok(Collected {
            bytes: std::mem::take(&mut sink.kept),
            seen: sink.seen,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn identity_keeps_up_to_the_limit() {
        let mut c = BodyCollector::new(None, 10);
        c.push(b"0123456789").unwrap();
        assert!(!c.is_over());
        c.push(b"abc").unwrap();
        assert!(c.is_over());
        let got = c.finish(false).unwrap();
        assert_eq!(got.bytes, b"0123456789");
        assert!(got.truncated);
    }

    #[test]
    fn gzip_decodes_and_a_bomb_stops_early() {
        let mut c = BodyCollector::new(Some("gzip"), 1024);
        c.push(&gzip(b"hello world")).unwrap();
        let got = c.finish(true).unwrap();
        assert_eq!(got.bytes, b"hello world");
        assert!(!got.truncated);

        let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
        let mut c = BodyCollector::new(Some("gzip"), 1024 * 1024);
        let mut fed = 0;
        for chunk in bomb.chunks(16 * 1024) {
            c.push(chunk).unwrap();
            fed += chunk.len();
            if c.is_over() {
                break;
            }
        }
        assert!(c.is_over());
        assert!(fed < bomb.len(), "stopped before the whole bomb was fed");
        let got = c.finish(false).unwrap();
        assert_eq!(got.bytes.len(), 1024 * 1024);
        assert!(got.seen < 8 * 1024 * 1024, "decoded {} bytes", got.seen);
    }

    #[test]
    fn broken_gzip_is_an_error() {
        let mut c = BodyCollector::new(Some("gzip"), 1024);
        let r = c
            .push(b"definitely not gzip")
            .and_then(|_| c.finish(true).map(|_| ()));
        assert!(r.is_err());
    }
}
