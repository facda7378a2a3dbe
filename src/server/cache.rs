//! A bounded LRU of serialised responses, with single flight: concurrent
//! requests for the same key wait for one computation.
//!
//! Keys carry the store's data version, so an entry computed before an
//! ingest is never served after it (it ages out of the LRU).

use super::problem::ApiError;
use bytes::Bytes;
use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

type Flight = Arc<OnceCell<Result<Encoded, ApiError>>>;

/// A response body, serialised once: plain, gzip-compressed (when large
/// enough to be worth it), and the number of features it holds.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The body.
    pub plain: Bytes,
    /// The body, gzip-compressed.
    pub gzip: Option<Bytes>,
    /// Features in it (for the audit log).
    pub features: u64,
    /// Its ETag, computed on first use and shared by every clone, so a
    /// cache hit does not digest the body again.
    tag: Arc<std::sync::OnceLock<String>>,
}

impl Encoded {
    /// Encodes a body; compresses it when larger than 1 KiB.
    pub fn new(plain: Vec<u8>, features: u64) -> Encoded {
        let gzip = (plain.len() > 1024)
            .then(|| gzip(&plain).map(Bytes::from))
            .flatten();
        Encoded {
            plain: Bytes::from(plain),
            gzip,
            features,
            tag: Arc::default(),
        }
    }

    /// The body's ETag as `digest` makes it, computed once per body.
    pub fn tag(&self, digest: impl FnOnce(&[u8]) -> String) -> &str {
        self.tag.get_or_init(|| digest(&self.plain))
    }

    fn weight(&self) -> usize {
        self.plain.len() + self.gzip.as_ref().map_or(0, |g| g.len())
    }
}

/// Bytes per part compressed on its own in [`gzip`].
const GZIP_PART: usize = if cfg!(test) { 1000 } else { 1 << 20 };

/// `plain` gzip-compressed at the fastest level (a layer of a million
/// events is answered in a fraction of the time, a little larger), in
/// parts of [`GZIP_PART`] bytes compressed in parallel as pigz does: every
/// part but the last ends on a full flush (byte-aligned, no reference to
/// earlier bytes), so the raw deflate streams join into one, in one gzip
/// member that any gzip reader reads.
fn gzip(plain: &[u8]) -> Option<Vec<u8>> {
    use flate2::{Compress, Compression, Crc, FlushCompress, Status};
    use rayon::prelude::*;
    let parts: Vec<&[u8]> = plain.chunks(GZIP_PART).collect();
    let last = parts.len().checked_sub(1)?;
    let deflated: Vec<(Vec<u8>, Crc)> = parts
        .par_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut z = Compress::new(Compression::fast(), false);
            let flush = if i == last {
                FlushCompress::Finish
            } else {
                FlushCompress::Full
            };
            let mut out = Vec::with_capacity(part.len() / 4 + 1024);
            loop {
                if out.capacity() - out.len() < 1024 {
                    out.reserve(out.capacity());
                }
                let from = usize::try_from(z.total_in()).ok()?;
                let status = z.compress_vec(part.get(from..)?, &mut out, flush).ok()?;
                let consumed = usize::try_from(z.total_in()).ok()? == part.len();
                match status {
                    Status::StreamEnd => break,
                    // The flush is complete when output room was left.
                    _ if i != last && consumed && out.len() < out.capacity() => break,
                    _ => {}
                }
            }
            let mut crc = Crc::new();
            crc.update(part);
            Some((out, crc))
        })
        .collect::<Option<_>>()?;
    // Header: deflate, no name, no time, fastest level (XFL 4), OS unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];
    out.reserve(deflated.iter().map(|d| d.0.len()).sum::<usize>() + 8);
    let mut crc = Crc::new();
    for (d, c) in &deflated {
        out.extend_from_slice(d);
        crc.combine(c);
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    Some(out)
}

/// The cache.
pub struct ResponseCache {
    lru: Mutex<Lru>,
    inflight: Mutex<HashMap<String, Flight>>,
}

struct Lru {
    map: Option<lru::LruCache<String, Encoded>>,
    bytes: usize,
    max_bytes: usize,
}

impl ResponseCache {
    /// A cache of at most `entries` responses and `max_bytes` in total
    /// (`entries == 0` disables caching, single flight stays).
    pub fn new(entries: usize, max_bytes: usize) -> Self {
        ResponseCache {
            lru: Mutex::new(Lru {
                map: NonZeroUsize::new(entries).map(lru::LruCache::new),
                bytes: 0,
                max_bytes,
            }),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// A cached response.
    pub fn get(&self, key: &str) -> Option<Encoded> {
        let mut l = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        l.map.as_mut()?.get(key).cloned()
    }

    fn put(&self, key: String, value: Encoded) {
        let mut l = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        let Lru {
            map,
            bytes,
            max_bytes,
        } = &mut *l;
        let Some(map) = map.as_mut() else { return };
        if value.weight() > *max_bytes {
            return;
        }
        *bytes += value.weight() + key.len();
        if let Some((k, old)) = map.push(key, value) {
            *bytes -= old.weight() + k.len();
        }
        while *bytes > *max_bytes {
            match map.pop_lru() {
                Some((k, v)) => *bytes -= v.weight() + k.len(),
                None => break,
            }
        }
    }

    /// The cached response for `key`, or the result of `compute` (run once
    /// however many requests ask at the same time). Errors are not cached.
    pub async fn get_or_compute<F, Fut>(&self, key: String, compute: F) -> Result<Encoded, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Encoded, ApiError>>,
    {
        if let Some(b) = self.get(&key) {
            return Ok(b);
        }
        let flight: Flight = {
            let mut f = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            f.entry(key.clone()).or_default().clone()
        };
        let out = flight
            .get_or_init(|| async {
                let r = compute().await;
                if let Ok(b) = &r {
                    self.put(key.clone(), b.clone());
                }
                r
            })
            .await
            .clone();
        let mut f = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if f.get(&key).is_some_and(|x| Arc::ptr_eq(x, &flight)) {
            f.remove(&key);
        }
        out
    }

    /// Drops every cached response (the store changed: keys carry the
    /// data version, so none would be served again).
    pub fn clear(&self) {
        let mut l = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(map) = l.map.as_mut() {
            map.clear();
        }
        l.bytes = 0;
    }

    /// Number of cached responses.
    pub fn len(&self) -> usize {
        let l = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        l.map.as_ref().map_or(0, |m| m.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts joined are one gzip member that reads back to the body,
    /// whatever the number of parts.
    #[test]
    fn parallel_gzip_reads_back() {
        use std::io::Read;
        let mut x = 1u64;
        for n in [1usize, 999, 1000, 1001, 5_500, 20_000] {
            let plain: Vec<u8> = (0..n)
                .map(|i| {
                    x = crate::rng::mix64(x);
                    // Half text-like (compressible), half noise.
                    if i % 2 == 0 {
                        b"abcabcx"[i % 7]
                    } else {
                        x as u8
                    }
                })
                .collect();
            let z = gzip(&plain).unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, plain, "{n}");
            // One member: a multi-member reader reads the same.
            let mut all = Vec::new();
            flate2::read::MultiGzDecoder::new(&z[..])
                .read_to_end(&mut all)
                .unwrap();
            assert_eq!(all, plain);
        }
        assert!(gzip(&[]).is_none());
    }

    #[tokio::test]
    async fn bounded_and_single_flight() {
        let c = ResponseCache::new(2, 1000);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        for k in ["a", "b", "a", "c", "a"] {
            let b = c
                .get_or_compute(k.to_string(), || async {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(Encoded::new(k.repeat(10).into_bytes(), 0))
                })
                .await
                .unwrap();
            assert_eq!(b.plain.len(), 10);
            assert!(b.gzip.is_none());
        }
        // a, b, c computed; a hit twice.
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(c.len(), 2);
        let small = ResponseCache::new(10, 25);
        for k in ["x", "y", "z"] {
            small.put(k.into(), Encoded::new(vec![0u8; 10], 0));
        }
        assert_eq!(small.len(), 2);
        small.clear();
        assert!(small.is_empty() && small.get("z").is_none());
        small.put("w".into(), Encoded::new(vec![0u8; 10], 0));
        small.put("v".into(), Encoded::new(vec![0u8; 10], 0));
        assert_eq!(small.len(), 2, "clear resets the byte count too");
        let big = Encoded::new(vec![b'a'; 10_000], 3);
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&big.gzip.unwrap()[..]),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, vec![b'a'; 10_000]);
    }
}
