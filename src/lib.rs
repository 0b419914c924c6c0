//! cubeship: package an MLCube and publish its parts to public storage for MedPerf, verified.
//!
//! The library holds the application and knows nothing of the command line: it takes
//! settings structs, returns data (manifests, reports, check results) and reports progress
//! through [`reporter::Reporter`]. The binary's `cli` module parses arguments, draws progress,
//! renders reports and chooses exit codes. Providers plug in through [`registry`].

pub mod archive;
pub mod batch;
pub mod config;
pub mod container;
pub mod destinations;
pub mod error;
pub mod linkdoctor;
pub mod mlcube;
pub mod oci;
pub mod overlap;
pub mod package;
pub mod publish;
pub mod registry;
pub mod report;
pub mod reporter;
pub mod verify;
