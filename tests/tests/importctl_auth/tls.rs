//! `--ca-file`: the API served over HTTPS by a TLS proxy whose certificate a CA made in the
//! test signed.

use std::net::SocketAddr;
use std::sync::Arc;

use imports_common::model::Mode;
use imports_tests::TestEnv;

use crate::support::{application, builds, created_ids, run, TempDir, SKUS};

/// A CA named `name`, and a certificate for 127.0.0.1 it signed: (the CA's PEM, the
/// certificate, its key).
fn certificates(
    name: &str,
) -> (
    String,
    tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    Vec<u8>,
) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), server.der().clone(), key.serialize_der())
}

/// Serves `target` over TLS with the certificate; returns where.
async fn tls_proxy(
    target: SocketAddr,
    certificate: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    key: Vec<u8>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio_rustls::rustls;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![certificate],
        rustls::pki_types::PrivatePkcs8KeyDer::from(key).into(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake: nothing to do.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_is_trusted_for_an_api_behind_https() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let (id, secret, _) = application(&env, "acme").await;
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let csv = dir.file("skus.csv", SKUS);
    let (ca, certificate, key) = certificates("importctl test CA");
    let ca_file = dir.file("ca.pem", &ca);
    let other_ca = dir.file("other-ca.pem", &certificates("another CA").0);
    let target: SocketAddr = api
        .base_url
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let (addr, tls) = tls_proxy(target, certificate, key).await;
    let https = format!("https://{addr}");
    let flags = [
        "--api-url",
        https.as_str(),
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];

    // With the CA: the token request and the calls go through TLS to the API.
    let mut args = flags.to_vec();
    args.extend(["--ca-file", &ca_file, "create", "--type", "skus", &csv]);
    let out = run(dir.ctl(&args)).await.expect(0);
    let import = created_ids(&out.stdout).remove(0);
    let mut cmd = dir.ctl(&["--api-url", &https, "--token", &token, "list", "--json"]);
    cmd.env("IMPORTS_CA_FILE", &ca_file);
    let list = run(cmd).await.expect(0).json();
    assert_eq!(list["data"][0]["id"], import.as_str());

    // Without it, or with another CA: a certificate error, and a hint.
    let without = "(a server certificate of a private CA needs --ca-file)";
    let other = format!(
        "(neither the system's CAs nor those of {other_ca} accept the server's certificate)"
    );
    for (extra, hint) in [
        (&[][..], without),
        (&["--ca-file", other_ca.as_str()][..], other.as_str()),
    ] {
        let mut args = flags.to_vec();
        args.extend(extra);
        args.push("list");
        let out = run(dir.ctl(&args)).await.expect(2);
        let line = out.error_line();
        assert!(
            line.starts_with(&format!(
                "error: cannot reach the token endpoint {https}/oauth/token {hint}: "
            )) && line.ends_with("invalid peer certificate: UnknownIssuer"),
            "{line}"
        );
        let mut args = vec!["--api-url", &https, "--token", &token];
        args.extend(extra);
        args.push("list");
        let out = run(dir.ctl(&args)).await.expect(2);
        assert!(
            out.error_line()
                .starts_with(&format!("error: cannot reach the API at {https} {hint}: ")),
            "{}",
            out.stderr
        );
    }

    // login keeps the CA file with the credentials.
    let mut args = flags.to_vec();
    args.extend(["--ca-file", &ca_file, "login"]);
    let mut login = dir.ctl(&args);
    login.env("XDG_CONFIG_HOME", dir.0.join("xdg"));
    run(login).await.expect(0);
    let mut list = dir.ctl(&["list", "--json"]);
    list.env("XDG_CONFIG_HOME", dir.0.join("xdg"));
    assert_eq!(run(list).await.expect(0).json()["meta"]["record_count"], 1);

    // A CA file that is missing, or holds no certificate: one line naming it.
    let missing = dir.0.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let out = run(dir.ctl(&["--token", &token, "--ca-file", missing, "list"]))
        .await
        .expect(2);
    assert!(
        out.error_line()
            .starts_with(&format!("error: cannot read the CA file {missing}: ")),
        "{}",
        out.stderr
    );
    let empty = dir.file("empty.pem", "not a certificate\n");
    let out = run(dir.ctl(&["--token", &token, "--ca-file", &empty, "list"]))
        .await
        .expect(2);
    assert_eq!(
        out.error_line(),
        format!("error: the CA file {empty} has no PEM certificate")
    );

    tls.abort();
    api.stop().await;
}
