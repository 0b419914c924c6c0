//! The provider contract of cubeship: the `Provider` trait, the types it speaks, one error type
//! with kinds, one status→kind mapping and one retry policy shared by every storage backend.
//!
//! Providers know nothing of the command line: they get a configured value, upload files and say
//! where an anonymous client can read them back.

pub mod dir;
pub mod error;
pub mod http;
pub mod retry;
pub mod secret;
mod types;

pub use error::{Error, ErrorKind, Result};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use types::*;
