//! The daemon's TLS identity: given files, or a self-signed pair generated on first start.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use tonic::transport::{Identity, ServerTlsConfig};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not generate a self-signed certificate")]
    Generate(#[from] rcgen::Error),
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("the certificate {cert} cannot be served with the key {key}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Where the certificate and key come from.
pub enum TlsSource {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Generated into this directory on first start and reused afterwards.
    SelfSigned {
        dir: PathBuf,
    },
}

/// Loads (or first generates) the identity and returns the server's TLS configuration.
pub fn server_config(source: &TlsSource) -> Result<ServerTlsConfig, TlsError> {
    let (cert, key) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { dir } => ensure_self_signed(dir)?,
    };
    let (cert_pem, key_pem) = (read(&cert)?, read(&key)?);
    check_pair(&cert_pem, &key_pem, &cert, &key)?;
    let identity = Identity::from_pem(cert_pem, key_pem);
    Ok(ServerTlsConfig::new().identity(identity))
}

/// Checks that the files hold a certificate chain and the private key of its first
/// certificate, as the TLS library will want them, so that a wrong pair stops the daemon
/// before it listens rather than when the server starts.
fn check_pair(cert_pem: &[u8], key_pem: &[u8], cert: &Path, key: &Path) -> Result<(), TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .ok()
        .filter(|chain: &Vec<_>| !chain.is_empty())
        .ok_or_else(|| TlsError::NoCertificate {
            path: cert.to_owned(),
        })?;
    let private_key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey {
        path: key.to_owned(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, private_key, &provider).map_err(|source| TlsError::Pair {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    })?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Generates a certificate for localhost and 127.0.0.1 unless one is already there.
fn ensure_self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }

    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated = rcgen::generate_simple_self_signed(names)?;
    // The key is created readable by its owner only, so it is never exposed, even for a
    // moment; the certificate is public.
    let write = |path: &Path, contents: String, mode: u32| {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut file| file.write_all(contents.as_bytes()))
            .map_err(|source| TlsError::Write {
                path: path.to_owned(),
                source,
            })
    };
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    // A half-written pair from an interrupted start is replaced.
    for path in [&key, &cert] {
        let _ = std::fs::remove_file(path);
    }
    write(&key, generated.signing_key.serialize_pem(), 0o600)?;
    write(&cert, generated.cert.pem(), 0o644)?;
    tracing::info!(
        cert = %cert.display(),
        "generated a self-signed TLS certificate; clients can trust it with BYOK8S_CA_CERT={}",
        cert.display()
    );
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_is_generated_once_and_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = TlsSource::SelfSigned {
            dir: dir.path().to_owned(),
        };
        server_config(&source).expect("first start generates");
        let first = std::fs::read(dir.path().join("server.crt")).expect("cert written");
        server_config(&source).expect("second start reuses");
        let second = std::fs::read(dir.path().join("server.crt")).expect("cert kept");
        assert_eq!(first, second);
    }

    #[test]
    fn the_generated_key_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        server_config(&TlsSource::SelfSigned {
            dir: dir.path().to_owned(),
        })
        .expect("generated");
        let mode = std::fs::metadata(dir.path().join("server.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }

    /// A self-signed pair written into a fresh directory, as (directory, cert, key).
    fn generated_pair() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = ensure_self_signed(dir.path()).expect("generated");
        (dir, cert, key)
    }

    fn files(cert: &Path, key: &Path) -> TlsSource {
        TlsSource::Files {
            cert: cert.to_owned(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let (_first, cert, _) = generated_pair();
        let (_second, _, other_key) = generated_pair();
        assert!(server_config(&files(&cert, &cert.with_file_name("server.key"))).is_ok());
        let error = server_config(&files(&cert, &other_key)).unwrap_err();
        assert!(matches!(error, TlsError::Pair { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains(&cert.display().to_string()), "{text}");
        assert!(text.contains(&other_key.display().to_string()), "{text}");
    }

    #[test]
    fn files_without_pem_contents_are_refused_naming_the_file() {
        let (dir, cert, key) = generated_pair();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let error = server_config(&files(&empty, &key)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{} holds no PEM certificate", empty.display())
        );
        // A certificate where the key should be, as when the two are swapped.
        let error = server_config(&files(&cert, &cert)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{} holds no PEM private key", cert.display())
        );
    }

    #[test]
    fn a_missing_certificate_file_is_named_in_the_error() {
        let source = TlsSource::Files {
            cert: "/nonexistent/c.pem".into(),
            key: "/nonexistent/k.pem".into(),
        };
        let error = server_config(&source).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/c.pem"));
    }
}
