use super::*;
use rmpv::Value;

/// Records as a test sees them; `room` records fit before it reports `NoRoom`.
#[derive(Default)]
struct VecSink {
  tags: Vec<String>,
  got: Vec<(u32, Option<EventTime>, Value)>,
  room: Option<usize>,
}

impl Sink for VecSink {
  fn tag_id(&mut self, tag: &str) -> Option<u32> {
    if tag.is_empty() {
      return None;
    }
    Some(match self.tags.iter().position(|t| t == tag) {
      Some(i) => i as u32 + 1,
      None => {
        self.tags.push(tag.into());
        self.tags.len() as u32
      }
    })
  }
  fn offer(&mut self, tag: u32, time: Option<EventTime>, record: &[u8]) -> Offer {
    if self.room == Some(self.got.len()) {
      return Offer::NoRoom;
    }
    let mut r = record;
    let v = rmpv::decode::read_value(&mut r).expect("valid msgpack");
    assert!(r.is_empty(), "one value exactly");
    self.got.push((tag, time, v));
    Offer::Accepted
  }
}

fn opts() -> Options {
  Options {
    fallback_tag: 0,
    tag_key: Some("tag".into()),
    time_key: Some("time".into()),
    keep_time: false,
    level_key: Some("level".into()),
    level_names: vec![(30, "info".into()), (50, "error".into())],
    message_key: "msg".into(),
    max_line_bytes: 1000,
  }
}

fn map(v: &Value) -> Vec<(String, Value)> {
  v.as_map()
    .expect("a map")
    .iter()
    .map(|(k, v)| (k.as_str().expect("string key").to_string(), v.clone()))
    .collect()
}

#[test]
fn a_pino_line_becomes_a_record() {
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink::default();
  let line = br#"{"level":30,"time":1733111222333,"pid":7,"hostname":"h","tag":"app.web","msg":"hi","n":-3,"f":1.5,"a":[1,{"b":null}],"t":true}"#;
  let fed = t.feed(&mut sink, &[&line[..], b"\n"].concat());
  assert_eq!(fed.accepted, 1);
  let (tag, time, v) = &sink.got[0];
  assert_eq!(sink.tags[*tag as usize - 1], "app.web");
  assert_eq!(*time, EventTime::new(1_733_111_222, 333_000_000));
  let m = map(v);
  let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
  assert_eq!(
    keys,
    ["level", "pid", "hostname", "tag", "msg", "n", "f", "a", "t"]
  );
  assert_eq!(m[0].1, Value::from("info"));
  assert_eq!(m[5].1, Value::from(-3));
  assert_eq!(m[6].1, Value::from(1.5));
  assert_eq!(
    m[7].1,
    Value::Array(vec![
      Value::from(1),
      Value::Map(vec![(Value::from("b"), Value::Nil)])
    ])
  );
}

#[test]
fn big_integers_keep_every_digit() {
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink::default();
  t.feed(
    &mut sink,
    b"{\"u\":18446744073709551615,\"i\":-9223372036854775808,\"j\":9007199254740993}\n",
  );
  let m = map(&sink.got[0].2);
  assert_eq!(m[0].1.as_u64(), Some(u64::MAX));
  assert_eq!(m[1].1.as_i64(), Some(i64::MIN));
  assert_eq!(m[2].1.as_u64(), Some(9_007_199_254_740_993));
}

#[test]
fn chunks_split_anywhere_give_the_same_records() {
  let text =
    "{\"msg\":\"héllo wörld ✓\",\"level\":50,\"time\":1733111222333}\n{\"msg\":\"two\"}\r\n\n{\"x\":1}\n"
      .as_bytes();
  let mut whole = VecSink::default();
  Transcoder::new(opts()).feed(&mut whole, text);
  assert_eq!(whole.got.len(), 3);
  for a in 0..text.len() {
    for b in a..text.len() {
      let mut t = Transcoder::new(opts());
      let mut sink = VecSink::default();
      for part in [&text[..a], &text[a..b], &text[b..]] {
        t.feed(&mut sink, part);
      }
      assert_eq!(sink.got, whole.got, "split at {a} and {b}");
      assert_eq!(t.pending_bytes(), 0);
    }
  }
}

#[test]
fn invalid_lines_are_sent_raw_under_the_fallback_tag() {
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink::default();
  let fed = t.feed(
    &mut sink,
    b"not json\n42\n{\"a\":1} trailing\n{\"tag\":\"x\",\"ok\":1}\n\xff\xfe{\n",
  );
  assert_eq!((fed.accepted, fed.invalid), (5, 4));
  assert!(fed.first_invalid.is_some());
  let raw: Vec<_> = sink.got.iter().filter(|g| g.0 == 0).map(|g| map(&g.2)).collect();
  assert_eq!(raw[0], [("msg".to_string(), Value::from("not json"))]);
  assert_eq!(raw[1], [("msg".to_string(), Value::from("42"))]);
  assert_eq!(raw[3], [("msg".to_string(), Value::from("\u{fffd}\u{fffd}{"))]);
  assert_eq!(sink.got[3].0, 1);
}

#[test]
fn time_kept_or_not_a_time() {
  let mut o = opts();
  o.keep_time = true;
  let mut t = Transcoder::new(o);
  let mut sink = VecSink::default();
  t.feed(
    &mut sink,
    b"{\"time\":\"2024-12-02T03:47:02.333Z\",\"a\":1}\n{\"time\":\"soon\"}\n",
  );
  assert_eq!(sink.got[0].1, EventTime::new(1_733_111_222, 333_000_000));
  assert_eq!(map(&sink.got[0].2).len(), 2);
  assert_eq!(sink.got[1].1, None);
  assert_eq!(map(&sink.got[1].2), [("time".to_string(), Value::from("soon"))]);
}

#[test]
fn removing_the_time_shortens_a_16_field_header() {
  let mut line = String::from("{\"time\":1733111222333");
  for i in 0..15 {
    line.push_str(&format!(",\"k{i}\":{i}"));
  }
  line.push_str("}\n");
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink::default();
  t.feed(&mut sink, line.as_bytes());
  assert_eq!(map(&sink.got[0].2).len(), 15);
}

#[test]
fn a_blocked_line_waits_and_is_offered_again() {
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink {
    room: Some(1),
    ..Default::default()
  };
  let fed = t.feed(&mut sink, b"{\"a\":1}\n{\"a\":2}\n{\"a\":");
  assert_eq!((fed.accepted, fed.blocked), (1, true));
  let fed = t.feed(&mut sink, b"3}\n");
  assert!(fed.blocked);
  sink.room = None;
  let fed = t.resume(&mut sink);
  assert_eq!((fed.accepted, fed.blocked), (2, false));
  assert_eq!(sink.got.len(), 3);
  assert_eq!(map(&sink.got[2].2)[0].1, Value::from(3));
}

#[test]
fn overlong_lines_are_skipped_and_counted() {
  let mut o = opts();
  o.max_line_bytes = 20;
  let mut t = Transcoder::new(o);
  let mut sink = VecSink::default();
  let mut fed = t.feed(&mut sink, b"{\"a\":\"0123456789");
  let more = t.feed(
    &mut sink,
    b"0123456789\"}\n{\"b\":1}\n{\"c\":\"01234567890123456789\"}\n",
  );
  fed.too_large += more.too_large;
  assert_eq!(fed.too_large, 2);
  assert_eq!(sink.got.len(), 1);
  assert_eq!(t.pending_bytes(), 0);
}

#[test]
fn end_delivers_a_last_line_without_newline() {
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink::default();
  t.feed(&mut sink, b"{\"a\":1}\n{\"a\":2}");
  assert_eq!(sink.got.len(), 1);
  let fed = t.end(&mut sink);
  assert_eq!(fed.accepted, 1);
  assert_eq!(sink.got.len(), 2);
}

#[test]
fn lone_surrogate_escapes_become_replacement_characters() {
  let mut t = Transcoder::new(opts());
  let mut sink = VecSink::default();
  // What JSON.stringify writes for '\ud800 x', 'y \udfff', a proper pair, and an escaped backslash.
  let fed = t.feed(
    &mut sink,
    br#"{"a":"\ud800 x","b":"y \udfff","c":"\ud83d\ude00","d":"\\ud800","n":1}"#,
  );
  let fed2 = t.feed(&mut sink, b"\n");
  assert_eq!(fed.invalid + fed2.invalid, 0);
  let m = map(&sink.got[0].2);
  assert_eq!(m[0].1, Value::from("\u{fffd} x"));
  assert_eq!(m[1].1, Value::from("y \u{fffd}"));
  assert_eq!(m[2].1, Value::from("\u{1f600}"));
  assert_eq!(m[3].1, Value::from("\\ud800"));
  assert_eq!(m[4].1, Value::from(1));
}
