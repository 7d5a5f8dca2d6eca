//! The daemon's address: an https URL, checked once so every later use can rely on it.

use std::fmt;
use std::str::FromStr;

use tonic::codegen::http::Uri;

/// Why a server URL was refused. Messages never repeat credentials found in the URL.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerUrlError {
    /// The text does not parse as a URL.
    #[error("{0} is not a valid URL")]
    Malformed(String),
    /// The URL has no scheme, so the transport is unknown.
    #[error("{0} has no scheme: write it as https://HOST:PORT")]
    MissingScheme(String),
    /// Plain http would send everything unencrypted; byok8sd only accepts TLS.
    #[error("{0} uses plain http, but byok8sd only accepts TLS: use https://")]
    PlainHttp(String),
    /// A scheme other than https.
    #[error("{0} uses an unsupported scheme: use https://")]
    UnsupportedScheme(String),
    /// User information in the URL would be a credential passed where it could be logged.
    #[error("{0} carries credentials, which the server URL must not hold")]
    Credentials(String),
    /// The daemon is served at the root; a path or query would be silently ignored.
    #[error("{0} has a path or query: give only https://HOST:PORT")]
    Path(String),
}

/// The https URL of a byok8sd, such as `https://127.0.0.1:50051`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    uri: Uri,
}

impl ServerUrl {
    /// Checks `text` and accepts it only as an https URL without credentials or path.
    pub fn parse(text: &str) -> Result<Self, ServerUrlError> {
        let shown = redact(text);
        let uri: Uri = text
            .parse()
            .map_err(|_| ServerUrlError::Malformed(shown.clone()))?;
        match uri.scheme_str() {
            None => return Err(ServerUrlError::MissingScheme(shown)),
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {
                return Err(ServerUrlError::PlainHttp(shown));
            }
            Some(scheme) if !scheme.eq_ignore_ascii_case("https") => {
                return Err(ServerUrlError::UnsupportedScheme(shown));
            }
            Some(_) => {}
        }
        check_authority_and_path(&uri, shown)?;
        Ok(Self { uri })
    }

    /// The host name or address, as TLS must verify it (IPv6 without brackets).
    pub fn host(&self) -> &str {
        let host = self.uri.host().unwrap_or_default();
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The URL as a string, suitable for tonic's endpoint.
    pub fn as_str(&self) -> String {
        self.to_string()
    }
}

fn check_authority_and_path(uri: &Uri, shown: String) -> Result<(), ServerUrlError> {
    let Some(authority) = uri.authority() else {
        return Err(ServerUrlError::Malformed(shown));
    };
    if authority.as_str().contains('@') {
        return Err(ServerUrlError::Credentials(shown));
    }
    if authority.host().is_empty() {
        return Err(ServerUrlError::Malformed(shown));
    }
    let path_is_root = matches!(uri.path(), "" | "/");
    if !path_is_root || uri.query().is_some() {
        return Err(ServerUrlError::Path(shown));
    }
    Ok(())
}

/// Hides the user information (anything before `@` in the authority), so an error never
/// echoes a password, whether or not the text starts with a scheme.
fn redact(text: &str) -> String {
    let start = match text.split_once("://") {
        Some((scheme, _)) if is_scheme(scheme) => scheme.len() + 3,
        _ => 0,
    };
    let rest = &text[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &rest[at..]),
        None => text.to_owned(),
    }
}

/// RFC 3986 scheme syntax: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

impl FromStr for ServerUrl {
    type Err = ServerUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let authority = self.uri.authority().map(|a| a.as_str()).unwrap_or_default();
        write!(f, "https://{authority}")
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_url_with_port_is_accepted() {
        let url = ServerUrl::parse("https://127.0.0.1:50051").unwrap();
        assert_eq!(url.to_string(), "https://127.0.0.1:50051");
        assert_eq!(url.host(), "127.0.0.1");
    }

    #[test]
    fn trailing_slash_is_accepted() {
        let url = ServerUrl::parse("https://byok8s.example:443/").unwrap();
        assert_eq!(url.to_string(), "https://byok8s.example:443");
    }

    #[test]
    fn ipv6_host_loses_its_brackets_for_tls() {
        let url = ServerUrl::parse("https://[::1]:50051").unwrap();
        assert_eq!(url.host(), "::1");
    }

    #[test]
    fn plain_http_is_refused_with_a_pointer_to_https() {
        let err = ServerUrl::parse("http://127.0.0.1:50051").unwrap_err();
        assert_eq!(
            err,
            ServerUrlError::PlainHttp("http://127.0.0.1:50051".into())
        );
        assert!(err.to_string().contains("use https://"));
    }

    #[test]
    fn url_without_scheme_is_refused() {
        let err = ServerUrl::parse("127.0.0.1:50051").unwrap_err();
        assert!(matches!(err, ServerUrlError::MissingScheme(_)), "{err:?}");
    }

    #[test]
    fn other_schemes_are_refused() {
        let err = ServerUrl::parse("grpc://host:1").unwrap_err();
        assert!(
            matches!(err, ServerUrlError::UnsupportedScheme(_)),
            "{err:?}"
        );
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_being_echoed() {
        let err = ServerUrl::parse("https://alice:s3cret@host:1").unwrap_err();
        assert!(matches!(err, ServerUrlError::Credentials(_)), "{err:?}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn credentials_in_a_url_without_scheme_are_not_echoed() {
        for text in ["alice:tok3n@host:50051", "alice:tok3n@host:50051/x"] {
            let err = ServerUrl::parse(text).unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("tok3n"), "{shown}");
            assert!(shown.contains("***@host:50051"), "{shown}");
        }
    }

    #[test]
    fn credentials_are_hidden_even_when_a_path_looks_like_a_scheme() {
        assert_eq!(redact("alice:tok3n@host/a://b"), "***@host/a://b");
        assert_eq!(redact("https://alice:tok3n@host:1"), "https://***@host:1");
        assert_eq!(redact("https://host:1/a@b"), "https://host:1/a@b");
    }

    #[test]
    fn a_path_is_refused() {
        let err = ServerUrl::parse("https://host:1/api").unwrap_err();
        assert!(matches!(err, ServerUrlError::Path(_)), "{err:?}");
    }

    #[test]
    fn garbage_is_malformed() {
        let err = ServerUrl::parse("https://").unwrap_err();
        assert!(matches!(err, ServerUrlError::Malformed(_)), "{err:?}");
    }
}
