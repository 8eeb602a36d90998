//! The protobuf wire format read field by field, without decoding a message: the
//! request limits (`limits.rs`) size a request before it is decoded, and remote_write
//! decodes its samples straight from the wire (`remote_write/scan.rs`). A few lines,
//! and prost exposes no borrowed field iterator, so written here.

/// A field's value by wire type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// A field: its number and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field<'a> {
    pub number: u64,
    pub value: Value<'a>,
}

impl<'a> Field<'a> {
    /// The bytes of a length-delimited field.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Where a message's wire format is broken (truncated, a group, a bad varint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broken;

pub fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fixed<const N: usize>(buf: &mut &[u8]) -> Option<[u8; N]> {
    let (b, rest) = (buf.get(..N)?, buf.get(N..)?);
    *buf = rest;
    b.try_into().ok()
}

fn next_field<'a>(buf: &mut &'a [u8]) -> Option<Field<'a>> {
    let key = varint(buf)?;
    let value = match key & 7 {
        0 => Value::Varint(varint(buf)?),
        1 => Value::Fixed64(u64::from_le_bytes(fixed::<8>(buf)?)),
        5 => Value::Fixed32(u32::from_le_bytes(fixed::<4>(buf)?)),
        2 => {
            let len = usize::try_from(varint(buf)?).ok()?;
            let (b, rest) = (buf.get(..len)?, buf.get(len..)?);
            *buf = rest;
            Value::Bytes(b)
        }
        _ => return None,
    };
    Some(Field {
        number: key >> 3,
        value,
    })
}

/// The fields of a message, in order; a broken wire format gives one `Err` and ends.
pub fn fields(msg: &[u8]) -> impl Iterator<Item = Result<Field<'_>, Broken>> {
    let mut buf = msg;
    let mut done = false;
    std::iter::from_fn(move || {
        if done || buf.is_empty() {
            return None;
        }
        let f = next_field(&mut buf);
        done = f.is_none();
        Some(f.ok_or(Broken))
    })
}

/// The length-delimited fields numbered `number` of a message, up to where its wire
/// format breaks (prost reports that when it decodes).
pub fn each(msg: &[u8], number: u64) -> impl Iterator<Item = &[u8]> {
    fields(msg)
        .map_while(Result::ok)
        .filter(move |f| f.number == number)
        .filter_map(|f| f.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_each_wire_type_and_a_broken_tail() {
        // 1: varint 150; 2: "hi"; 3: fixed64 7; 4: fixed32 9; then a truncated varint.
        let mut msg = vec![0x08, 0x96, 0x01, 0x12, 2, b'h', b'i', 0x19];
        msg.extend_from_slice(&7u64.to_le_bytes());
        msg.push(0x25);
        msg.extend_from_slice(&9u32.to_le_bytes());
        msg.push(0x28);
        msg.push(0x80);
        let got: Vec<_> = fields(&msg).collect();
        assert_eq!(
            got,
            vec![
                Ok(Field {
                    number: 1,
                    value: Value::Varint(150)
                }),
                Ok(Field {
                    number: 2,
                    value: Value::Bytes(b"hi")
                }),
                Ok(Field {
                    number: 3,
                    value: Value::Fixed64(7)
                }),
                Ok(Field {
                    number: 4,
                    value: Value::Fixed32(9)
                }),
                Err(Broken),
            ]
        );
        assert_eq!(each(&msg, 2).collect::<Vec<_>>(), vec![&b"hi"[..]]);
        // A group (wire type 3) is not read.
        assert_eq!(fields(&[0x0b]).collect::<Vec<_>>(), vec![Err(Broken)]);
    }
}
