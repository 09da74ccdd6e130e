//! TLS to the Postgres store, as libpq's `sslmode` and `sslrootcert` ask for it (in the URL,
//! or `PGSSLMODE` and `PGSSLROOTCERT` when the URL has none):
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked; with `sslrootcert`, as `verify-ca` |
//! | `verify-ca` | always | signed by a CA of `sslrootcert` |
//! | `verify-full` | always | signed by a CA of `sslrootcert`, and naming the host |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the platform's; without
//! it, `verify-*` read `~/.postgresql/root.crt`, as libpq does. Connections go through
//! rustls, with ring as the crypto provider.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme,
};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// How much TLS a connection asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` (plain first, TLS if refused) is not offered: ask for `prefer`.
            other => {
                return Err(format!("sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the CA certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    System,
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::File(path) => write!(f, "{}", path.display()),
            Roots::System => f.write_str("the system's CA certificates"),
        }
    }
}

/// A connection's TLS settings, taken out of its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    pub roots: Option<Roots>,
}

impl Tls {
    /// Takes `sslmode` and `sslrootcert` out of the URL's query (the client reads the rest);
    /// returns the URL without them and the settings.
    pub fn take(url: &str) -> Result<(String, Tls), String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = None;
        let mut roots = None;
        let mut rest = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "sslmode" => mode = Some(SslMode::parse(&value)?),
                "sslrootcert" => roots = Some(value.into_owned()),
                _ => drop(rest.append_pair(&key, &value)),
            }
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mode = match mode {
            Some(m) => m,
            None => env("PGSSLMODE").map_or(Ok(SslMode::Prefer), |m| SslMode::parse(&m))?,
        };
        let roots = roots.or_else(|| env("PGSSLROOTCERT")).map(|r| match r.as_str() {
            "system" => Roots::System,
            _ => Roots::File(r.into()),
        });
        let rest = rest.finish();
        let url = if rest.is_empty() { base.to_string() } else { format!("{base}?{rest}") };
        Ok((url, Tls { mode, roots }))
    }

    /// The mode the client negotiates with: `prefer`, `require`, or none at all.
    pub fn client_mode(&self) -> postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        }
    }

    /// Whether the server's certificate is checked against CA certificates.
    fn verifies(&self) -> bool {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => false,
            SslMode::Require => self.roots.is_some(),
            SslMode::VerifyCa | SslMode::VerifyFull => true,
        }
    }

    /// The connector for this mode; `None` for `disable`.
    pub fn connector(&self) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, String> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.verifies() {
            false => Arc::new(Unchecked(provider.clone())),
            true => {
                let roots = Arc::new(self.root_store()?);
                let full = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("cannot use the CA certificates of {}: {e}", self.roots_shown()))?;
                match self.mode {
                    SslMode::VerifyFull => full,
                    _ => Arc::new(ChainOnly(full)),
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    /// What to add to a failed connection's message: what the certificate had to be.
    pub fn hint(&self) -> Option<String> {
        let what = match self.mode {
            SslMode::VerifyFull => "signed by a CA in",
            SslMode::VerifyCa | SslMode::Require if self.verifies() => "signed by a CA in",
            _ => return None,
        };
        let name = if self.mode == SslMode::VerifyFull { " and name the host it was reached at" } else { "" };
        Some(format!(
            "with sslmode={}, the server's certificate must be {what} {}{name}",
            self.mode.name(),
            self.roots_shown()
        ))
    }

    fn default_roots() -> Option<PathBuf> {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql").join("root.crt"))
    }

    fn roots_shown(&self) -> String {
        match (&self.roots, Tls::default_roots()) {
            (Some(r), _) => r.to_string(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => "~/.postgresql/root.crt".into(),
        }
    }

    fn root_store(&self) -> Result<RootCertStore, String> {
        let mut store = RootCertStore::empty();
        let path = match &self.roots {
            Some(Roots::System) => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err("sslrootcert=system: no CA certificates found on this system".into());
                }
                return Ok(store);
            }
            Some(Roots::File(path)) => path.clone(),
            None => match Tls::default_roots().filter(|p| p.exists()) {
                Some(path) => path,
                None => {
                    return Err(format!(
                        "sslmode={} checks the server's certificate: name its CA's certificate with \
                         sslrootcert=PATH (or sslrootcert=system) in the URL, or put it in ~/.postgresql/root.crt",
                        self.mode.name()
                    ))
                }
            },
        };
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read the CA certificates in {} (sslrootcert): {e}", path.display()))?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("{} (sslrootcert) holds no CA certificate", path.display()));
        }
        Ok(store)
    }
}

/// `prefer` and `require` without CA certificates: encrypted, the certificate not checked
/// (as libpq does); the handshake's signatures still are.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked, the name the certificate is for is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_the_url() {
        let (url, tls) =
            Tls::take("postgres://u:p@db:5432/ml?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem")
                .unwrap();
        assert_eq!(url, "postgres://u:p@db:5432/ml?application_name=x");
        assert_eq!(tls, Tls { mode: SslMode::VerifyFull, roots: Some(Roots::File("/etc/ca.pem".into())) });
        let (url, tls) = Tls::take("postgres://db/ml?sslmode=disable").unwrap();
        assert_eq!((url.as_str(), tls.mode), ("postgres://db/ml", SslMode::Disable));
        assert!(tls.connector().unwrap().is_none());
        let (_, tls) = Tls::take("postgres://db/ml?sslmode=require&sslrootcert=system").unwrap();
        assert!(tls.verifies() && tls.roots == Some(Roots::System));
        let err = Tls::take("postgres://db/ml?sslmode=allow").unwrap_err();
        assert!(err.contains("sslmode `allow` is not one of"), "{err}");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let tls = Tls { mode: SslMode::VerifyCa, roots: Some(Roots::File(missing.clone())) };
        let err = tls.connector().err().unwrap();
        assert!(err.contains(&format!("cannot read the CA certificates in {}", missing.display())), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let tls = Tls { mode: SslMode::VerifyFull, roots: Some(Roots::File(empty.clone())) };
        let err = tls.connector().err().unwrap();
        assert!(err.contains("holds no CA certificate"), "{err}");
        let tls = Tls { mode: SslMode::Require, roots: None };
        assert!(tls.connector().unwrap().is_some(), "require without a CA checks no certificate");
    }
}
