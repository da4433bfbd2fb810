//! The errno-style names Node users know (`ECONNREFUSED`, `ENOTFOUND`...) for the I/O errors behind
//! a connection failure, and their text without Rust's `(os error N)` (REVIEW-0.2 A7).

/// An I/O error's text without Rust's `(os error N)`, with its errno name where it has one:
/// `Connection refused (ECONNREFUSED)`.
pub(crate) fn describe_io(e: &std::io::Error) -> String {
  let text = e.to_string();
  let text = match (e.raw_os_error(), text.rfind(" (os error ")) {
    (Some(_), Some(i)) => text[..i].to_string(),
    _ => text,
  };
  match errno(e) {
    Some(name) if !text.contains(name) => format!("{text} ({name})"),
    _ => text,
  }
}

/// The errno name of an I/O error, by its kind (portable, unlike the numbers). A name that did not
/// resolve is `NotFound` without an OS error (`transport::resolve`); a missing socket path has one.
pub(crate) fn errno(e: &std::io::Error) -> Option<&'static str> {
  use std::io::ErrorKind as K;
  Some(match e.kind() {
    K::ConnectionRefused => "ECONNREFUSED",
    K::ConnectionReset => "ECONNRESET",
    K::ConnectionAborted => "ECONNABORTED",
    K::BrokenPipe => "EPIPE",
    K::TimedOut => "ETIMEDOUT",
    K::NotFound if e.raw_os_error().is_some() => "ENOENT",
    K::NotFound => "ENOTFOUND",
    K::PermissionDenied => "EACCES",
    K::AddrNotAvailable => "EADDRNOTAVAIL",
    K::HostUnreachable => "EHOSTUNREACH",
    K::NetworkUnreachable => "ENETUNREACH",
    K::NetworkDown => "ENETDOWN",
    _ => return None,
  })
}
