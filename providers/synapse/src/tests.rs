//! Tests of the factory's configuration checks, and of the whole provider against the fake
//! Synapse of `tests/servers/synapse_fake.py` (this duplicates `tests/e2e/synapse.rs`'s
//! in-process conformance run, so the upload path can be checked in this crate alone).

use std::collections::BTreeMap;
use std::sync::Arc;

use cubeship_provider::{Destination, EnvLookup, Settings};

use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvLookup {
    cubeship_provider::env_from(pairs)
}

fn settings(given: &[(&str, &str)], env_pairs: &[(&str, &str)]) -> Settings {
    let given: BTreeMap<String, String> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut specs = FACTORY.options.to_vec();
    specs.extend_from_slice(FACTORY.upload_options);
    Settings::resolve(
        &specs,
        &|name| given.get(name).map(|v| vec![v.clone()]),
        env(env_pairs),
    )
}

async fn open_err(destination: Destination<'_>, settings: &Settings) -> InputError {
    match FACTORY.open(destination, settings).await {
        Ok(_) => panic!("opening {destination:?} should fail"),
        Err(e) => e,
    }
}

#[test]
fn the_factory_accepts_synapse_destinations_only() {
    assert!(FACTORY.accepts("synapse:syn123"));
    assert!(FACTORY.accepts("synapse:oops"));
    assert!(!FACTORY.accepts("s3://bucket"));
    assert_eq!(FACTORY.name, "synapse");
    assert_eq!(FACTORY.options.len(), 2);
    assert_eq!(TOKEN.display_name(), "SYNAPSE_AUTH_TOKEN");
    assert!(ENDPOINT.full_help().contains("CUBESHIP_SYNAPSE_ENDPOINT"));
}

#[tokio::test]
async fn bad_destinations_name_the_option_and_the_right_form() {
    let with_token = settings(&[], &[("SYNAPSE_AUTH_TOKEN", "tok-1234")]);
    for spec in ["synapse:", "synapse:123", "synapse:syn", "synapse:project"] {
        let error = open_err(Destination::Spec(spec), &with_token).await;
        assert!(error.message.contains("--to"), "{error}");
        assert!(error.message.contains("synapse:synNNN"), "{error}");
    }
    let error = open_err(Destination::Upload { files: 1 }, &with_token).await;
    assert!(error.message.contains("--parent"), "{error}");
    let bad_parent = settings(
        &[("parent", "folder")],
        &[("SYNAPSE_AUTH_TOKEN", "tok-1234")],
    );
    let error = open_err(Destination::Upload { files: 1 }, &bad_parent).await;
    assert!(error.message.contains("--parent folder"), "{error}");
    let cleartext = settings(
        &[("synapse-endpoint", "http://synapse.example.org")],
        &[("SYNAPSE_AUTH_TOKEN", "tok-1234")],
    );
    let error = open_err(Destination::Spec("synapse:syn1"), &cleartext).await;
    assert!(error.message.contains("--synapse-endpoint"), "{error}");
    assert!(error.to_string().contains("https://"), "{error}");
}

#[tokio::test]
async fn a_missing_token_names_both_places_to_put_one() {
    let home = tempfile::tempdir().unwrap();
    let home_text = home.path().to_str().unwrap();
    let none = settings(&[], &[("HOME", home_text)]);
    let error = open_err(Destination::Spec("synapse:syn1"), &none).await;
    let text = error.to_string();
    assert!(text.contains("SYNAPSE_AUTH_TOKEN"), "{text}");
    assert!(text.contains("~/.synapseConfig"), "{text}");
    // The config file in HOME is the fallback.
    std::fs::write(
        home.path().join(".synapseConfig"),
        "[authentication]\nauthtoken = tok-from-config-file\n",
    )
    .unwrap();
    let provider = FACTORY
        .open(Destination::Spec("synapse:syn1"), &none)
        .await
        .expect("the config file's token is used");
    assert_eq!(provider.describe(), "synapse:syn1");
    assert!(provider.capabilities().flat_names);
    assert_eq!(
        provider.capabilities().container_registry,
        Some("docker.synapse.org")
    );
    assert!(provider.public_url(&ObjectKey::from_parts(["x"])).is_err());
}

#[test]
fn annotations_count_only_for_the_file_handle_they_name() {
    let sha = "ab".repeat(32);
    let annotations = json!({"id": "syn2", "etag": "e", "annotations": {
        "sha256": {"type": "STRING", "value": [sha]},
        "sha256_file_handle_id": {"type": "STRING", "value": ["77"]},
    }});
    assert_eq!(recorded_sha256(&annotations, "77"), Some(sha.clone()));
    assert_eq!(recorded_sha256(&annotations, "78"), None);
    assert_eq!(recorded_sha256(&json!({"annotations": {}}), "77"), None);
}

mod fake;
