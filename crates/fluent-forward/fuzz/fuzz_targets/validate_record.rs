//! `record_len` on arbitrary bytes: no panic, and an accepted length is a real, self-contained
//! object end (the result depends only on the bytes it covers).
#![no_main]

use fluent_forward::codec::validate::{record_len, Invalid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  match record_len(data) {
    Ok(n) => {
      assert!(
        n > 0 && n <= data.len(),
        "length {n} outside input of {}",
        data.len()
      );
      assert_eq!(record_len(&data[..n]), Ok(n), "re-validating the accepted bytes");
      // One byte short must be a truncation, never another verdict (parse_ack maps it to Incomplete).
      assert_eq!(record_len(&data[..n - 1]), Err(Invalid::Truncated));
    }
    Err(Invalid::Truncated) => {
      // Every prefix of a truncated buffer is truncated too.
      if !data.is_empty() {
        assert_eq!(record_len(&data[..data.len() / 2]), Err(Invalid::Truncated));
      }
    }
    Err(_) => {}
  }
});
