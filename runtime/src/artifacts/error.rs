//! What can go wrong with an artifact store, each worded with how to fix it. No text here
//! holds a credential: everything that came from a client library passes through `redact`.

use std::path::PathBuf;

use object_store::client::{HttpError, HttpErrorKind};

/// An artifact store's failure. Its `Display` and `Debug` never contain a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(
        "`{url}` is not an artifact store URL: {reason}; write s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, \
         az://CONTAINER/PREFIX or file:///ABSOLUTE/PATH"
    )]
    BadUrl { url: String, reason: String },
    #[error("`{url}`: unknown scheme `{scheme}`; artifact stores are s3://, gs://, az:// (or azure://) and file://")]
    UnknownScheme { url: String, scheme: String },
    #[error("`{url}` names no bucket: write {scheme}://BUCKET/PREFIX")]
    MissingBucket { url: String, scheme: String },
    #[error("the bucket of `{url}` does not exist, or these credentials cannot list it: create it, or fix the URL")]
    NoSuchBucket { url: String },
    #[error(
        "cannot reach the artifact store `{url}`: {detail}; check the network and the endpoint \
         (AWS_ENDPOINT_URL, AZURE_STORAGE_ENDPOINT; an http:// one also needs AWS_ALLOW_HTTP or AZURE_ALLOW_HTTP=true)"
    )]
    Unreachable { url: String, detail: String },
    #[error(
        "the artifact store `{url}` refused the credentials: {detail}; they come from the environment \
         (AWS_*, GOOGLE_*, AZURE_* variables) or the cloud's standard chain (profile, instance or workload identity)"
    )]
    Credentials { url: String, detail: String },
    #[error("cannot set up the artifact store `{url}`: {detail}")]
    Config { url: String, detail: String },
    #[error("{object} is not in the artifact store")]
    NotFound { object: String },
    #[error(
        "{object} does not hold what its name says: expected sha256 {expected}, downloaded {actual}; \
         the download was deleted"
    )]
    Corrupt { object: String, expected: String, actual: String },
    #[error("{} hashes to {actual}, not {expected}: nothing was uploaded", path.display())]
    LocalMismatch { path: PathBuf, expected: String, actual: String },
    #[error("`{name}` is not a content address: a sha256 is 64 lowercase hex digits, an extension letters and digits")]
    BadName { name: String },
    #[error("cannot {op} {object}: {detail}")]
    Store { op: &'static str, object: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Sorts a client error into what the caller can act on.
pub(super) fn classify(e: object_store::Error, op: &'static str, url: &str, object: &str) -> ArtifactError {
    let detail = describe(&e);
    match e {
        object_store::Error::NotFound { .. } => ArtifactError::NotFound { object: object.into() },
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
            ArtifactError::Credentials { url: url.into(), detail }
        }
        _ if cannot_connect(&e) => ArtifactError::Unreachable { url: url.into(), detail },
        _ => ArtifactError::Store { op, object: object.into(), detail },
    }
}

/// A client error that came through an `std::io` interface (the upload writer).
pub(super) fn classify_io(e: std::io::Error, op: &'static str, url: &str, object: &str) -> ArtifactError {
    match e.into_inner().map(|inner| inner.downcast::<object_store::Error>()) {
        Some(Ok(e)) => classify(*e, op, url, object),
        Some(Err(other)) => ArtifactError::Store { op, object: object.into(), detail: redact(&other.to_string()) },
        None => ArtifactError::Store { op, object: object.into(), detail: "I/O error".into() },
    }
}

/// The error and its causes on one line, redacted.
pub(super) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    redact(&text)
}

/// Whether the store answered 404. Lists report it as a generic error whose cause (the
/// client's retry error, whose status is not public) says so in words.
pub(super) fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. }) || describe(e).contains("status code: 404")
}

fn cannot_connect(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<HttpError>().is_some_and(|h| h.kind() == HttpErrorKind::Connect) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// `text` without credentials: the values of the environment's secret `AWS_*`, `GOOGLE_*`
/// and `AZURE_*` variables (secret keys, session tokens, client secrets, account and service
/// account keys, SAS tokens, passwords), and the query string of any URL (where Azure SAS
/// tokens and presigned signatures travel), are replaced by `<redacted>`. Key ids are not
/// secret and stay.
pub(super) fn redact(text: &str) -> String {
    let mut out = text.to_string();
    // `vars_os`: `vars` panics on a variable that is not Unicode; such a value cannot
    // appear in a message anyway.
    let vars =
        std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    for (name, value) in vars {
        let cloud = ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| name.starts_with(p));
        let secret = name.ends_with("_KEY") || ["SECRET", "TOKEN", "PASSWORD", "SAS"].iter().any(|w| name.contains(w));
        if cloud && secret && value.len() >= 8 {
            out = out.replace(&value, "<redacted>");
        }
    }
    strip_url_queries(&out)
}

fn strip_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let end =
            rest[start..].find(|c: char| c.is_whitespace() || "\"'<>()`".contains(c)).map_or(rest.len(), |n| start + n);
        let url = &rest[..end];
        match url[start..].find('?') {
            Some(q) => {
                out.push_str(&url[..start + q]);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::strip_url_queries;

    #[test]
    fn url_queries_are_stripped() {
        assert_eq!(
            strip_url_queries("error for url (https://a.blob.core.windows.net/c/x?sig=SECRET&se=1): refused"),
            "error for url (https://a.blob.core.windows.net/c/x?<redacted>): refused"
        );
        assert_eq!(strip_url_queries("no url? here"), "no url? here");
        assert_eq!(strip_url_queries("s3://b/p and http://h/x?y"), "s3://b/p and http://h/x?<redacted>");
    }
}
