//! One JSON object to one msgpack map, in a single pass: serde_json drives visitors that write
//! msgpack straight into the output buffer, so no `serde_json::Value` tree and no string is
//! allocated per field. Integers reach the visitors as `u64`/`i64`, so every digit of a 64-bit
//! integer survives (JS `JSON.parse` rounds past 2^53); only integers beyond 64 bits become doubles.
//!
//! msgpack puts a container's length before its elements, which a streaming JSON parser learns only
//! at the end: each container reserves the longest header, and moves its elements back over the
//! unused part once the count is known (the shortest form, as the rest of the codec writes).

use crate::codec::primitives::{write_str, write_uint};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The longest map or array header: `0xdf`/`0xdd` and a u32 count.
const MAX_HEADER: usize = 5;

/// What the caller wants to know about the top-level fields it treats specially.
pub trait Fields {
  /// Which role `key` has at the top level.
  fn role(&self, key: &str) -> Role;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
  Plain,
  Time,
  Level,
  Tag,
}

/// A top-level scalar as it was written, for the special fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
  U64(u64),
  I64(i64),
  F64(f64),
  /// The string's bytes in the output, `start..end`.
  Str(usize, usize),
  Other,
}

/// A special top-level field: its role, where its key starts and its value starts and ends in the
/// output (to remove the field or replace the value), and the value.
#[derive(Clone, Copy, Debug)]
pub struct Special {
  pub role: Role,
  pub key_start: usize,
  pub value_start: usize,
  pub value_end: usize,
  pub value: Scalar,
}

/// Appends `line` as one msgpack map to `out` and collects the special fields met on the way into
/// `specials` (the first of each role); `Err` for anything but exactly one JSON object, with
/// `out` left as it was.
pub fn object(
  line: &[u8],
  fields: &dyn Fields,
  out: &mut Vec<u8>,
  specials: &mut Vec<Special>,
) -> Result<(), String> {
  let start = out.len();
  let mut de = serde_json::Deserializer::from_slice(line);
  let result = Top {
    out,
    fields,
    specials,
  }
  .deserialize(&mut de)
  .and_then(|()| de.end());
  result.map_err(|e| {
    out.truncate(start);
    specials.clear();
    e.to_string()
  })
}

/// `object` with any serde deserializer standing on one JSON value (for comparing JSON parsers,
/// `examples/ndjson_cost.rs`). On `Err`, `out` may hold a partial map: the caller truncates.
pub fn object_from<'de, D: Deserializer<'de>>(
  de: D,
  fields: &dyn Fields,
  out: &mut Vec<u8>,
  specials: &mut Vec<Special>,
) -> Result<(), D::Error> {
  Top {
    out,
    fields,
    specials,
  }
  .deserialize(de)
}

/// Writes `header` for `count` elements into the space reserved at `at`, moving the elements back
/// over what the shorter header leaves unused.
fn close_container(out: &mut Vec<u8>, at: usize, count: usize, kind: Container) {
  let (fix, wide16, wide32) = match kind {
    Container::Map => (0x80u8, 0xdeu8, 0xdfu8),
    Container::Array => (0x90, 0xdc, 0xdd),
  };
  let n = header_len(count);
  match n {
    1 => out[at] = fix | count as u8,
    3 => {
      out[at] = wide16;
      out[at + 1..at + 3].copy_from_slice(&(count as u16).to_be_bytes());
    }
    _ => {
      out[at] = wide32;
      out[at + 1..at + 5].copy_from_slice(&(count as u32).to_be_bytes());
    }
  }
  if n < MAX_HEADER {
    out.copy_within(at + MAX_HEADER.., at + n);
    out.truncate(out.len() - (MAX_HEADER - n));
  }
}

#[derive(Clone, Copy)]
enum Container {
  Map,
  Array,
}

fn reserve_header(out: &mut Vec<u8>) -> usize {
  let at = out.len();
  out.extend_from_slice(&[0; MAX_HEADER]);
  at
}

fn write_int(out: &mut Vec<u8>, v: i64) {
  if v >= 0 {
    return write_uint(out, v as u64);
  }
  if v >= -32 {
    out.push(v as i8 as u8);
  } else if v >= i8::MIN as i64 {
    out.extend_from_slice(&[0xd0, v as i8 as u8]);
  } else if v >= i16::MIN as i64 {
    out.push(0xd1);
    out.extend_from_slice(&(v as i16).to_be_bytes());
  } else if v >= i32::MIN as i64 {
    out.push(0xd2);
    out.extend_from_slice(&(v as i32).to_be_bytes());
  } else {
    out.push(0xd3);
    out.extend_from_slice(&v.to_be_bytes());
  }
}

fn write_f64(out: &mut Vec<u8>, v: f64) {
  out.push(0xcb);
  out.extend_from_slice(&v.to_be_bytes());
}

/// The top-level object, with its special fields.
struct Top<'a> {
  out: &'a mut Vec<u8>,
  fields: &'a dyn Fields,
  specials: &'a mut Vec<Special>,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
  type Value = ();
  fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
    d.deserialize_any(self)
  }
}

impl<'de> Visitor<'de> for Top<'_> {
  type Value = ();
  fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str("a JSON object")
  }
  fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
    let at = reserve_header(self.out);
    let mut count = 0usize;
    loop {
      let key_start = self.out.len();
      let Some(role) = map.next_key_seed(Key {
        out: self.out,
        fields: Some(self.fields),
      })?
      else {
        break;
      };
      let value_start = self.out.len();
      let value = map.next_value_seed(Value {
        out: self.out,
        depth: 0,
      })?;
      count += 1;
      if role != Role::Plain && !self.specials.iter().any(|s| s.role == role) {
        self.specials.push(Special {
          role,
          key_start,
          value_start,
          value_end: self.out.len(),
          value,
        });
      }
    }
    if count > u32::MAX as usize {
      return Err(A::Error::custom("too many fields"));
    }
    close_container(self.out, at, count, Container::Map);
    // The header shrank: positions inside the map moved back with the elements.
    let shift = MAX_HEADER - header_len(count);
    for s in self.specials.iter_mut() {
      s.key_start -= shift;
      s.value_start -= shift;
      s.value_end -= shift;
      if let Scalar::Str(a, b) = &mut s.value {
        *a -= shift;
        *b -= shift;
      }
    }
    Ok(())
  }
}

/// Length of the shortest map/array header for `count` elements.
pub fn header_len(count: usize) -> usize {
  if count < 16 {
    1
  } else if count <= u16::MAX as usize {
    3
  } else {
    5
  }
}

/// A map key: written as a msgpack string; at the top level its role is looked up.
struct Key<'a> {
  out: &'a mut Vec<u8>,
  fields: Option<&'a dyn Fields>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
  type Value = Role;
  fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Role, D::Error> {
    d.deserialize_str(self)
  }
}

impl<'de> Visitor<'de> for Key<'_> {
  type Value = Role;
  fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str("a string key")
  }
  fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Role, E> {
    write_str(self.out, v);
    Ok(self.fields.map_or(Role::Plain, |f| f.role(v)))
  }
}

/// serde_json's own nesting limit (128) bounds the recursion; this one guards other deserializers.
const MAX_DEPTH: usize = 256;

/// Any JSON value, written as msgpack.
struct Value<'a> {
  out: &'a mut Vec<u8>,
  depth: usize,
}

impl<'de> DeserializeSeed<'de> for Value<'_> {
  type Value = Scalar;
  fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(self)
  }
}

impl<'de> Visitor<'de> for Value<'_> {
  type Value = Scalar;
  fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str("a JSON value")
  }
  fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
    self.out.push(if v { 0xc3 } else { 0xc2 });
    Ok(Scalar::Other)
  }
  fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
    write_uint(self.out, v);
    Ok(Scalar::U64(v))
  }
  fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
    write_int(self.out, v);
    Ok(Scalar::I64(v))
  }
  fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
    write_f64(self.out, v);
    Ok(Scalar::F64(v))
  }
  fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
    write_str(self.out, v);
    let end = self.out.len();
    Ok(Scalar::Str(end - v.len(), end))
  }
  fn visit_unit<E>(self) -> Result<Scalar, E> {
    self.out.push(0xc0);
    Ok(Scalar::Other)
  }
  fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
    if self.depth >= MAX_DEPTH {
      return Err(A::Error::custom("nested too deeply"));
    }
    let at = reserve_header(self.out);
    let mut count = 0usize;
    while seq
      .next_element_seed(Value {
        out: self.out,
        depth: self.depth + 1,
      })?
      .is_some()
    {
      count += 1;
    }
    if count > u32::MAX as usize {
      return Err(A::Error::custom("array too long"));
    }
    close_container(self.out, at, count, Container::Array);
    Ok(Scalar::Other)
  }
  fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
    if self.depth >= MAX_DEPTH {
      return Err(A::Error::custom("nested too deeply"));
    }
    let at = reserve_header(self.out);
    let mut count = 0usize;
    while map
      .next_key_seed(Key {
        out: self.out,
        fields: None,
      })?
      .is_some()
    {
      map.next_value_seed(Value {
        out: self.out,
        depth: self.depth + 1,
      })?;
      count += 1;
    }
    if count > u32::MAX as usize {
      return Err(A::Error::custom("too many fields"));
    }
    close_container(self.out, at, count, Container::Map);
    Ok(Scalar::Other)
  }
}
