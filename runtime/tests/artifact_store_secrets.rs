//! No secret reaches an artifact store's errors or `Debug` output. A test binary of its own:
//! it sets credentials in the process environment, which no other test may see change.

mod common;

use mlpc_runtime::{ArtifactError, ArtifactStore};

/// Valid base64, as an Azure account key must be to be used at all.
const SECRET: &str = "mlpcSECRETd41d8cd98f00b204AB";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    assert!(!text.contains("SECRETd41d8cd98f00b204"), "{what} shows part of the secret: {text}");
}

fn open(url: &str) -> Result<ArtifactStore, ArtifactError> {
    ArtifactStore::from_url(url, &std::env::temp_dir().join(common::unique("secrets-cache")))
}

fn refused(url: &str) -> ArtifactError {
    let err = open(url).unwrap_err();
    eprintln!("{url}: {err}");
    assert_clean(url, &err.to_string());
    assert_clean(url, &format!("{err:?}"));
    err
}

#[test]
fn secrets_never_appear_in_errors_or_debug_output() {
    let s3 = common::s3_url("secrets_never_appear_in_errors_or_debug_output (its missing bucket and open store)");
    // Safe here: this binary's only test, before any thread that reads the environment.
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAMLPCTEST");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
    std::env::set_var("AWS_SESSION_TOKEN", SECRET);
    std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", "mlpcaccount");
    std::env::set_var("AZURE_STORAGE_ACCOUNT_KEY", SECRET);
    std::env::set_var("GOOGLE_SERVICE_ACCOUNT_KEY", format!("{{\"private_key\": \"{SECRET}\""));

    // Credentials written into the URL are refused, and not repeated.
    let err = refused(&format!("s3://AKIAEXAMPLE:{SECRET}@bucket/p?token={SECRET}"));
    assert!(matches!(err, ArtifactError::BadUrl { .. }), "{err:?}");

    // A broken service account key (its text holds the secret).
    refused("gs://bucket/p");

    // Unreachable endpoints, with the credentials signing each request.
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    std::env::set_var("AWS_ALLOW_HTTP", "true");
    let err = refused("s3://bucket/p");
    assert!(matches!(err, ArtifactError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("AWS_ENDPOINT_URL"), "says what to check: {err}");
    std::env::set_var("AZURE_STORAGE_ENDPOINT", "http://127.0.0.1:9/mlpcaccount");
    std::env::set_var("AZURE_ALLOW_HTTP", "true");
    let err = refused("az://container/p");
    assert!(matches!(err, ArtifactError::Unreachable { .. }), "{err:?}");
    // A SAS token travels in each request's query string.
    std::env::remove_var("AZURE_STORAGE_ACCOUNT_KEY");
    std::env::set_var("AZURE_STORAGE_SAS_KEY", format!("sv=2024-11-04&sig={SECRET}"));
    let err = refused("az://container/p");
    assert!(matches!(err, ArtifactError::Unreachable { .. }), "{err:?}");

    // Against the real endpoint: a missing bucket, and an open store's Debug.
    let (Some(s3), Some(endpoint)) = (s3, endpoint) else { return };
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    let err = refused("s3://mlpc-no-such-bucket/p");
    assert!(matches!(err, ArtifactError::NoSuchBucket { .. }), "{err:?}");
    let store = open(&format!("{s3}/{}", common::unique("secrets"))).unwrap();
    assert_clean("the store's Debug", &format!("{store:?}"));
    let err = store.fetch(&"0".repeat(64), "onnx").unwrap_err();
    assert_clean("a missing object", &format!("{err} {err:?}"));
}
