//! The kubeconfig clients use to reach the cluster: server, CA and bearer token.

use std::net::SocketAddr;

use base64::Engine;

const NAME: &str = "byok8s-test";

/// A kubeconfig (YAML) for `https://ADDRESS` trusting `ca_pem` and sending `token`, with
/// `default` as the context's namespace.
pub fn render(address: SocketAddr, ca_pem: &str, token: &str) -> String {
    let ca_data = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {NAME}
  cluster:
    server: https://{address}
    certificate-authority-data: {ca_data}
users:
- name: {NAME}
  user:
    token: {token}
contexts:
- name: {NAME}
  context:
    cluster: {NAME}
    user: {NAME}
    namespace: default
current-context: {NAME}
preferences: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_names_server_token_and_namespace() {
        let text = render("127.0.0.1:6443".parse().unwrap(), "PEM", "secret-token");
        assert!(text.contains("server: https://127.0.0.1:6443"));
        assert!(text.contains("token: secret-token"));
        assert!(text.contains("certificate-authority-data: UEVN"));
        assert!(text.contains("namespace: default"));
    }
}
