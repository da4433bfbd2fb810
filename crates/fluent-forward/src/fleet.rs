//! Which server takes the next batch: smooth weighted round robin (nginx's), over the servers that
//! can take a batch right now. Pure, so the split is unit-tested without sockets.
//!
//! Smooth WRR spreads each server's turns evenly (3:1 gives a a b a, not a a a b) and, because only
//! the servers offered in a round take part, a server that is busy or down simply skips its turns
//! rather than receiving them in a burst when it comes back.

#[derive(Debug, Default)]
pub struct Picker {
  current: Vec<i64>,
}

impl Picker {
  pub fn new(servers: usize) -> Self {
    Self {
      current: vec![0; servers],
    }
  }

  /// Server `i` starts afresh (a member joined in slot `i`, new or reused): no credit or debt
  /// from whoever held the slot before.
  pub fn seat(&mut self, i: usize) {
    if self.current.len() <= i {
      self.current.resize(i + 1, 0);
    }
    self.current[i] = 0;
  }

  /// One of `candidates` (server index, weight), or `None` when there is none.
  pub fn pick(&mut self, candidates: &[(usize, u32)]) -> Option<usize> {
    let b = self.peek(candidates)?;
    self.commit(candidates, b);
    Some(b)
  }

  /// Takes the next turn only if it falls to `server`: the writer asks this before putting one
  /// more batch into a write already going to `server`, so batching writes never shifts the split.
  pub fn pick_if(&mut self, candidates: &[(usize, u32)], server: usize) -> bool {
    if self.peek(candidates) != Some(server) {
      return false;
    }
    self.commit(candidates, server);
    true
  }

  /// Whom `pick` would choose, without taking the turn.
  fn peek(&self, candidates: &[(usize, u32)]) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for &(i, w) in candidates {
      let c = self.current[i] + w as i64;
      if best.is_none_or(|(_, bc)| c > bc) {
        best = Some((i, c));
      }
    }
    best.map(|(i, _)| i)
  }

  fn commit(&mut self, candidates: &[(usize, u32)], chosen: usize) {
    let mut total = 0i64;
    for &(i, w) in candidates {
      self.current[i] += w as i64;
      total += w as i64;
    }
    self.current[chosen] -= total;
  }
}

/// The servers that may take traffic: the available regular ones, or, while there is none, the
/// available standbys. `available[i]` and `standby[i]` are per server.
pub fn eligible(available: &[bool], standby: &[bool]) -> Vec<usize> {
  let regular: Vec<usize> = (0..available.len())
    .filter(|&i| available[i] && !standby[i])
    .collect();
  if !regular.is_empty() {
    return regular;
  }
  (0..available.len())
    .filter(|&i| available[i] && standby[i])
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Writes that take extra batches with `pick_if` get exactly the turns plain picks would give.
  #[test]
  fn pick_if_takes_only_the_turns_pick_would_give() {
    let ready = [(0, 3), (1, 1), (2, 2)];
    let mut plain = Picker::new(3);
    let expected: Vec<usize> = (0..60).map(|_| plain.pick(&ready).unwrap()).collect();
    let mut grouped = Picker::new(3);
    let mut got = Vec::new();
    let mut refused = 0;
    while got.len() < 60 {
      let i = grouped.pick(&ready).unwrap();
      got.push(i);
      // Ask for the same server again, and for another one, as the writer would.
      while got.len() < 60 && grouped.pick_if(&ready, i) {
        got.push(i);
      }
      if !grouped.pick_if(&ready, (i + 1) % 3) {
        refused += 1;
      } else {
        got.push((i + 1) % 3);
      }
    }
    got.truncate(60);
    assert_eq!(got, expected);
    assert!(refused > 0, "pick_if never said no");
  }

  #[test]
  fn weights_split_exactly_and_evenly() {
    let mut p = Picker::new(2);
    let picks: Vec<usize> = (0..8).map(|_| p.pick(&[(0, 3), (1, 1)]).unwrap()).collect();
    assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 6);
    // Spread out: never more than three of server 0 in a row.
    assert!(!picks.windows(4).any(|w| w.iter().all(|&i| i == 0)));
  }

  #[test]
  fn a_missing_server_skips_its_turns() {
    let mut p = Picker::new(3);
    for _ in 0..10 {
      assert_ne!(p.pick(&[(0, 1), (2, 1)]), Some(1));
    }
    let back: Vec<usize> = (0..6)
      .map(|_| p.pick(&[(0, 1), (1, 1), (2, 1)]).unwrap())
      .collect();
    assert_eq!(
      back.iter().filter(|&&i| i == 1).count(),
      2,
      "no burst on return: {back:?}"
    );
    assert_eq!(p.pick(&[]), None);
  }

  #[test]
  fn standbys_only_when_no_regular_server_is_available() {
    let standby = [false, false, true];
    assert_eq!(eligible(&[true, false, true], &standby), vec![0]);
    assert_eq!(eligible(&[false, false, true], &standby), vec![2]);
    assert_eq!(eligible(&[false, false, false], &standby), Vec::<usize>::new());
  }
}
