//! What servers send back: acks (and anything else, which is a fault) read without waiting, and
//! the batches they settle.

use super::Writer;
use crate::link::Heard;
use crate::transport::classify_io;
use std::time::Instant;

impl Writer {
  /// Consumes whatever server `i` already sent, without waiting.
  pub(super) fn read_ready(&mut self, i: usize, now: Instant) {
    loop {
      let link = &mut self.links[i];
      let Some(conn) = link.conn.as_mut() else {
        return;
      };
      let is_tls = conn.is_tls();
      let rlen = link.rlen;
      match conn.try_read(&mut link.rbuf[rlen..]) {
        Ok(0) => return,
        Ok(n) => self.on_read(i, n, now),
        Err(e) => return self.fail_link(i, classify_io(e, is_tls), now),
      }
    }
  }

  pub(super) fn on_read(&mut self, i: usize, n: usize, now: Instant) {
    let Heard { settled, fault } = self.links[i].on_read(n, self.shared.config.require_ack);
    // Acks that came before a fault in the same read settle first: those batches reached the
    // server, and the fault blames only what is still unsettled.
    if !settled.is_empty() {
      self.update_in_flight(i);
      for h in settled {
        self.settle_sent(i, h);
      }
    }
    if let Some(e) = fault {
      self.fail_link(i, e, now);
    }
  }
}
