//! Unix-socket listening where the platform has it. Elsewhere (Windows) the type exists but cannot
//! be made, so the rest of the receiver (and the addon that embeds it) builds unchanged and a
//! `path` endpoint is an `Unsupported` error at bind time.

#[cfg(unix)]
pub use tokio::net::UnixListener;

/// A stale socket file from an earlier run would make `bind` fail; anything else at the path is
/// left alone so a typo cannot delete a user's file.
#[cfg(unix)]
pub fn remove_stale_socket(path: &std::path::Path) {
  use std::os::unix::fs::FileTypeExt;
  if let Ok(meta) = std::fs::symlink_metadata(path) {
    if meta.file_type().is_socket() {
      let _ = std::fs::remove_file(path);
    }
  }
}

#[cfg(not(unix))]
pub fn remove_stale_socket(_path: &std::path::Path) {}

/// Uninhabited: no value of it ever exists off Unix.
#[cfg(not(unix))]
#[derive(Debug)]
pub enum UnixListener {}

#[cfg(not(unix))]
impl UnixListener {
  pub fn bind(_path: &std::path::Path) -> std::io::Result<UnixListener> {
    Err(std::io::Error::new(
      std::io::ErrorKind::Unsupported,
      "Unix sockets are not available on this platform",
    ))
  }

  pub async fn accept(&self) -> std::io::Result<(tokio::net::TcpStream, ())> {
    match *self {}
  }
}
