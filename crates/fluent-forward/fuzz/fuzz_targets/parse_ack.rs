//! `parse_ack` on arbitrary server bytes: no panic, never a length past the input, and an ack's
//! id lies inside the bytes it reports as consumed.
#![no_main]

use fluent_forward::codec::ack::{parse_ack, AckParse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  match parse_ack(data) {
    AckParse::Ack(id, n) => {
      assert!(
        n > 0 && n <= data.len(),
        "length {n} outside input of {}",
        data.len()
      );
      let base = data.as_ptr() as usize;
      let off = id.as_ptr() as usize - base;
      assert!(off + id.len() <= n, "id outside the consumed bytes");
      assert_eq!(parse_ack(&data[..n]), AckParse::Ack(id, n));
      assert_eq!(parse_ack(&data[..n - 1]), AckParse::Incomplete);
    }
    AckParse::Incomplete => {
      if !data.is_empty() {
        assert_eq!(parse_ack(&data[..data.len() / 2]), AckParse::Incomplete);
      }
    }
    AckParse::Garbage(_) => {}
  }
});
