//! The fast path of the GeoJSON reader: a FeatureCollection's `features`
//! array is split into its elements by scanning bytes (strings, escapes and
//! nesting depth), not through serde_json's byte-at-a-time reader. Each
//! element's syntax is still checked by serde_json (on the element's own
//! text, errors positioned in the input: here, or for an object read for the
//! ingest, by its caller, see [`check_syntax`]), and the top-level members around
//! the array go through the same checks as the streaming path
//! ([`super::geojson`]), which takes over whenever the start of the document
//! is anything but a plain FeatureCollection.

use crate::model::json::TextPos;
use std::io::BufRead;

/// A byte reader that knows the line and column it stands at.
pub(super) struct Scan<R> {
    pub(super) r: R,
    pub(super) offset: u64,
    pub(super) line: usize,
    /// Offset of the first byte of the current line.
    line_start: u64,
}

/// What a scan stopped at: a message with its position, or the end of input.
type Scanned<T> = Result<T, String>;

impl<R: BufRead> Scan<R> {
    pub(super) fn new(r: R) -> Self {
        Scan {
            r,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Where the next byte is.
    pub(super) fn pos(&self) -> TextPos {
        TextPos {
            line: self.line,
            column: (self.offset - self.line_start) as usize + 1,
        }
    }

    pub(super) fn error(&self, what: &str) -> String {
        let at = self.pos();
        format!("{what} at line {} column {}", at.line, at.column)
    }

    fn advance(offset: &mut u64, line: &mut usize, line_start: &mut u64, bytes: &[u8]) {
        // SIMD searches: most features hold one newline (at their end) or none.
        if let Some(last) = memchr::memrchr(b'\n', bytes) {
            *line += 1 + memchr::memchr_iter(b'\n', &bytes[..last]).count();
            *line_start = *offset + last as u64 + 1;
        }
        *offset += bytes.len() as u64;
    }

    /// Consumes `n` bytes that are in the buffer.
    pub(super) fn consume(&mut self, n: usize) -> Scanned<()> {
        let buf = self.r.fill_buf().map_err(|e| e.to_string())?;
        let n = n.min(buf.len());
        Self::advance(
            &mut self.offset,
            &mut self.line,
            &mut self.line_start,
            &buf[..n],
        );
        self.r.consume(n);
        Ok(())
    }

    /// Skips JSON whitespace; the next byte, not consumed (`None` at the end).
    pub(super) fn skip_ws(&mut self) -> Scanned<Option<u8>> {
        loop {
            let buf = self.r.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                Some(k) => {
                    let b = buf[k];
                    self.consume(k)?;
                    return Ok(Some(b));
                }
                None => {
                    let n = buf.len();
                    self.consume(n)?;
                }
            }
        }
    }

    /// Appends to `out` the bytes of one JSON value (by its boundaries only:
    /// serde_json checks its syntax), or with `depth` 1 everything up to and
    /// including the bracket that closes the value being read. Refuses more
    /// than `limit` bytes while reading, so memory stays bounded.
    pub(super) fn value(&mut self, out: &mut Vec<u8>, depth: usize, limit: usize) -> Scanned<()> {
        let first = self
            .r
            .fill_buf()
            .map_err(|e| e.to_string())?
            .first()
            .copied();
        let scalar = depth == 0 && !matches!(first, Some(b'{' | b'[' | b'"'));
        let (mut depth, mut in_str, mut esc) = (depth, false, false);
        loop {
            let buf = self.r.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                if scalar && !out.is_empty() {
                    return Ok(());
                }
                return Err(self.error("EOF while parsing a value"));
            }
            let mut end = None;
            let mut i = 0;
            while i < buf.len() {
                if in_str {
                    if esc {
                        esc = false;
                        i += 1;
                        continue;
                    }
                    // Jump to the string's next quote or backslash.
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        None => i = buf.len(),
                        Some(k) if buf[i + k] == b'\\' => {
                            esc = true;
                            i += k + 1;
                        }
                        Some(k) => {
                            in_str = false;
                            i += k + 1;
                            if depth == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                    }
                } else if scalar {
                    // A number or literal ends where its characters do.
                    let b = buf[i];
                    if !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')) {
                        end = Some(i);
                        break;
                    }
                    i += 1;
                } else {
                    match buf[i] {
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                end = Some(i + 1);
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            let n = end.unwrap_or(buf.len());
            out.extend_from_slice(&buf[..n]);
            self.consume(n)?;
            if end.is_some() {
                return Ok(());
            }
            if out.len() > limit {
                return Err(format!(
                    "a feature (or member) of more than {} bytes, the maximum (see --max-feature-bytes)",
                    limit - super::geojson::LIMIT_BUFFER
                ));
            }
        }
    }
}

/// Where a plain FeatureCollection's `features` array begins in `head` (the
/// start of the document): the offset of the `"features"` key and the offset
/// just past the array's `[`; `None` for anything else, or when the members
/// before it do not fit in `head`.
pub(super) fn find_features(head: &[u8]) -> Option<(usize, usize)> {
    let mut s = Scan::new(head);
    if s.skip_ws().ok()? != Some(b'{') {
        return None;
    }
    s.consume(1).ok()?;
    let mut item = Vec::new();
    loop {
        if s.skip_ws().ok()? != Some(b'"') {
            return None;
        }
        let key_at = s.offset as usize;
        item.clear();
        s.value(&mut item, 0, head.len()).ok()?;
        if s.skip_ws().ok()? != Some(b':') {
            return None;
        }
        s.consume(1).ok()?;
        let next = s.skip_ws().ok()??;
        if item == b"\"features\"" {
            if next != b'[' {
                return None;
            }
            s.consume(1).ok()?;
            return Some((key_at, s.offset as usize));
        }
        item.clear();
        s.value(&mut item, 0, head.len()).ok()?;
        if s.skip_ws().ok()? != Some(b',') {
            return None;
        }
        s.consume(1).ok()?;
    }
}

/// One element's bytes as text, or where in the input (it began at `at`)
/// they stop being UTF-8.
pub(super) fn utf8(bytes: Vec<u8>, at: TextPos) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..valid];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        let p = at.locate(line, column);
        format!("invalid UTF-8 at line {} column {}", p.line, p.column)
    })
}

/// Checks one element's text with serde_json, as the streaming path does
/// (syntax only), naming the position in the input (it began at `at`).
pub(super) fn check_syntax(text: &str, at: TextPos) -> Result<(), String> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(()),
        Err(e) => Err(relocate(&e, at)),
    }
}

/// serde_json's message for `e`, positioned in the input for a text that
/// began at `at`.
pub(super) fn relocate(e: &serde_json::Error, at: TextPos) -> String {
    if e.line() == 0 {
        return e.to_string();
    }
    positioned(e, at.locate(e.line(), e.column()))
}

/// serde_json's message for `e` with its position replaced by `at`.
pub(super) fn positioned(e: &serde_json::Error, at: TextPos) -> String {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let bare = message.strip_suffix(&suffix).unwrap_or(&message);
    format!("{bare} at line {} column {}", at.line, at.column)
}
