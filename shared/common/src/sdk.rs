//! The SDK configuration every function loads once at cold start, its HTTPS client and trust
//! roots, and the reduction of any SDK error to an [`AwsError`].

use crate::AwsError;
use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::meta::region::ProvideRegion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Once;
use std::time::Duration;

/// The environment variable naming a PEM file of CA certificates to trust besides
/// [`AMAZON_ROOTS_PEM`] (a corporate TLS proxy's, a local HTTPS endpoint's). Read once, by
/// [`load_config`], and only when set.
pub const EXTRA_CA_FILE_ENV: &str = "LIFEGUARD_EXTRA_CA_FILE";

/// The roots every client trusts, compiled in: Amazon Trust Services' (Amazon Root CA 1-4 and
/// Starfield Services Root CA - G2), to which AWS service endpoints chain. Neither the system's
/// certificate store nor any other file is read for them.
pub const AMAZON_ROOTS_PEM: &[u8] = include_bytes!("amazon-roots.pem");

/// Loads the SDK configuration the standard way (environment, profile, container/instance role),
/// honouring `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`. Every client built from it
/// retries throttling and server errors with backoff (6 attempts) and gives each attempt 10 s;
/// Lambda invocations opt out (the hooks' Lambda adapter). Its HTTPS client is
/// [`https_client`]: the compiled-in [`AMAZON_ROOTS_PEM`], plus the certificates of the file
/// named by `LIFEGUARD_EXTRA_CA_FILE` ([`EXTRA_CA_FILE_ENV`]) when that is set.
///
/// Where the environment holds the region (`AWS_REGION`, `AWS_DEFAULT_REGION`) or credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, ...), as Lambda's does, they are taken from
/// there directly: the default chains would give the same answer (the environment comes first
/// in both) but first build a provider for each later link, an STS client and IMDS clients
/// among them, at every cold start.
pub async fn load_config() -> aws_config::SdkConfig {
    let http_client = match extra_ca_from_env() {
        Ok(pem) => build_https_client(Ok(pem.as_deref())),
        Err(problem) => build_https_client(Err(problem)),
    };
    load_config_with(http_client).await
}

/// [`load_config`], trusting the CA certificates of `extra_ca_pem` (PEM) besides the compiled-in
/// roots, whatever `LIFEGUARD_EXTRA_CA_FILE` says.
pub async fn load_config_trusting(extra_ca_pem: Option<&[u8]>) -> aws_config::SdkConfig {
    load_config_with(https_client(extra_ca_pem)).await
}

async fn load_config_with(http_client: SharedHttpClient) -> aws_config::SdkConfig {
    let retries =
        RetryConfig::standard().with_max_attempts(6).with_initial_backoff(Duration::from_millis(200));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(retries)
        .timeout_config(timeouts);
    if let Some(region) = EnvironmentVariableRegionProvider::new().region().await {
        loader = loader.region(region);
    }
    let from_env = EnvironmentVariableCredentialsProvider::new();
    if from_env.provide_credentials().await.is_ok() {
        loader = loader.credentials_provider(from_env);
    }
    loader.load().await
}

/// The SDK's HTTPS client, built as `default-https-client` builds it (hyper 1 and rustls, the
/// SDK's cipher suites, ALPN h2/http1.1, the connect and read timeouts of each
/// client's settings, proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`), with one difference:
/// it trusts the compiled-in [`AMAZON_ROOTS_PEM`] and `extra_ca_pem` instead of the system's
/// certificates. Nothing is read from disk, and 5 roots decode in microseconds where the system's
/// store took milliseconds of every cold start. An `extra_ca_pem` holding anything but
/// well-formed CA certificates is left out, with an error logged when the first connection is
/// set up.
pub fn https_client(extra_ca_pem: Option<&[u8]>) -> SharedHttpClient {
    build_https_client(Ok(extra_ca_pem))
}

/// [`https_client`] for an extra CA that may have failed to load (`Err`: why). The error about a
/// CA left out is logged when the first connection is set up: the functions load their SDK
/// configuration before they install their log subscriber, and that is when it matters.
fn build_https_client(extra_ca: Result<Option<&[u8]>, String>) -> SharedHttpClient {
    let mut roots = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS_PEM);
    let checked = extra_ca.and_then(|pem| pem.map(|pem| check_ca_pem(pem).map(|_| pem)).transpose());
    let left_out = match checked {
        Ok(Some(pem)) => {
            roots = roots.with_pem_certificate(pem);
            None
        }
        Ok(None) => None,
        Err(problem) => Some(problem),
    };
    let reported = Once::new();
    let tls = TlsContext::builder().with_trust_store(roots).build().expect("a TLS context of roots only");
    // aws-smithy-runtime's `default_https_client`, plus `tls_context`.
    let client =
        aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
            if let Some(problem) = &left_out {
                reported.call_once(|| tracing::error!(%problem, "extra CA certificates left out"));
            }
            let mut connector = Connector::builder()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .tls_context(tls.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        });
    SharedHttpClient::new(NoTrialConnector(client))
}

/// The SDK's HTTPS client minus one step: building a client (`Client::new`) no longer builds and
/// drops a trial connector. The SDK does that only to load the system's certificates (which it
/// keeps) before the first request; with compiled-in roots nothing outlives the trial, and every
/// client paid for a TLS configuration nobody used. Connectors are built, exactly as before,
/// on a client's first request (one per timeout setting, then kept).
#[derive(Debug)]
struct NoTrialConnector(SharedHttpClient);

impl HttpClient for NoTrialConnector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn validate_final_config(&self, components: &RuntimeComponents, cfg: &ConfigBag) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The content of the file named by `LIFEGUARD_EXTRA_CA_FILE` (`None` when unset), or why it
/// could not be read.
fn extra_ca_from_env() -> Result<Option<Vec<u8>>, String> {
    let Some(path) = std::env::var_os(EXTRA_CA_FILE_ENV) else { return Ok(None) };
    std::fs::read(&path)
        .map(Some)
        .map_err(|error| format!("{EXTRA_CA_FILE_ENV}={}: {error}", path.to_string_lossy()))
}

/// The number of certificates in `pem` if each is one the TLS client can trust as a root, as the
/// SDK's client checks them when it builds a connection (where a bad one would panic).
fn check_ca_pem(pem: &[u8]) -> Result<usize, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not PEM: {error}"))?;
    if certificates.is_empty() {
        return Err("no CERTIFICATE in the PEM".into());
    }
    let mut store = rustls::RootCertStore::empty();
    for (n, certificate) in certificates.into_iter().enumerate() {
        store.add(certificate).map_err(|error| format!("certificate {}: {error}", n + 1))?;
    }
    Ok(store.len())
}

/// Converts any SDK error into an [`AwsError`] that names the operation and the cause.
#[expect(clippy::needless_pass_by_value, reason = "called as `map_err(|e| aws_error(op, e))`")]
pub fn aws_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = match &error {
        SdkError::ServiceError(_) => error.code().unwrap_or("Unknown").to_owned(),
        SdkError::TimeoutError(_) => "Timeout".to_owned(),
        _ => "RequestFailed".to_owned(),
    };
    let message = match error.message() {
        Some(message) => message.to_owned(),
        None => DisplayErrorContext(&error).to_string(),
    };
    AwsError { operation, code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_amazon_trust_services_five() {
        assert_eq!(check_ca_pem(AMAZON_ROOTS_PEM), Ok(5));
    }

    #[test]
    fn a_bad_extra_ca_is_named() {
        assert_eq!(check_ca_pem(b"hello"), Err("no CERTIFICATE in the PEM".into()));
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(check_ca_pem(broken).unwrap_err().starts_with("certificate 1: "));
    }
}
