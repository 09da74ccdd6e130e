//! An artifact store URL → the client for it, configured from the environment and the
//! cloud's standard credential chain.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, RetryConfig};
use url::Url;

use super::error::{describe, redact, ArtifactError};

/// A store's client, the prefix its artifacts live under, and its URL as shown in messages.
pub(super) struct Opened {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: Path,
    pub url: String,
}

/// Parses `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX`, `az://CONTAINER/PREFIX` (or `azure://`)
/// and `file:///ABSOLUTE/PATH` (an existing folder). Credentials never go in the URL.
pub(super) fn open(raw: &str) -> Result<Opened, ArtifactError> {
    let shown = shown(raw);
    let bad = |reason: &str| ArtifactError::BadUrl { url: shown.clone(), reason: reason.into() };
    let url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("credentials and options come from the environment, not the URL"));
    }
    let bucket = url.host_str().filter(|h| !h.is_empty());
    let config = |e: object_store::Error| ArtifactError::Config { url: shown.clone(), detail: describe(&e) };
    let store: Arc<dyn ObjectStore> = match (url.scheme(), bucket) {
        ("file", None) => {
            let dir = url.to_file_path().map_err(|()| bad("a file URL names an absolute local folder"))?;
            if !dir.is_dir() {
                return Err(bad(&format!("{} is not a folder: create it first", dir.display())));
            }
            let store = Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(config)?);
            return Ok(Opened { store, prefix: Path::default(), url: shown });
        }
        ("file", Some(_)) => return Err(bad("a file URL names a local folder: file:///ABSOLUTE/PATH")),
        (scheme @ ("s3" | "gs" | "az" | "azure"), None) => {
            return Err(ArtifactError::MissingBucket { url: shown, scheme: scheme.into() })
        }
        ("s3", Some(_)) => {
            Arc::new(AmazonS3Builder::from_env().with_url(raw).with_retry(retry()).build().map_err(config)?)
        }
        ("gs", Some(_)) => {
            Arc::new(GoogleCloudStorageBuilder::from_env().with_url(raw).with_retry(retry()).build().map_err(config)?)
        }
        ("az" | "azure", Some(_)) => {
            Arc::new(MicrosoftAzureBuilder::from_env().with_url(raw).with_retry(retry()).build().map_err(config)?)
        }
        (scheme, _) => return Err(ArtifactError::UnknownScheme { url: shown, scheme: scheme.into() }),
    };
    let prefix = Path::from_url_path(url.path()).map_err(|e| bad(&e.to_string()))?;
    Ok(Opened { store, prefix, url: shown.trim_end_matches('/').into() })
}

/// Fewer retries than the client's default (10 over up to 3 minutes), so that an unreachable
/// endpoint is reported within seconds; transient server errors are still retried.
fn retry() -> RetryConfig {
    RetryConfig { max_retries: 4, retry_timeout: Duration::from_secs(60), ..Default::default() }
}

/// The URL as messages show it: no user information, query or fragment, nothing secret.
fn shown(raw: &str) -> String {
    let cut = raw.find(['?', '#']).map_or(raw, |n| &raw[..n]);
    let shown = match cut.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => cut.to_string(),
            }
        }
        None => cut.to_string(),
    };
    redact(&shown)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn shown_urls_lose_user_information_and_queries() {
        assert_eq!(shown("s3://KEY:SECRET@bucket/p?x=1#f"), "s3://bucket/p");
        assert_eq!(shown("az://container/p/q"), "az://container/p/q");
        assert_eq!(shown("not a url?token=1"), "not a url");
    }
}
