//! The provider contract of cubeship: the `Provider` trait and the types it speaks, the
//! `ProviderFactory` a backend registers with its options declared once, one error type with
//! kinds, one status→kind mapping, one retry policy, the streaming digests, the HTTP helpers,
//! and the conformance suite every backend's tests run.
//!
//! Providers know nothing of the command line: they get resolved `Settings`, upload files and
//! say where an anonymous client can read them back.

pub mod conformance;
pub mod digest;
pub mod error;
mod factory;
pub mod fsutil;
pub mod http;
pub mod journal;
mod options;
pub mod ranged;
pub mod retry;
pub mod secret;
pub mod staged;
pub mod timeouts;
mod types;

pub use error::{Error, ErrorKind, InputError, Result};
pub use factory::{
    BUCKET_UPLOAD_OPTIONS, ContainerRegistry, Destination, LoginFuture, OpenFuture,
    ProviderFactory, bucket_and_prefix,
};
pub use options::{
    EnvLookup, OptionSpec, Origin, PUBLIC_URL_BASE, Scope, Settings, ValueKind, env_from,
    process_env,
};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use staged::{GrowingSource, Staged, StagedRequest};
pub use timeouts::{BodyWatch, Timeouts};
pub use types::*;
