//! Line commands on stdin: `stats`, `reset`, `wait <N> <timeoutMs>`, `quit`.

use std::io::BufRead;
use std::time::Duration;

use crate::output;
use crate::stats::Stats;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
  Line(String),
  Quit,
  Nothing,
}

fn error(msg: &str) -> Reply {
  let mut line = b"{\"error\":".to_vec();
  crate::json::string(&mut line, msg.as_bytes());
  line.push(b'}');
  Reply::Line(String::from_utf8_lossy(&line).into_owned())
}

/// Runs one command. Unknown or malformed commands still get an answer line, so a driver that
/// waits for one line per command never hangs.
pub fn command(line: &str, stats: &Stats) -> Reply {
  let mut words = line.split_whitespace();
  let Some(cmd) = words.next() else {
    return Reply::Nothing;
  };
  let args: Vec<&str> = words.collect();
  match (cmd, args.as_slice()) {
    ("stats", []) => Reply::Line(stats.snapshot().to_json()),
    ("reset", []) => {
      stats.reset();
      Reply::Line(stats.snapshot().to_json())
    }
    ("wait", [n, ms]) => match (n.parse::<u64>(), ms.parse::<u64>()) {
      (Ok(n), Ok(ms)) => {
        stats.wait_events(n, Duration::from_millis(ms));
        Reply::Line(stats.snapshot().to_json())
      }
      _ => error("usage: wait <N> <timeoutMs>"),
    },
    ("quit", []) => Reply::Quit,
    _ => error(&format!("unknown command: {}", line.trim())),
  }
}

/// Answers commands until `quit` or end of input; the caller then exits the process.
pub fn run(input: impl BufRead, stats: &Stats) {
  for line in input.lines() {
    let Ok(line) = line else { return };
    match command(&line, stats) {
      Reply::Line(answer) => output::emit_line(&answer),
      Reply::Quit => return,
      Reply::Nothing => {}
    }
  }
}

#[cfg(test)]
mod tests {
  use std::time::Instant;

  use super::*;
  use crate::stats::Tally;

  #[test]
  fn commands() {
    let s = Stats::default();
    s.commit(&mut Tally {
      events: 2,
      ..Tally::default()
    });
    let Reply::Line(line) = command("stats", &s) else {
      panic!()
    };
    assert!(line.starts_with("{\"events\":2,"), "{line}");
    let Reply::Line(line) = command(" reset ", &s) else {
      panic!()
    };
    assert!(line.starts_with("{\"events\":0,"), "{line}");
    let start = Instant::now();
    let Reply::Line(line) = command("wait 1 20", &s) else {
      panic!()
    };
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(line.starts_with("{\"events\":0,"), "{line}");
    assert_eq!(command("quit", &s), Reply::Quit);
    assert_eq!(command("", &s), Reply::Nothing);
    assert_eq!(
      command("wait x 1", &s),
      Reply::Line(r#"{"error":"usage: wait <N> <timeoutMs>"}"#.into())
    );
    assert_eq!(
      command("bogus \"x\"", &s),
      Reply::Line(r#"{"error":"unknown command: bogus \"x\""}"#.into())
    );
  }
}
