//! TLS for the server connection (`--tls`, `rediss://`), as redis-cli offers it: the CA from
//! `--cacert` or the system's store, a client certificate with `--cert`/`--key` (Redis asks
//! for one by default: `tls-auth-clients yes`), `--sni` for the name the certificate carries,
//! and `--insecure` to skip verification for a self-signed test server.
//!
//! rustls with the ring provider: no OpenSSL to link, and the same behaviour on every host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// TLS settings.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// CA certificates (PEM) to trust instead of the system's.
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// Server name to ask for and verify (default: the host).
    pub sni: Option<String>,
}

/// Why TLS could not be set up. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A certificate file without certificates.
    #[error("{0} holds no PEM certificate")]
    NoCert(PathBuf),
    /// Nothing to trust.
    #[error("no CA certificate to trust: the system store is empty; give the server's CA with --cacert (or --insecure for a test server)")]
    NoRoots,
    /// Only one of the pair.
    #[error("--cert and --key go together: give both, or neither")]
    Pair,
    /// The server name cannot be used for verification.
    #[error("{0} is not a name a certificate can carry: give the certificate's name with --sni")]
    Name(String),
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// A connector and the name to present for `host`.
///
/// # Errors
/// Unreadable files, an empty trust store, a half-given client certificate, a bad name.
pub fn connector(
    o: &TlsOptions,
    host: &str,
) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>), TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let builder = if o.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        builder.with_root_certificates(roots(o.cacert.as_deref())?)
    };
    let config = match (&o.cert, &o.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(c), Some(k)) => {
            let key = PrivateKeyDer::from_pem_file(k)
                .map_err(|e| TlsError::Read { path: k.clone(), reason: e.to_string() })?;
            builder.with_client_auth_cert(certs(c)?, key).map_err(|e| TlsError::Setup(e.to_string()))?
        }
        _ => return Err(TlsError::Pair),
    };
    let name = o.sni.as_deref().unwrap_or(host);
    let name = ServerName::try_from(name.to_string()).map_err(|_| TlsError::Name(name.to_string()))?;
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Read { path: path.to_path_buf(), reason: e.to_string() })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_path_buf()));
    }
    Ok(certs)
}

fn roots(cacert: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match cacert {
        Some(p) => {
            for c in certs(p)? {
                store.add(c).map_err(|e| TlsError::Read { path: p.to_path_buf(), reason: e.to_string() })?;
            }
        }
        None => {
            // Unreadable entries in the system store are skipped, as OpenSSL does.
            let found = rustls_native_certs::load_native_certs();
            let _ = store.add_parsable_certificates(found.certs);
        }
    }
    if store.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(store)
}

/// `--insecure`: any certificate is accepted, but signatures are still checked so the
/// handshake itself stays sound.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
