//! The `code` JS sees on the binding's errors: the core's stable codes as `ERR_FLUENT_*`.

use napi::bindgen_prelude::Status;

/// The `code` JS sees on errors thrown by the binding: `ERR_FLUENT_*`, from the core's stable codes.
pub enum Code {
  Core(String),
  InvalidTime,
  /// napi's own failures (argument conversion): kept as napi reports them.
  Napi(Status),
}

impl AsRef<str> for Code {
  fn as_ref(&self) -> &str {
    match self {
      Code::Core(code) => code,
      Code::InvalidTime => "ERR_FLUENT_INVALID_TIME",
      Code::Napi(s) => s.as_ref(),
    }
  }
}

impl From<Status> for Code {
  fn from(s: Status) -> Self {
    Code::Napi(s)
  }
}

/// `ERR_FLUENT_` + the core's stable code: the codes are defined once, in `fluent_forward::Error`.
pub fn error_code(e: &fluent_forward::Error) -> String {
  format!("ERR_FLUENT_{}", e.code())
}

pub fn to_napi(e: fluent_forward::Error) -> napi::Error<Code> {
  napi::Error::new(Code::Core(error_code(&e)), e.to_string())
}
