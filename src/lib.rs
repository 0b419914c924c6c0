//! cubeship: package an MLCube and publish its parts to public storage for MedPerf, verified.
//!
//! The library holds the whole application; `main` only calls [`cli::run`].

pub mod archive;
pub mod cli;
pub mod destinations;
pub mod error;
pub mod hashing;
pub mod mlcube;
pub mod package;
pub mod progress;
pub mod publish;
pub mod report;
pub mod verify;
