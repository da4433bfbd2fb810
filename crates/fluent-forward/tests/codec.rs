//! Byte-exact checks of the public encoders against PROTOCOL.md §2-5, cross-checked with rmpv.

use fluent_forward::codec::ack::{parse_ack, AckParse, ChunkId};
use fluent_forward::codec::entry::{entry_prefix_len, write_entry};
use fluent_forward::codec::gzip::GzipWriter;
use fluent_forward::codec::validate::{record_len, Invalid};
use fluent_forward::codec::{forward, message, packed_forward, RequestOptions};
use fluent_forward::{EventTime, TimeFormat};
use rmpv::Value;
use std::io::{Cursor, Read};

fn encode(v: &Value) -> Vec<u8> {
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, v).unwrap();
  out
}

/// Decodes exactly one value and checks that nothing follows it.
fn decode_one(bytes: &[u8]) -> Value {
  let mut cur = Cursor::new(bytes);
  let v = rmpv::decode::read_value(&mut cur).expect("valid msgpack");
  assert_eq!(
    cur.position() as usize,
    bytes.len(),
    "trailing bytes after the request"
  );
  v
}

/// Decodes back-to-back values until the buffer ends (a PackedForward entry stream).
fn decode_stream(bytes: &[u8]) -> Vec<Value> {
  let mut cur = Cursor::new(bytes);
  let mut out = Vec::new();
  while (cur.position() as usize) < bytes.len() {
    out.push(rmpv::decode::read_value(&mut cur).expect("valid entry"));
  }
  out
}

fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
  map
    .as_map()?
    .iter()
    .find(|(k, _)| k.as_str() == Some(key))
    .map(|(_, v)| v)
}

fn et(seconds: u32, nanos: u32) -> EventTime {
  EventTime::new(seconds, nanos).expect("valid nanos")
}

fn record(pairs: &[(&str, Value)]) -> Vec<u8> {
  encode(&Value::Map(
    pairs.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect(),
  ))
}

#[test]
fn message_mode_matches_fact_sheet_bytes() {
  let rec = record(&[("msg", Value::from("hi"))]);
  assert_eq!(rec, [0x81, 0xa3, b'm', b's', b'g', 0xa2, b'h', b'i']);
  let mut entry = Vec::new();
  write_entry(
    &mut entry,
    et(1_700_000_000, 123_456_789),
    TimeFormat::EventTime,
    &rec,
  );
  let mut out = Vec::new();
  message::write_request(&mut out, "app.log", &entry, None);
  #[rustfmt::skip]
  let want: &[u8] = &[
    0x93,
    0xa7, 0x61, 0x70, 0x70, 0x2e, 0x6c, 0x6f, 0x67,
    0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x07, 0x5b, 0xcd, 0x15,
    0x81, 0xa3, 0x6d, 0x73, 0x67, 0xa2, 0x68, 0x69,
  ];
  assert_eq!(out, want);
}

#[test]
fn message_mode_with_chunk_has_four_elements() {
  let rec = record(&[("msg", Value::from("hi"))]);
  let mut entry = Vec::new();
  write_entry(&mut entry, et(1_700_000_000, 5), TimeFormat::EventTime, &rec);
  let id = ChunkId::from_random_bytes([7; 16]);
  let mut out = Vec::new();
  message::write_request(&mut out, "app.log", &entry, Some(id.as_str()));
  let v = decode_one(&out);
  let arr = v.as_array().unwrap();
  assert_eq!(arr.len(), 4);
  assert_eq!(arr[0].as_str(), Some("app.log"));
  let (ty, data) = arr[1].as_ext().unwrap();
  assert_eq!((ty, data), (0, &[0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 5][..]));
  assert_eq!(encode(&arr[2]), rec);
  let opt = &arr[3];
  assert_eq!(
    opt.as_map().unwrap().len(),
    1,
    "only chunk in a Message option: {opt}"
  );
  assert_eq!(map_get(opt, "chunk").and_then(Value::as_str), Some(id.as_str()));
}

#[test]
fn packed_forward_matches_fact_sheet_bytes() {
  let rec = record(&[("a", Value::from(1))]);
  let mut entries = Vec::new();
  write_entry(&mut entries, et(1_700_000_000, 0), TimeFormat::EventTime, &rec);
  let mut out = Vec::new();
  let opts = RequestOptions {
    size: Some(1),
    ..Default::default()
  };
  packed_forward::write_request(&mut out, "app.log", &entries, &opts);
  #[rustfmt::skip]
  let want: &[u8] = &[
    0x93, 0xa7, 0x61, 0x70, 0x70, 0x2e, 0x6c, 0x6f, 0x67,
    0xc4, 0x0f,
    0x92, 0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0xa1, 0x61, 0x01,
    0x81, 0xa4, 0x73, 0x69, 0x7a, 0x65, 0x01,
  ];
  assert_eq!(out, want);
}

#[test]
fn packed_forward_without_options_omits_the_option_slot() {
  let rec = record(&[("a", Value::from(1))]);
  let mut entries = Vec::new();
  write_entry(&mut entries, et(1, 0), TimeFormat::EventTime, &rec);
  let mut out = Vec::new();
  packed_forward::write_request(&mut out, "t", &entries, &RequestOptions::default());
  let v = decode_one(&out);
  let arr = v.as_array().unwrap();
  assert_eq!(arr.len(), 2, "no nil/empty option slot: {v}");
  assert_eq!(arr[1].as_slice(), Some(&entries[..]));
  assert!(matches!(arr[1], Value::Binary(_)), "entries must be bin");
}

#[test]
fn packed_forward_uses_bin16_and_bin32_for_large_entries() {
  for (n, marker) in [(300usize, 0xc5u8), (70_000, 0xc6)] {
    let rec = record(&[("pad", Value::from("x".repeat(n)))]);
    let mut entries = Vec::new();
    write_entry(&mut entries, et(9, 9), TimeFormat::EventTime, &rec);
    let mut out = Vec::new();
    let opts = RequestOptions {
      size: Some(1),
      ..Default::default()
    };
    packed_forward::write_request(&mut out, "t", &entries, &opts);
    assert_eq!(out[3], marker, "bin header for {} bytes", entries.len());
    let v = decode_one(&out);
    assert_eq!(v.as_array().unwrap()[1].as_slice(), Some(&entries[..]));
  }
}

#[test]
fn forward_mode_shape() {
  let n = 20; // more than 15, so the entries array needs array16
  let mut entries = Vec::new();
  let mut recs = Vec::new();
  for i in 0..n {
    let rec = record(&[("i", Value::from(i)), ("s", Value::from(format!("v{i}")))]);
    write_entry(
      &mut entries,
      et(1_700_000_000 + i, i * 1000),
      TimeFormat::EventTime,
      &rec,
    );
    recs.push(rec);
  }
  let mut out = Vec::new();
  let opts = RequestOptions {
    size: Some(n as usize),
    ..Default::default()
  };
  forward::write_request(&mut out, "app.fwd", &entries, n as usize, &opts);
  let v = decode_one(&out);
  let arr = v.as_array().expect("request is an array");
  assert_eq!(arr.len(), 3);
  assert_eq!(arr[0].as_str(), Some("app.fwd"));
  let es = arr[1].as_array().expect("entries is an array");
  assert_eq!(es.len(), n as usize);
  for (i, e) in es.iter().enumerate() {
    let e = e.as_array().expect("entry is an array");
    assert_eq!(e.len(), 2);
    let (ty, data) = e[0].as_ext().expect("time is an ext");
    assert_eq!(ty, 0);
    assert_eq!(data.len(), 8);
    assert_eq!(
      u32::from_be_bytes(data[..4].try_into().unwrap()),
      1_700_000_000 + i as u32
    );
    assert_eq!(u32::from_be_bytes(data[4..].try_into().unwrap()), i as u32 * 1000);
    assert!(e[1].is_map());
    assert_eq!(encode(&e[1]), recs[i]);
  }
  let opt = &arr[2];
  assert_eq!(opt.as_map().unwrap().len(), 1);
  assert_eq!(map_get(opt, "size").and_then(Value::as_u64), Some(n as u64));

  // With a chunk id as well, still a 3-element request.
  let id = ChunkId::from_random_bytes([1; 16]);
  let mut out = Vec::new();
  let opts = RequestOptions {
    size: Some(n as usize),
    chunk: Some(id.as_str()),
    compressed: None,
  };
  forward::write_request(&mut out, "app.fwd", &entries, n as usize, &opts);
  let v = decode_one(&out);
  let opt = &v.as_array().unwrap()[2];
  assert_eq!(map_get(opt, "size").and_then(Value::as_u64), Some(n as u64));
  assert_eq!(map_get(opt, "chunk").and_then(Value::as_str), Some(id.as_str()));
  assert!(map_get(opt, "compressed").is_none());
}

#[test]
fn event_time_is_fixext8_with_unsigned_fields() {
  let rec = record(&[("a", Value::from(1))]);
  let mut out = Vec::new();
  write_entry(&mut out, et(u32::MAX, 999_999_999), TimeFormat::EventTime, &rec);
  assert_eq!(
    &out[..12],
    &[0x92, 0xd7, 0x00, 0xff, 0xff, 0xff, 0xff, 0x3b, 0x9a, 0xc9, 0xff, 0x81]
  );
  assert_eq!(entry_prefix_len(et(u32::MAX, 0), TimeFormat::EventTime), 11);
  assert_eq!(
    out.len(),
    entry_prefix_len(et(u32::MAX, 0), TimeFormat::EventTime) + rec.len()
  );
  assert!(EventTime::new(0, 1_000_000_000).is_none());
  assert!(EventTime::new(0, 999_999_999).is_some());
}

#[test]
fn integer_time_format_and_prefix_len() {
  let rec = record(&[("k", Value::from("v"))]);
  let cases: [(u32, &[u8]); 8] = [
    (0, &[0x00]),
    (127, &[0x7f]),
    (128, &[0xcc, 0x80]),
    (255, &[0xcc, 0xff]),
    (256, &[0xcd, 0x01, 0x00]),
    (65535, &[0xcd, 0xff, 0xff]),
    (65536, &[0xce, 0x00, 0x01, 0x00, 0x00]),
    (1_700_000_000, &[0xce, 0x65, 0x53, 0xf1, 0x00]),
  ];
  for (secs, time_bytes) in cases {
    // The nanoseconds must be dropped, not encoded.
    let t = et(secs, 123_456_789);
    let mut out = Vec::new();
    write_entry(&mut out, t, TimeFormat::Integer, &rec);
    let prefix = entry_prefix_len(t, TimeFormat::Integer);
    assert_eq!(out.len(), prefix + rec.len(), "prefix len for {secs}");
    assert_eq!(out[0], 0x92);
    assert_eq!(&out[1..prefix], time_bytes, "time bytes for {secs}");
    assert_eq!(&out[prefix..], &rec[..]);
    let v = decode_one(&out);
    let e = v.as_array().unwrap();
    assert!(e[0].is_u64(), "integer time for {secs} decodes as uint: {}", e[0]);
    assert_eq!(e[0].as_u64(), Some(secs as u64));
    // An existing buffer is appended to, not overwritten.
    let mut two = out.clone();
    write_entry(&mut two, t, TimeFormat::Integer, &rec);
    assert_eq!(two.len(), 2 * out.len());
    assert_eq!(decode_stream(&two).len(), 2);
  }
  // Every boundary agrees with what is written.
  for secs in [1u32, 126, 129, 254, 257, 65534, 65537, u32::MAX - 1, u32::MAX] {
    let t = et(secs, 0);
    let mut out = Vec::new();
    write_entry(&mut out, t, TimeFormat::Integer, &rec);
    assert_eq!(
      out.len(),
      entry_prefix_len(t, TimeFormat::Integer) + rec.len(),
      "prefix len for {secs}"
    );
  }
}

#[test]
fn compressed_packed_forward() {
  let n = 300u32;
  let mut entries = Vec::new();
  for i in 0..n {
    let rec = record(&[
      ("n", Value::from(i)),
      ("msg", Value::from("compressible text ".repeat(3))),
    ]);
    write_entry(&mut entries, et(1_700_000_000, i), TimeFormat::EventTime, &rec);
  }
  let mut gz = GzipWriter::new(6);
  let mut z = Vec::new();
  gz.compress_into(&entries, &mut z);
  assert!(z.len() < entries.len(), "gzip should shrink repetitive entries");
  let id = ChunkId::from_random_bytes([0xab; 16]);
  let mut out = Vec::new();
  let opts = RequestOptions {
    size: Some(n as usize),
    chunk: Some(id.as_str()),
    compressed: Some("gzip"),
  };
  packed_forward::write_request(&mut out, "app.gz", &z, &opts);

  let v = decode_one(&out);
  let arr = v.as_array().unwrap();
  assert_eq!(arr.len(), 3);
  assert_eq!(arr[0].as_str(), Some("app.gz"));
  assert!(
    matches!(arr[1], Value::Binary(_)),
    "compressed entries must be bin"
  );
  let opt = &arr[2];
  assert_eq!(opt.as_map().unwrap().len(), 3, "{opt}");
  assert_eq!(map_get(opt, "size").and_then(Value::as_u64), Some(n as u64));
  assert_eq!(map_get(opt, "chunk").and_then(Value::as_str), Some(id.as_str()));
  assert_eq!(map_get(opt, "compressed").and_then(Value::as_str), Some("gzip"));

  let mut plain = Vec::new();
  flate2::read::MultiGzDecoder::new(arr[1].as_slice().unwrap())
    .read_to_end(&mut plain)
    .unwrap();
  assert_eq!(plain, entries);
  let decoded = decode_stream(&plain);
  assert_eq!(decoded.len(), n as usize);
  for (i, e) in decoded.iter().enumerate() {
    let e = e.as_array().unwrap();
    assert_eq!(map_get(&e[1], "n").and_then(Value::as_u64), Some(i as u64));
  }

  // A reused writer produces independent members; concatenated, they gunzip to both inputs.
  let mut two = Vec::new();
  gz.compress_into(&entries[..100], &mut two);
  gz.compress_into(&entries[100..], &mut two);
  let mut plain = Vec::new();
  flate2::read::MultiGzDecoder::new(&two[..])
    .read_to_end(&mut plain)
    .unwrap();
  assert_eq!(plain, entries);
  // Empty input is still a valid member.
  let mut empty = Vec::new();
  gz.compress_into(&[], &mut empty);
  let mut plain = Vec::new();
  flate2::read::GzDecoder::new(&empty[..])
    .read_to_end(&mut plain)
    .unwrap();
  assert!(plain.is_empty());
}

#[test]
fn gzip_levels_round_trip_incompressible_data() {
  // Pseudo-random bytes grow under deflate: the output buffer must still be enlarged correctly.
  let mut x = 0x1234_5678_9abc_def0u64;
  let data: Vec<u8> = (0..300_000)
    .map(|_| {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      x as u8
    })
    .collect();
  for level in [0, 1, 6, 9] {
    let mut gz = GzipWriter::new(level);
    let mut z = vec![0xee; 3]; // appended after existing bytes
    gz.compress_into(&data, &mut z);
    assert_eq!(&z[..3], &[0xee; 3]);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&z[3..])
      .read_to_end(&mut plain)
      .unwrap();
    assert!(plain == data, "level {level} round trip");
  }
}

#[test]
fn ack_response_from_fact_sheet_parses() {
  let id = ChunkId::from_random_bytes([0; 16]);
  assert_eq!(id.as_str(), "AAAAAAAAAAAAAAAAAAAAAA==");
  assert_eq!(id.as_bytes(), b"AAAAAAAAAAAAAAAAAAAAAA==");

  let mut bytes = vec![0x81, 0xa3, 0x61, 0x63, 0x6b, 0xb8];
  bytes.extend_from_slice(b"AAAAAAAAAAAAAAAAAAAAAA==");
  assert_eq!(bytes.len(), 30);
  // rmpv produces the same bytes for {"ack": id}.
  let v = Value::Map(vec![(Value::from("ack"), Value::from(id.as_str()))]);
  assert_eq!(encode(&v), bytes);
  assert_eq!(parse_ack(&bytes), AckParse::Ack(id.as_bytes(), 30));

  // Every strict prefix needs more bytes.
  for cut in 0..bytes.len() {
    assert_eq!(
      parse_ack(&bytes[..cut]),
      AckParse::Incomplete,
      "prefix of {cut} bytes"
    );
  }
  // A second response behind the first one is left alone.
  let mut two = bytes.clone();
  let id2 = ChunkId::from_random_bytes([0xff; 16]);
  two.extend(encode(&Value::Map(vec![(
    Value::from("ack"),
    Value::from(id2.as_str()),
  )])));
  assert_eq!(parse_ack(&two), AckParse::Ack(id.as_bytes(), 30));
  assert_eq!(parse_ack(&two[30..]), AckParse::Ack(id2.as_bytes(), 30));

  // fluentd's Base64.encode64 ids end in "\n" and come back exactly (25 bytes, str8).
  let nl = encode(&Value::Map(vec![(
    Value::from("ack"),
    Value::from("AAAAAAAAAAAAAAAAAAAAAA==\n"),
  )]));
  assert_eq!(
    parse_ack(&nl),
    AckParse::Ack(b"AAAAAAAAAAAAAAAAAAAAAA==\n", nl.len())
  );

  // Extra keys are skipped, in either order.
  let extra = encode(&Value::Map(vec![
    (Value::from("x"), Value::Array(vec![Value::from(1), Value::Nil])),
    (Value::from("ack"), Value::from(id.as_str())),
    (Value::from("y"), Value::from(2.5)),
  ]));
  assert_eq!(parse_ack(&extra), AckParse::Ack(id.as_bytes(), extra.len()));

  // Not an ack response.
  assert!(matches!(parse_ack(&[0xc1, 0xc1, 0xc1]), AckParse::Garbage(_)));
  assert!(matches!(
    parse_ack(&encode(&Value::from("ack"))),
    AckParse::Garbage(_)
  ));
  assert!(matches!(
    parse_ack(&encode(&Value::Map(vec![(Value::from("ack"), Value::from(1))]))),
    AckParse::Garbage(_)
  ));
  assert!(matches!(
    parse_ack(&encode(&Value::Map(vec![(
      Value::from("nack"),
      Value::from(id.as_str())
    )]))),
    AckParse::Garbage(_)
  ));
}

#[test]
fn chunk_ids_are_base64_and_distinct() {
  assert_eq!(
    ChunkId::from_random_bytes([0xff; 16]).as_str(),
    "/////////////////////w=="
  );
  let raw: [u8; 16] = core::array::from_fn(|i| i as u8);
  assert_eq!(
    ChunkId::from_random_bytes(raw).as_str(),
    "AAECAwQFBgcICQoLDA0ODw=="
  );
  let mut seen = std::collections::HashSet::new();
  for _ in 0..1000 {
    let id = ChunkId::random();
    assert_eq!(id.as_str().len(), 24);
    assert!(id.as_str().ends_with("=="));
    assert!(seen.insert(id.as_str().to_string()), "duplicate random id");
  }
}

#[test]
fn record_len_rejects_malformed_maps() {
  let cases: &[(&[u8], Invalid)] = &[
    (&[], Invalid::Truncated),
    (&[0xc0], Invalid::NotAMap),
    (&[0x92, 0x01, 0x02], Invalid::NotAMap),
    (&[0xa1, b'a'], Invalid::NotAMap),
    // fixmap(1) with nothing after it
    (&[0x81], Invalid::Truncated),
    // value missing
    (&[0x81, 0xa1, b'a'], Invalid::Truncated),
    // str longer than the buffer
    (&[0x81, 0xa5, b'a', b'b'], Invalid::Truncated),
    // map16 header cut short
    (&[0xde, 0x00], Invalid::Truncated),
    // map32 claiming 2^32-1 pairs
    (
      &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'a', 0x01],
      Invalid::Truncated,
    ),
    // integer key
    (&[0x81, 0x01, 0x02], Invalid::NonStringKey),
    // bin key
    (&[0x81, 0xc4, 0x01, b'a', 0x02], Invalid::NonStringKey),
    // nested map with a non-string key
    (&[0x81, 0xa1, b'a', 0x81, 0xc0, 0x01], Invalid::NonStringKey),
    // the reserved byte as a value
    (&[0x81, 0xa1, b'a', 0xc1], Invalid::Reserved),
    // invalid utf-8 in a key and in a nested value
    (&[0x81, 0xa1, 0xff, 0x01], Invalid::BadUtf8),
    (&[0x81, 0xa1, b'a', 0x91, 0xa2, 0xc3, 0x28], Invalid::BadUtf8),
    // ext32 and bin32 lengths beyond the buffer
    (
      &[0x81, 0xa1, b'a', 0xc9, 0x7f, 0xff, 0xff, 0xff, 0x00],
      Invalid::Truncated,
    ),
    (
      &[0x81, 0xa1, b'a', 0xc6, 0xff, 0xff, 0xff, 0xff],
      Invalid::Truncated,
    ),
    // array16 of 3 with only 2 items
    (
      &[0x81, 0xa1, b'a', 0xdc, 0x00, 0x03, 0x01, 0x02],
      Invalid::Truncated,
    ),
    // float64 cut short
    (&[0x81, 0xa1, b'a', 0xcb, 0x00, 0x00], Invalid::Truncated),
  ];
  for (bytes, want) in cases {
    assert_eq!(record_len(bytes), Err(*want), "record {bytes:02x?}");
  }
  // Too deep: maps nested far beyond any sane record.
  let mut deep = Vec::new();
  for _ in 0..2000 {
    deep.extend_from_slice(&[0x81, 0xa1, b'a']);
  }
  deep.push(0x01);
  assert_eq!(record_len(&deep), Err(Invalid::TooDeep));
  // Trailing bytes are not part of the record: the length says where it ends.
  assert_eq!(record_len(&[0x80, 0x80]), Ok(1));
}

#[test]
fn record_len_accepts_large_nested_record() {
  let mut inner = Vec::new();
  for i in 0..40 {
    inner.push((Value::from(format!("key{i}")), Value::from(i)));
  }
  let mut nested = Value::Map(vec![(Value::from("leaf"), Value::from(true))]);
  for i in 0..100 {
    nested = if i % 2 == 0 {
      Value::Array(vec![nested, Value::Nil])
    } else {
      Value::Map(vec![(Value::from("d"), nested)])
    };
  }
  let pairs = vec![
    (Value::from("str8"), Value::from("s".repeat(200))),
    (Value::from("str16"), Value::from("é".repeat(10_000))),
    (Value::from("str32"), Value::from("z".repeat(70_000))),
    (Value::from("bin8"), Value::Binary(vec![1; 10])),
    (Value::from("bin16"), Value::Binary(vec![2; 1000])),
    (Value::from("bin32"), Value::Binary(vec![3; 70_000])),
    (Value::from("neg"), Value::from(-5)),
    (Value::from("i8"), Value::from(-100)),
    (Value::from("i64"), Value::from(i64::MIN)),
    (Value::from("u64"), Value::from(u64::MAX)),
    (Value::from("f32"), Value::F32(1.5)),
    (Value::from("f64"), Value::F64(-2.25)),
    (Value::from("nil"), Value::Nil),
    (
      Value::from("bools"),
      Value::Array(vec![Value::from(true), Value::from(false)]),
    ),
    // Every ext form, with the one type fluentd decodes (others are refused, see validate.rs).
    (Value::from("fixext1"), Value::Ext(0, vec![1])),
    (Value::from("fixext16"), Value::Ext(0, vec![0; 16])),
    (Value::from("ext8"), Value::Ext(0, vec![0; 3])),
    (Value::from("ext16"), Value::Ext(0, vec![0; 300])),
    (Value::from("ext32"), Value::Ext(0, vec![0; 70_000])),
    (Value::from("time"), Value::Ext(0, vec![0; 8])),
    (
      Value::from("array16"),
      Value::Array((0..100).map(Value::from).collect()),
    ),
    (
      Value::from("array32"),
      Value::Array((0..70_000).map(|i| Value::from(i % 7)).collect()),
    ),
    (Value::from("map16"), Value::Map(inner)),
    (Value::from("nested"), nested),
  ];
  // 24 pairs: a map16 at the top level.
  let rec = encode(&Value::Map(pairs));
  assert_eq!(rec[0], 0xde);
  assert!(rec.len() > 200_000);
  assert_eq!(record_len(&rec), Ok(rec.len()));
  // Extra bytes after it are not counted.
  let mut more = rec.clone();
  more.extend_from_slice(&[0x81, 0xa1, b'a', 0x01]);
  assert_eq!(record_len(&more), Ok(rec.len()));
  // Any truncation of it is caught.
  for cut in [1, 2, 3, 100, rec.len() / 2, rec.len() - 1] {
    assert_eq!(record_len(&rec[..cut]), Err(Invalid::Truncated), "cut at {cut}");
  }
  // msgpackr's Date (ext -1) is what emitRaw most often meets.
  let date = encode(&Value::Map(vec![(Value::from("at"), Value::Ext(-1, vec![0; 4]))]));
  assert_eq!(record_len(&date), Err(Invalid::ExtType(-1)));
}
