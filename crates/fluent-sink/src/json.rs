//! Renders msgpack values as JSON text for `--print`.
//!
//! JSON cannot carry everything msgpack can, so: bin becomes `{"$bin":"<hex>"}`, ext becomes
//! `{"$ext":[type,"<hex>"]}`, non-finite floats become the strings "NaN", "Infinity", "-Infinity",
//! invalid UTF-8 becomes U+FFFD, and map keys that are not strings are quoted (scalars as their JSON
//! text, anything else as `"$mp:<hex of the raw msgpack>"`).

use std::io::Write;

use crate::decode::{skip, value, Time, Value};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
  out.reserve(bytes.len() * 2);
  for &b in bytes {
    out.push(HEX[(b >> 4) as usize]);
    out.push(HEX[(b & 15) as usize]);
  }
}

/// Escapes text that is already valid UTF-8.
fn escape(out: &mut Vec<u8>, s: &[u8]) {
  let mut start = 0;
  for (i, &b) in s.iter().enumerate() {
    let esc: &[u8] = match b {
      b'"' => b"\\\"",
      b'\\' => b"\\\\",
      b'\n' => b"\\n",
      b'\r' => b"\\r",
      b'\t' => b"\\t",
      0x08 => b"\\b",
      0x0c => b"\\f",
      0..=0x1f => b"",
      _ => continue,
    };
    out.extend_from_slice(&s[start..i]);
    if esc.is_empty() {
      out.extend_from_slice(b"\\u00");
      out.push(HEX[(b >> 4) as usize]);
      out.push(HEX[(b & 15) as usize]);
    } else {
      out.extend_from_slice(esc);
    }
    start = i + 1;
  }
  out.extend_from_slice(&s[start..]);
}

/// Writes a JSON string from arbitrary bytes.
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
  out.push(b'"');
  for chunk in bytes.utf8_chunks() {
    escape(out, chunk.valid().as_bytes());
    if !chunk.invalid().is_empty() {
      out.extend_from_slice(b"\\ufffd");
    }
  }
  out.push(b'"');
}

fn float(out: &mut Vec<u8>, v: f64, text: std::fmt::Arguments<'_>) {
  if v.is_nan() {
    out.extend_from_slice(b"\"NaN\"");
  } else if v.is_infinite() {
    out.extend_from_slice(if v > 0.0 {
      b"\"Infinity\""
    } else {
      b"\"-Infinity\""
    });
  } else {
    // Debug formatting gives the shortest round-trip text, and it is valid JSON for finite values.
    let _ = out.write_fmt(text);
  }
}

fn scalar(out: &mut Vec<u8>, v: Value<'_>) {
  match v {
    Value::Nil => out.extend_from_slice(b"null"),
    Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
    Value::UInt(n) => {
      let _ = write!(out, "{n}");
    }
    Value::Int(n) => {
      let _ = write!(out, "{n}");
    }
    Value::F32(f) => float(out, f64::from(f), format_args!("{f:?}")),
    Value::F64(f) => float(out, f, format_args!("{f:?}")),
    Value::Str(s) => string(out, s),
    Value::Bin(b) => {
      out.extend_from_slice(b"{\"$bin\":\"");
      hex(out, b);
      out.extend_from_slice(b"\"}");
    }
    Value::Ext(t, b) => {
      let _ = write!(out, "{{\"$ext\":[{t},\"");
      hex(out, b);
      out.extend_from_slice(b"\"]}");
    }
    // Containers are opened by `value_json`.
    Value::Array(_) | Value::Map(_) => {}
  }
}

/// A container being written: how many values it holds (pairs count twice) and how many are done.
#[derive(Debug, Clone, Copy)]
pub struct Open {
  map: bool,
  done: u64,
  len: u64,
}

/// Writes the value at `pos` as JSON and returns the position after it. `stack` is scratch space
/// reused between calls so deep nesting costs neither recursion nor a fresh allocation.
/// On malformed input it returns `None` with partial output, which the caller discards.
pub fn value_json(out: &mut Vec<u8>, buf: &[u8], mut pos: usize, stack: &mut Vec<Open>) -> Option<usize> {
  stack.clear();
  loop {
    let mut key = false;
    if let Some(top) = stack.last_mut() {
      if top.map && top.done % 2 == 1 {
        out.push(b':');
      } else if top.done > 0 {
        out.push(b',');
      }
      key = top.map && top.done % 2 == 0;
      top.done += 1;
    }
    let (v, next) = value(buf, pos)?;
    match v {
      Value::Str(_) => {
        scalar(out, v);
        pos = next;
      }
      _ if key => {
        let end = skip(buf, pos, 1).ok()?;
        match v {
          Value::Array(_) | Value::Map(_) | Value::Bin(_) | Value::Ext(..) => {
            out.extend_from_slice(b"\"$mp:");
            hex(out, &buf[pos..end]);
            out.push(b'"');
          }
          _ => {
            let mut text = Vec::new();
            scalar(&mut text, v);
            string(out, &text);
          }
        }
        pos = end;
      }
      Value::Array(n) | Value::Map(n) => {
        let map = matches!(v, Value::Map(_));
        out.push(if map { b'{' } else { b'[' });
        pos = next;
        if n > 0 {
          stack.push(Open {
            map,
            done: 0,
            len: if map { n * 2 } else { n },
          });
          continue;
        }
        out.push(if map { b'}' } else { b']' });
      }
      _ => {
        scalar(out, v);
        pos = next;
      }
    }
    while let Some(top) = stack.last() {
      if top.done < top.len {
        break;
      }
      out.push(if top.map { b'}' } else { b']' });
      stack.pop();
    }
    if stack.is_empty() {
      return Some(pos);
    }
  }
}

/// Writes one `--print` line: `{"tag":..,"time":..,"record":..}\n`. `tag_json` is the tag already
/// rendered as a JSON string. Returns false, writing nothing, if the record cannot be rendered.
pub fn event_line(
  out: &mut Vec<u8>,
  tag_json: &[u8],
  time: Time,
  record: &[u8],
  stack: &mut Vec<Open>,
) -> bool {
  let start = out.len();
  out.extend_from_slice(b"{\"tag\":");
  out.extend_from_slice(tag_json);
  let _ = match time {
    Time::Secs(s) => write!(out, ",\"time\":{s},\"record\":"),
    Time::Event(s, ns) => write!(out, ",\"time\":[{s},{ns}],\"record\":"),
  };
  if value_json(out, record, 0, stack).is_none() {
    out.truncate(start);
    return false;
  }
  out.extend_from_slice(b"}\n");
  true
}

#[cfg(test)]
mod tests {
  use super::*;

  fn render(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    let end = value_json(&mut out, bytes, 0, &mut Vec::new()).unwrap();
    assert_eq!(end, bytes.len());
    String::from_utf8(out).unwrap()
  }

  #[test]
  fn strings_are_escaped() {
    let mut out = Vec::new();
    string(
      &mut out,
      b"a\"b\\c\nd\re\tf\x08\x0c\x01\x1f\x7f \xe2\x82\xac \xff!",
    );
    assert_eq!(
      String::from_utf8(out).unwrap(),
      "\"a\\\"b\\\\c\\nd\\re\\tf\\b\\f\\u0001\\u001f\x7f \u{20ac} \\ufffd!\""
    );
  }

  #[test]
  fn every_type() {
    assert_eq!(render(&[0xc0]), "null");
    assert_eq!(render(&[0x90]), "[]");
    assert_eq!(render(&[0x80]), "{}");
    assert_eq!(
      render(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      "18446744073709551615"
    );
    assert_eq!(render(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]), "-9223372036854775808");
    assert_eq!(
      render(&[0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]),
      "0.1"
    );
    assert_eq!(render(&[0xca, 0x3d, 0xcc, 0xcc, 0xcd]), "0.1");
    assert_eq!(render(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), "\"NaN\"");
    assert_eq!(render(&[0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]), "\"Infinity\"");
    assert_eq!(render(&[0xca, 0xff, 0x80, 0, 0]), "\"-Infinity\"");
    assert_eq!(
      render(&[0xcb, 0x54, 0xb2, 0x49, 0xad, 0x25, 0x94, 0xc3, 0x7d]),
      "1e100"
    );
    assert_eq!(render(&[0xc4, 2, 0xab, 0x01]), r#"{"$bin":"ab01"}"#);
    assert_eq!(render(&[0xd4, 0xfe, 0x10]), r#"{"$ext":[-2,"10"]}"#);
    assert_eq!(
      render(&[0x83, 0xa1, b'a', 0x92, 0x01, 0x81, 0xa1, b'b', 0x90, 0x01, 0xc3, 0x91, 0x01, 0x02]),
      r#"{"a":[1,{"b":[]}],"1":true,"$mp:9101":2}"#
    );
  }

  #[test]
  fn deep_nesting_needs_no_recursion() {
    let depth = 100_000;
    let mut bytes = vec![0x91; depth];
    bytes.push(0x01);
    let text = render(&bytes);
    assert_eq!(text.len(), depth * 2 + 1);
  }

  #[test]
  fn event_lines() {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    assert!(event_line(
      &mut out,
      b"\"t\"",
      Time::Secs(5),
      &[0x81, 0xa1, b'k', 0xa1, b'v'],
      &mut stack
    ));
    assert!(event_line(
      &mut out,
      b"\"t\"",
      Time::Event(1, 2),
      &[0x80],
      &mut stack
    ));
    assert!(!event_line(
      &mut out,
      b"\"t\"",
      Time::Secs(5),
      &[0x81, 0xa1],
      &mut stack
    ));
    assert_eq!(
      String::from_utf8(out).unwrap(),
      "{\"tag\":\"t\",\"time\":5,\"record\":{\"k\":\"v\"}}\n{\"tag\":\"t\",\"time\":[1,2],\"record\":{}}\n"
    );
  }
}
