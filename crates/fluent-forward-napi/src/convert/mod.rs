//! Plain conversions between JS objects and core types, one file per direction and kind: error
//! codes, options in, events and kept batches out, stats and reports out.

mod codes;
mod events;
mod options;
mod reports;

pub use codes::*;
pub use events::*;
pub use options::*;
pub use reports::*;
