//! Opening the TLS channel to byok8sd.
//!
//! Anything secret the daemon may one day ask for (a bearer token) belongs in
//! [`ConnectOptions`] behind a type whose `Debug` hides it, attached per request; it must
//! never ride in the server URL, which is printed in errors and is therefore refused when it
//! carries user information.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::{Client, Error, ServerUrl};

/// How to reach byok8sd.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The daemon's https URL.
    pub server: ServerUrl,
    /// A PEM file with the CA (or the daemon's self-signed certificate) to trust instead of
    /// the public web roots.
    pub ca_cert: Option<PathBuf>,
    /// How long to wait for the TCP connection.
    pub connect_timeout: Duration,
    /// How long a status, list or cancel call, or opening an event stream, may take, connecting
    /// included; a daemon that accepts a connection and then stalls must not hold the client.
    pub call_timeout: Duration,
    /// How long one submit attempt may take, connecting and uploading the bundle (up to 64 MiB)
    /// included.
    pub submit_timeout: Duration,
}

impl ConnectOptions {
    /// Options for `server` with the public web roots, a ten-second connect timeout, a minute
    /// per call and five minutes per submit attempt.
    pub fn new(server: ServerUrl) -> Self {
        Self {
            server,
            ca_cert: None,
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(60),
            submit_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// Prepares the channel to the daemon without connecting yet.
///
/// The connection is opened by the first call and opened again after it breaks, so the
/// retries of [`Client::submit`] and [`crate::follow`] also cover a daemon that is not up yet
/// (restarting, say). Only local problems, such as an unusable CA file, fail here.
pub fn connect(options: &ConnectOptions) -> Result<Client, Error> {
    let channel = endpoint(options)?.connect_lazy();
    Ok(Client::from_channel(channel, options))
}

fn endpoint(options: &ConnectOptions) -> Result<Endpoint, Error> {
    let unreachable = |source: tonic::transport::Error| Error::Unreachable {
        server: options.server.clone(),
        source: Box::new(source),
    };
    let endpoint = Endpoint::from_shared(options.server.as_str()).map_err(unreachable)?;
    let endpoint = endpoint
        .connect_timeout(options.connect_timeout)
        // Pings notice a silently dead connection during a long watch, so it can be resumed.
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    let tls = tls_config(options)?;
    endpoint
        .tls_config(tls)
        .map_err(|source| match &options.ca_cert {
            Some(path) => Error::CaCertificateInvalid {
                path: path.clone(),
                source: Some(Box::new(source)),
            },
            None => unreachable(source),
        })
}

fn tls_config(options: &ConnectOptions) -> Result<ClientTlsConfig, Error> {
    let tls = ClientTlsConfig::new().domain_name(options.server.host());
    match &options.ca_cert {
        Some(path) => Ok(tls.ca_certificate(read_ca_certificate(path)?)),
        None => Ok(tls.with_webpki_roots()),
    }
}

fn read_ca_certificate(path: &PathBuf) -> Result<Certificate, Error> {
    let pem = fs::read(path).map_err(|source| Error::CaCertificateUnreadable {
        path: path.clone(),
        source,
    })?;
    let marker: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if !pem.windows(marker.len()).any(|window| window == marker) {
        return Err(Error::CaCertificateInvalid {
            path: path.clone(),
            source: None,
        });
    }
    Ok(Certificate::from_pem(pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_with_ca(path: PathBuf) -> ConnectOptions {
        let mut options = ConnectOptions::new(ServerUrl::parse("https://127.0.0.1:1").unwrap());
        options.ca_cert = Some(path);
        options
    }

    #[test]
    fn an_unreadable_ca_file_is_bad_input_naming_the_file() {
        let err = connect(&options_with_ca("/nonexistent/ca.pem".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the CA certificate /nonexistent/ca.pem"
        );
        assert_eq!(err.exit_code().as_u8(), 2);
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        fs::write(&path, "not a certificate").unwrap();
        let err = connect(&options_with_ca(path)).unwrap_err();
        assert!(matches!(err, Error::CaCertificateInvalid { .. }), "{err:?}");
        assert_eq!(err.exit_code().as_u8(), 2);
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_at_the_first_call() {
        let options = ConnectOptions::new(ServerUrl::parse("https://127.0.0.1:1").unwrap());
        let client = connect(&options).unwrap();
        let err = client.get_run("run-1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot reach byok8sd at https://127.0.0.1:1"
        );
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(err.exit_code().as_u8(), 4);
    }
}
