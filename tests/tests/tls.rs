//! TLS of every lifeguard SDK client (lifeguard-common's `load_config`): the compiled-in roots
//! only, plus a CA added explicitly. A tiny HTTPS server on 127.0.0.1 presents a certificate
//! issued by a CA made up for the test (rcgen): a client given that CA reaches it; a client
//! without it refuses the server's certificate. No local AWS needed.

use aws_config::retry::RetryConfig;
use aws_sdk_lambda::config::{Credentials, Region};
use lifeguard_common::sdk::{AMAZON_ROOTS_PEM, load_config_trusting};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;

/// A CA made up for one test, and a server certificate for 127.0.0.1 it issued.
struct TestPki {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "lifeguard test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, "lifeguard test server");
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    TestPki { ca_pem, server }
}

/// Serves HTTPS on 127.0.0.1: every request is answered as Lambda's `ListFunctions` (no
/// functions). Returns the endpoint URL and the number of requests answered so far.
async fn serve(config: rustls::ServerConfig) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let (acceptor, count) = (TlsAcceptor::from(Arc::new(config)), answered.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, count) = (acceptor.clone(), count.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends here, with the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = br#"{"Functions":[]}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                count.fetch_add(1, Ordering::SeqCst);
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, answered)
}

/// A Lambda client from `load_config_trusting(extra_ca_pem)` (the functions' SDK configuration
/// and HTTPS client) for `url`, with a fixed region and dummy credentials, and one attempt per
/// call: a refused certificate is not retried for seconds.
async fn lambda_client(url: &str, extra_ca_pem: Option<&[u8]>) -> aws_sdk_lambda::Client {
    let sdk = load_config_trusting(extra_ca_pem).await;
    let config = aws_sdk_lambda::config::Builder::from(&sdk)
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTLSTEST", "secret", None, None, "tls test"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// The rustls error somewhere in `error`'s chain (through `io::Error` payloads too).
fn rustls_error<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        next = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => error.source(),
        };
    }
    None
}

#[tokio::test]
async fn a_client_given_the_endpoints_ca_reaches_it_over_https() {
    let pki = test_pki();
    let (url, answered) = serve(pki.server).await;
    let lambda = lambda_client(&url, Some(pki.ca_pem.as_bytes())).await;

    let listed = lambda.list_functions().send().await.expect("ListFunctions over HTTPS");

    assert!(listed.functions().is_empty());
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_without_the_endpoints_ca_refuses_its_certificate() {
    let pki = test_pki();
    let (url, answered) = serve(pki.server).await;
    // The compiled-in roots only, as in Lambda: Amazon's roots do not vouch for the test CA.
    let lambda = lambda_client(&url, None).await;

    let error = lambda.list_functions().send().await.expect_err("an untrusted certificate");

    let refused = rustls_error(&error).unwrap_or_else(|| panic!("not a TLS error: {error:?}"));
    assert!(
        matches!(refused, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
        "{refused:?}"
    );
    assert_eq!(answered.load(Ordering::SeqCst), 0, "no request got past the handshake");
}

#[tokio::test]
async fn a_malformed_extra_ca_is_left_out_and_the_client_still_builds() {
    let pki = test_pki();
    let (url, answered) = serve(pki.server).await;
    let lambda =
        lambda_client(&url, Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")).await;

    let error = lambda.list_functions().send().await.expect_err("an untrusted certificate");

    assert!(rustls_error(&error).is_some(), "not a TLS error: {error:?}");
    assert_eq!(answered.load(Ordering::SeqCst), 0);
}

#[test]
fn the_compiled_in_roots_are_amazon_trust_services() {
    let pem = std::str::from_utf8(AMAZON_ROOTS_PEM).unwrap();
    for root in ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"] {
        assert!(pem.contains(&format!("CN = {root}\n")), "{root}");
    }
    assert!(pem.contains("Starfield Services Root Certificate Authority - G2"));
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
}
