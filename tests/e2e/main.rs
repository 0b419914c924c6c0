//! End-to-end tests of the `cubeship` binary against real local servers (one test binary).
//! Servers are started by the tests on 127.0.0.1; a missing server fails the test, it never
//! skips: `scripts/test.sh` installs them all.

mod fault_proxy;
mod proxy;
mod support;

mod batch;
mod config;
mod container;
mod errors;
mod faults;
mod gcs;
mod github;
mod github_contract;
mod help;
mod http;
mod linkdoctor;
mod oci;
mod overlap;
mod package;
mod publish_dir;
mod quiet;
mod ranged;
mod reliability;
mod s3;
mod schema;
mod synapse;
mod terminal;
