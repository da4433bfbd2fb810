//! Property tests of `codec::ack::parse_ack`, which reads the server's `{"ack": <id>}` responses
//! from the front of the connection's read buffer.

use fluent_forward::codec::ack::{parse_ack, AckParse, ChunkId};
use proptest::prelude::*;
use rmpv::Value;

fn encode(v: &Value) -> Vec<u8> {
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, v).unwrap();
  out
}

/// Values servers might put next to the ack (anything valid, no ext: those may be refused later).
fn extra_value() -> impl Strategy<Value = Value> {
  let leaf = prop_oneof![
    Just(Value::Nil),
    any::<bool>().prop_map(Value::Boolean),
    any::<i64>().prop_map(Value::from),
    any::<u64>().prop_map(Value::from),
    any::<f64>().prop_map(Value::F64),
    ".{0,40}".prop_map(Value::from),
    prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
  ];
  leaf.prop_recursive(3, 24, 6, |inner| {
    prop_oneof![
      prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
      prop::collection::vec((".{0,8}", inner), 0..6)
        .prop_map(|kv| Value::Map(kv.into_iter().map(|(k, v)| (Value::from(k), v)).collect())),
    ]
  })
}

/// Header of a str (`bin == false`) or bin of `len` bytes, at least as wide as `width` (0/1/2/4).
fn raw_header(len: usize, width: u8, bin: bool) -> Vec<u8> {
  let min = match len {
    0..=31 if !bin => 0,
    0..=255 => 1,
    256..=65535 => 2,
    _ => 4,
  };
  let (w8, w16, w32) = if bin {
    (0xc4, 0xc5, 0xc6)
  } else {
    (0xd9, 0xda, 0xdb)
  };
  match width.max(min) {
    0 => vec![0xa0 | len as u8],
    1 => vec![w8, len as u8],
    2 => [&[w16][..], &(len as u16).to_be_bytes()].concat(),
    _ => [&[w32][..], &(len as u32).to_be_bytes()].concat(),
  }
}

fn map_header(count: usize, width: u8) -> Vec<u8> {
  match width {
    0 if count < 16 => vec![0x80 | count as u8],
    0 | 1 if count < 65536 => [&[0xde][..], &(count as u16).to_be_bytes()].concat(),
    _ => [&[0xdf][..], &(count as u32).to_be_bytes()].concat(),
  }
}

/// One valid ack response and the id it carries.
#[derive(Debug, Clone)]
struct Ack {
  bytes: Vec<u8>,
  id: Vec<u8>,
}

fn id() -> impl Strategy<Value = Vec<u8>> {
  prop_oneof![
    // what this client sends: 24 base64 characters
    any::<[u8; 16]>().prop_map(|raw| ChunkId::from_random_bytes(raw).as_bytes().to_vec()),
    ".{0,40}".prop_map(String::into_bytes),
    // lengths past the str8/str16 boundaries
    (
      prop::sample::select(&[255usize, 256, 65535, 65536][..]),
      any::<u8>()
    )
      .prop_map(|(n, b)| vec![b'a' + b % 26; n]),
  ]
}

fn ack() -> impl Strategy<Value = Ack> {
  (
    id(),
    any::<bool>(), // bin instead of str (only if the id is UTF-8 can it be a str)
    0u8..5,        // id header width
    0u8..5,        // "ack" key header width
    0u8..3,        // map header width
    prop::collection::vec(
      ("[a-z]{0,6}".prop_filter("not ack", |k| k != "ack"), extra_value()),
      0..4,
    ),
    any::<prop::sample::Index>(),
  )
    .prop_map(|(id, bin, id_width, key_width, map_width, extras, at)| {
      let bin = bin || std::str::from_utf8(&id).is_err();
      let at = at.index(extras.len() + 1);
      let mut bytes = map_header(extras.len() + 1, map_width);
      for (i, (k, v)) in extras.iter().enumerate() {
        if i == at {
          push_ack_entry(&mut bytes, &id, bin, id_width, key_width);
        }
        bytes.extend(encode(&Value::from(k.as_str())));
        bytes.extend(encode(v));
      }
      if at == extras.len() {
        push_ack_entry(&mut bytes, &id, bin, id_width, key_width);
      }
      Ack { bytes, id }
    })
}

fn push_ack_entry(out: &mut Vec<u8>, id: &[u8], bin: bool, id_width: u8, key_width: u8) {
  out.extend(raw_header(3, key_width, false));
  out.extend_from_slice(b"ack");
  out.extend(raw_header(id.len(), id_width, bin));
  out.extend_from_slice(id);
}

/// Where `part` sits inside `whole`, if it is a subslice of it.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
  let off = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
  (off + part.len() <= whole.len()).then_some(off)
}

/// For any input: no panic; an ack is inside the input, its id inside the consumed bytes, and the
/// verdict depends only on those bytes; an incomplete input stays incomplete when cut shorter.
fn check_any(data: &[u8]) -> Result<(), TestCaseError> {
  match parse_ack(data) {
    AckParse::Ack(id, n) => {
      prop_assert!(n > 0 && n <= data.len(), "consumed {} of {}", n, data.len());
      let off = offset_in(data, id);
      prop_assert!(
        off.is_some_and(|o| o + id.len() <= n),
        "id outside the consumed bytes"
      );
      prop_assert_eq!(parse_ack(&data[..n]), AckParse::Ack(id, n));
      prop_assert_eq!(parse_ack(&data[..n - 1]), AckParse::Incomplete);
    }
    AckParse::Incomplete => {
      for cut in [0, data.len() / 2, data.len().saturating_sub(1)] {
        prop_assert_eq!(parse_ack(&data[..cut]), AckParse::Incomplete);
      }
    }
    AckParse::Garbage(_) => {}
  }
  Ok(())
}

proptest! {
  #![proptest_config(ProptestConfig::with_cases(512))]

  #[test]
  fn arbitrary_bytes_never_panic_or_overrun(
    data in prop_oneof![
      prop::collection::vec(any::<u8>(), 0..128),
      (prop::sample::select(&[0x81u8, 0x82, 0x83, 0xde, 0xdf][..]), prop::collection::vec(any::<u8>(), 0..128))
        .prop_map(|(h, rest)| [vec![h], rest].concat()),
    ],
  ) {
    check_any(&data)?;
  }

  #[test]
  fn mutated_acks_never_panic_or_overrun(
    a in ack(),
    at in any::<prop::sample::Index>(),
    byte in any::<u8>(),
    trailing in prop::collection::vec(any::<u8>(), 0..8),
  ) {
    let mut data = a.bytes;
    let i = at.index(data.len());
    data[i] = byte;
    data.extend(trailing);
    check_any(&data)?;
  }

  #[test]
  fn a_valid_ack_parses_to_its_id_and_exact_length(
    a in ack(),
    trailing in prop::collection::vec(any::<u8>(), 0..8),
  ) {
    let n = a.bytes.len();
    prop_assert_eq!(parse_ack(&a.bytes), AckParse::Ack(&a.id, n));
    let mut longer = a.bytes.clone();
    longer.extend(trailing);
    prop_assert_eq!(parse_ack(&longer), AckParse::Ack(&a.id, n));
  }

  /// A response split across reads: every strict prefix asks for more bytes.
  #[test]
  fn every_strict_prefix_of_an_ack_is_incomplete(
    a in ack(),
    cuts in prop::collection::vec(any::<prop::sample::Index>(), 64),
  ) {
    let n = a.bytes.len();
    let all: Box<dyn Iterator<Item = usize>> = if n <= 2048 {
      Box::new(0..n)
    } else {
      Box::new((0..16).chain(n - 16..n).chain(cuts.iter().map(|i| i.index(n))))
    };
    for cut in all {
      prop_assert_eq!(parse_ack(&a.bytes[..cut]), AckParse::Incomplete, "cut at {}", cut);
    }
  }

  /// Several responses in one read come out one after another, in order.
  #[test]
  fn concatenated_acks_parse_one_after_another(acks in prop::collection::vec(ack(), 1..6)) {
    let stream: Vec<u8> = acks.iter().flat_map(|a| a.bytes.iter().copied()).collect();
    let mut at = 0;
    for a in &acks {
      match parse_ack(&stream[at..]) {
        AckParse::Ack(id, n) => {
          prop_assert_eq!(id, &a.id[..]);
          prop_assert_eq!(n, a.bytes.len());
          at += n;
        }
        other => prop_assert!(false, "expected an ack at {}, got {:?}", at, other),
      }
    }
    prop_assert_eq!(at, stream.len());
    prop_assert_eq!(parse_ack(&stream[at..]), AckParse::Incomplete);
  }

  /// A map without an "ack" key whose value is a str or bin is not an ack response.
  #[test]
  fn a_map_without_a_string_ack_is_garbage(
    extras in prop::collection::vec(("[a-z]{0,6}".prop_filter("not ack", |k| k != "ack"), extra_value()), 0..4),
    ack_value in prop::option::of(prop_oneof![
      Just(Value::Nil),
      any::<i64>().prop_map(Value::from),
      Just(Value::Array(vec![])),
    ]),
  ) {
    let mut entries: Vec<(Value, Value)> =
      extras.into_iter().map(|(k, v)| (Value::from(k), v)).collect();
    if let Some(v) = ack_value {
      entries.push((Value::from("ack"), v));
    }
    let bytes = encode(&Value::Map(entries));
    prop_assert!(matches!(parse_ack(&bytes), AckParse::Garbage(_)), "{:?}", parse_ack(&bytes));
  }
}
