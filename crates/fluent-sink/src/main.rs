//! `fluent-sink` binary: parses flags, binds, announces `LISTENING`, serves, and answers stdin.
#![deny(clippy::all)]

use std::process::ExitCode;
use std::sync::Arc;

use fluent_sink::cli::{self, Parsed, USAGE};
use fluent_sink::server::{self, Listener};
use fluent_sink::stats::Stats;
use fluent_sink::{control, output, tls};

fn main() -> ExitCode {
  let config = match cli::parse(std::env::args().skip(1)) {
    Ok(Parsed::Run(config)) => config,
    Ok(Parsed::Help) => {
      output::emit_line(USAGE);
      return ExitCode::SUCCESS;
    }
    Err(msg) => {
      eprintln!("fluent-sink: {msg}\n{USAGE}");
      return ExitCode::from(2);
    }
  };
  let runtime = match tokio::runtime::Builder::new_multi_thread()
    .worker_threads(config.threads)
    .enable_all()
    .build()
  {
    Ok(rt) => rt,
    Err(e) => {
      eprintln!("fluent-sink: cannot start runtime: {e}");
      return ExitCode::FAILURE;
    }
  };
  let acceptor = match &config.tls {
    None => None,
    Some((cert, key)) => match tls::acceptor_from_files(cert, key) {
      Ok(a) => Some(a),
      Err(e) => {
        eprintln!("fluent-sink: {e}");
        return ExitCode::from(2);
      }
    },
  };
  let stats = Arc::new(Stats::default());
  runtime.block_on(async {
    let listener = match Listener::bind(&config.endpoint).await {
      Ok(l) => l,
      Err(e) => {
        eprintln!(
          "fluent-sink: {}",
          fluent_sink::server::listen_error(&config.endpoint, &e)
        );
        return ExitCode::FAILURE;
      }
    };
    let banner = match listener.banner() {
      Ok(b) => b,
      Err(e) => {
        eprintln!("fluent-sink: {e}");
        return ExitCode::FAILURE;
      }
    };
    output::emit_line(&banner);
    let socket_file = listener.unix_path().map(|p| p.to_path_buf());
    let control_stats = stats.clone();
    // A plain thread: blocking stdin reads and `wait` must not occupy a runtime worker.
    std::thread::spawn(move || {
      control::run(std::io::stdin().lock(), &control_stats);
      if let Some(path) = socket_file {
        let _ = std::fs::remove_file(path);
      }
      // Exit from here: stdin EOF means the parent is gone, and open connections must not keep
      // the process alive.
      std::process::exit(0);
    });
    server::serve_with(listener, stats, config.print, acceptor, config.limits).await;
    ExitCode::SUCCESS
  })
}
