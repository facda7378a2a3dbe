//! A bounds-checked reader of FlatBuffers tables, enough for FlatGeobuf's
//! header and features: every offset, length and vtable is checked against
//! the buffer before it is followed, so a corrupt file is an error, never a
//! panic or a read outside the buffer. (No generated code, no `unsafe`.)

/// A fault of the buffer, described for the message naming the record.
pub(super) type Fault = String;

fn slice(b: &[u8], pos: usize, len: usize) -> Result<&[u8], Fault> {
    pos.checked_add(len)
        .and_then(|end| b.get(pos..end))
        .ok_or_else(|| format!("offset {pos} (+{len}) lies outside its {} bytes", b.len()))
}

pub(super) fn u16_at(b: &[u8], pos: usize) -> Result<u16, Fault> {
    let s = slice(b, pos, 2)?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

pub(super) fn u32_at(b: &[u8], pos: usize) -> Result<u32, Fault> {
    let s = slice(b, pos, 4)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(super) fn u64_at(b: &[u8], pos: usize) -> Result<u64, Fault> {
    let s = slice(b, pos, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

/// A table: its position and its vtable's.
#[derive(Clone, Copy)]
pub(super) struct Table<'a> {
    b: &'a [u8],
    pos: usize,
    vt: usize,
    vt_len: usize,
    size: usize,
}

/// A vector: where its elements start and how many there are.
#[derive(Clone, Copy)]
pub(super) struct Vector<'a> {
    b: &'a [u8],
    start: usize,
    /// The number of elements.
    pub len: usize,
}

impl<'a> Vector<'a> {
    /// The elements as bytes (a `[ubyte]`).
    pub fn bytes(&self) -> &'a [u8] {
        // Checked when the vector was made.
        &self.b[self.start..self.start + self.len]
    }
    /// Element `i` of a `[double]`.
    pub fn f64(&self, i: usize) -> Result<f64, Fault> {
        Ok(f64::from_bits(u64_at(self.b, self.start + i * 8)?))
    }
    /// Element `i` of a `[uint]`.
    pub fn u32(&self, i: usize) -> Result<u32, Fault> {
        u32_at(self.b, self.start + i * 4)
    }
    /// Element `i` of a vector of tables.
    pub fn table(&self, i: usize) -> Result<Table<'a>, Fault> {
        let at = self.start + i * 4;
        let off = u32_at(self.b, at)? as usize;
        Table::at(self.b, at + off)
    }
}

impl<'a> Table<'a> {
    /// The root table of a buffer (its first 4 bytes the root's offset).
    pub fn root(b: &'a [u8]) -> Result<Table<'a>, Fault> {
        let off = u32_at(b, 0)? as usize;
        Table::at(b, off)
    }

    fn at(b: &'a [u8], pos: usize) -> Result<Table<'a>, Fault> {
        let s = slice(b, pos, 4)?;
        let soff = i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64;
        let vt = pos as i64 - soff;
        if vt < 0 || vt as usize >= b.len() {
            return Err(format!(
                "a table at {pos} points to a vtable outside the buffer"
            ));
        }
        let vt = vt as usize;
        let vt_len = u16_at(b, vt)? as usize;
        let size = u16_at(b, vt + 2)? as usize;
        if vt_len < 4 || vt_len % 2 != 0 {
            return Err(format!("a vtable at {vt} declares {vt_len} bytes"));
        }
        slice(b, vt, vt_len)?;
        slice(b, pos, size.max(4))?;
        Ok(Table {
            b,
            pos,
            vt,
            vt_len,
            size,
        })
    }

    /// Where field `slot` (0-based, in schema order) is, if present.
    fn field(&self, slot: usize, width: usize) -> Result<Option<usize>, Fault> {
        let vo = 4 + 2 * slot;
        if vo + 2 > self.vt_len {
            return Ok(None);
        }
        let o = u16_at(self.b, self.vt + vo)? as usize;
        if o == 0 {
            return Ok(None);
        }
        if o + width > self.size {
            return Err(format!("field {slot} lies outside its table"));
        }
        Ok(Some(self.pos + o))
    }

    /// A `ubyte` or `bool` field.
    pub fn u8(&self, slot: usize, default: u8) -> Result<u8, Fault> {
        Ok(match self.field(slot, 1)? {
            Some(p) => slice(self.b, p, 1)?[0],
            None => default,
        })
    }

    /// A `ushort` field.
    pub fn u16(&self, slot: usize, default: u16) -> Result<u16, Fault> {
        match self.field(slot, 2)? {
            Some(p) => u16_at(self.b, p),
            None => Ok(default),
        }
    }

    /// An `int` field.
    pub fn i32(&self, slot: usize, default: i32) -> Result<i32, Fault> {
        match self.field(slot, 4)? {
            Some(p) => Ok(u32_at(self.b, p)? as i32),
            None => Ok(default),
        }
    }

    /// A `ulong` field.
    pub fn u64(&self, slot: usize, default: u64) -> Result<u64, Fault> {
        match self.field(slot, 8)? {
            Some(p) => u64_at(self.b, p),
            None => Ok(default),
        }
    }

    /// Where the object a reference field points to starts.
    fn target(&self, slot: usize) -> Result<Option<usize>, Fault> {
        let Some(p) = self.field(slot, 4)? else {
            return Ok(None);
        };
        let off = u32_at(self.b, p)? as usize;
        p.checked_add(off)
            .filter(|t| *t < self.b.len())
            .map(Some)
            .ok_or_else(|| format!("field {slot} points outside the buffer"))
    }

    /// A table field.
    pub fn table(&self, slot: usize) -> Result<Option<Table<'a>>, Fault> {
        self.target(slot)?.map(|t| Table::at(self.b, t)).transpose()
    }

    /// A vector field whose elements are `width` bytes each.
    pub fn vector(&self, slot: usize, width: usize) -> Result<Option<Vector<'a>>, Fault> {
        let Some(t) = self.target(slot)? else {
            return Ok(None);
        };
        let len = u32_at(self.b, t)? as usize;
        let bytes = len
            .checked_mul(width)
            .ok_or_else(|| format!("field {slot} declares {len} elements"))?;
        slice(self.b, t + 4, bytes)
            .map_err(|_| format!("field {slot} declares {len} elements, past the buffer's end"))?;
        Ok(Some(Vector {
            b: self.b,
            start: t + 4,
            len,
        }))
    }

    /// A string field (UTF-8).
    pub fn str(&self, slot: usize) -> Result<Option<&'a str>, Fault> {
        match self.vector(slot, 1)? {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v.bytes())
                .map(Some)
                .map_err(|_| format!("field {slot} is not UTF-8")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table built by the flatbuffers crate reads back; every shorter
    /// buffer and every single-byte corruption is an error or a value, never
    /// a panic.
    #[test]
    fn built_tables_read_back_and_corruption_never_panics() {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let name = fbb.create_string("incidents");
        let xs = fbb.create_vector(&[1.5f64, -2.25]);
        let start = fbb.start_table();
        fbb.push_slot_always(4, name);
        fbb.push_slot_always(6, xs);
        fbb.push_slot::<u8>(8, 3, 0);
        fbb.push_slot::<u64>(20, 7, 0);
        let root = fbb.end_table(start);
        fbb.finish(root, None);
        let buf = fbb.finished_data().to_vec();
        let t = Table::root(&buf).expect("root");
        assert_eq!(t.str(0).expect("name"), Some("incidents"));
        let v = t.vector(1, 8).expect("xs").expect("present");
        assert_eq!((v.len, v.f64(1).expect("x")), (2, -2.25));
        assert_eq!(t.u8(2, 0).expect("u8"), 3);
        assert_eq!(t.u64(8, 0).expect("u64"), 7);
        assert_eq!(t.u16(9, 16).expect("default"), 16);
        assert!(t.table(12).expect("absent").is_none());
        let read = |b: &[u8]| -> Result<(), Fault> {
            let t = Table::root(b)?;
            t.str(0)?;
            if let Some(v) = t.vector(1, 8)? {
                for i in 0..v.len {
                    v.f64(i)?;
                }
            }
            t.u8(2, 0)?;
            t.u64(8, 0)?;
            Ok(())
        };
        for n in 0..buf.len() {
            let _ = read(&buf[..n]);
        }
        for i in 0..buf.len() {
            for x in [0u8, 0x7f, 0xff] {
                let mut b = buf.clone();
                b[i] = x;
                let _ = read(&b);
            }
        }
    }
}
