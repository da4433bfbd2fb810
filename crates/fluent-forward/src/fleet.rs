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

  /// One of `candidates` (server index, weight), or `None` when there is none.
  pub fn pick(&mut self, candidates: &[(usize, u32)]) -> Option<usize> {
    let total: i64 = candidates.iter().map(|(_, w)| *w as i64).sum();
    let mut best: Option<usize> = None;
    for &(i, w) in candidates {
      self.current[i] += w as i64;
      if best.is_none_or(|b| self.current[i] > self.current[b]) {
        best = Some(i);
      }
    }
    let b = best?;
    self.current[b] -= total;
    Some(b)
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
