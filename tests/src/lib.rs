//! Test helpers: a fresh database and fresh queue names per test, workers run in-process or
//! as real processes, and shortcuts to create imports and wait for them.
//!
//! Every [`TestEnv`] creates its own database (`imports_test_<random>`, migrated) and its own
//! queue name, so tests run in parallel against the machine's real Postgres and RabbitMQ; its
//! `Drop` removes both.

use imports_storage::imports;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use imports_common::inputs::count_inputs;
use imports_common::model::{Format, Import, Mode, Tenant};
use imports_runtime::config::{ServiceConfig, WorkerConfig};
use imports_runtime::queue::{self, ImportMessage, Publisher};
use imports_storage::imports::NewImport;
use tokio_util::sync::CancellationToken;

pub mod api_process;
pub mod importctl;
pub mod proxy;
pub mod receiver;

/// The Postgres server tests use (override with `TEST_POSTGRES_URL`, without a database name).
pub fn postgres_server() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The RabbitMQ tests use (override with `TEST_AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| imports_runtime::config::DEFAULT_AMQP_URL.into())
}

/// A fresh database and queue for one test.
pub struct TestEnv {
    /// The database's name.
    pub db_name: String,
    /// Its URL.
    pub database_url: String,
    /// The queue's name.
    pub queue: String,
    /// A pool on the database.
    pub pool: Pool,
    /// A tenant to import as.
    pub tenant: Tenant,
}

impl TestEnv {
    /// Creates and migrates a new database and picks a new queue name.
    pub async fn new() -> TestEnv {
        let _ = imports_runtime::telemetry::init("tests");
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("imports_test_{}", &suffix[..16]);
        let database_url = format!("{}/{db_name}", postgres_server());
        imports_storage::migrate::ensure_database(&database_url)
            .await
            .expect("create the test database");
        let pool = imports_storage::db::pool(
            &database_url,
            8,
            &imports_runtime::config::DEFAULT_POOL_SETTINGS,
        )
        .expect("pool");
        {
            let mut client = pool.get().await.expect("connect to the test database");
            imports_storage::migrate::run(&mut client)
                .await
                .expect("migrate");
        }
        TestEnv {
            db_name,
            database_url,
            queue: format!("imports_test_{}", &suffix[..16]),
            pool,
            tenant: Tenant {
                organization_id: "org-a".into(),
                mode: Mode::Test,
            },
        }
    }

    /// Connection settings for a binary under test.
    pub fn services(&self) -> ServiceConfig {
        ServiceConfig {
            database_url: self.database_url.clone(),
            amqp_url: amqp_url(),
            queue: self.queue.clone(),
            pool: imports_runtime::config::DEFAULT_POOL_SETTINGS,
        }
    }

    /// A worker configuration for this environment.
    pub fn worker_config(
        &self,
        concurrency: usize,
        batch_size: usize,
        lease_secs: u64,
    ) -> WorkerConfig {
        WorkerConfig {
            services: self.services(),
            concurrency,
            batch_size,
            batch_max_records: imports_runtime::config::DEFAULT_BATCH_MAX_RECORDS,
            lease: Duration::from_secs(lease_secs),
            // A free port each, so that parallel workers never collide.
            http_addr: "127.0.0.1:0".into(),
            time_slice: Duration::from_secs(10),
            // The tests' receivers listen on loopback; retries come quickly.
            webhooks: imports_runtime::config::WebhookSettings {
                allow_private_networks: true,
                retry_base: Duration::from_millis(200),
                retry_max: Duration::from_secs(2),
                ..Default::default()
            },
        }
    }

    /// Starts a worker in this process, its HTTP endpoints on `config.http_addr`.
    pub fn spawn_worker(&self, config: WorkerConfig) -> InProcessWorker {
        let listener =
            std::net::TcpListener::bind(&config.http_addr).expect("bind the worker's HTTP address");
        listener.set_nonblocking(true).unwrap();
        let http_url = format!("http://{}", listener.local_addr().unwrap());
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let token = CancellationToken::new();
        let handle = tokio::spawn(imports_worker::serve(config, listener, token.clone()));
        InProcessWorker {
            token,
            handle,
            http_url,
        }
    }

    /// Starts the real `imports-worker` binary on this environment.
    pub fn spawn_worker_process(
        &self,
        concurrency: usize,
        batch_size: usize,
        lease_secs: u64,
    ) -> Child {
        Command::new(worker_binary())
            .env("DATABASE_URL", &self.database_url)
            .env("AMQP_URL", amqp_url())
            .env("IMPORTS_QUEUE", &self.queue)
            .env("IMPORTS_CONCURRENCY", concurrency.to_string())
            .env("IMPORTS_BATCH_SIZE", batch_size.to_string())
            .env("IMPORTS_LEASE_SECONDS", lease_secs.to_string())
            .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
            .env(
                "RUST_LOG",
                std::env::var("TEST_WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("start imports-worker")
    }

    /// Creates an import of `inputs` (a JSON array, or CSV text) without announcing it.
    pub async fn create_import(&self, spec: ImportSpec<'_>) -> Import {
        let (format, bytes) = match spec.inputs {
            Inputs::Json(v) => (Format::Json, serde_json::to_vec(v).unwrap()),
            Inputs::Csv(text) => (Format::Csv, text.as_bytes().to_vec()),
            Inputs::RawJson(text) => (Format::Json, text.as_bytes().to_vec()),
        };
        let csv_delimiter = (format == Format::Csv).then_some(spec.csv_delimiter.unwrap_or(b','));
        let inputs_size =
            count_inputs(format, csv_delimiter.unwrap_or(b','), &bytes[..]).unwrap_or(0) as i64;
        let mut client = self.pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let import = imports::create_import(
            &*tx,
            &NewImport {
                tenant: spec.tenant.unwrap_or(&self.tenant).clone(),
                resource_type: spec.resource_type.into(),
                format,
                csv_delimiter,
                parent_resource_id: spec.parent_resource_id.map(str::to_owned),
                inputs_size,
                skip_errors: spec.skip_errors,
                dry_run: spec.dry_run,
                reference: None,
                reference_origin: None,
                metadata: serde_json::json!({}),
                trace_context: serde_json::json!({}),
            },
            &bytes,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        import
    }

    /// Announces an import on the queue.
    pub async fn publish(&self, import_id: &str) {
        let conn = queue::connect(&amqp_url(), Some(Duration::from_secs(10)))
            .await
            .unwrap();
        let publisher = Publisher::new(&conn, &self.queue).await.unwrap();
        publisher
            .publish(&ImportMessage::new(import_id))
            .await
            .unwrap();
        let _ = conn.close(200, "done".into()).await;
    }

    /// Creates an import and announces it.
    pub async fn submit(&self, spec: ImportSpec<'_>) -> Import {
        let import = self.create_import(spec).await;
        self.publish(&import.id).await;
        import
    }

    /// Reads an import.
    pub async fn import(&self, id: &str) -> Import {
        let client = self.pool.get().await.unwrap();
        imports::get_import(&**client, id)
            .await
            .unwrap()
            .expect("import exists")
    }

    /// Waits until an import is completed or interrupted.
    pub async fn wait_final(&self, id: &str, timeout: Duration) -> Import {
        let deadline = Instant::now() + timeout;
        loop {
            let import = self.import(id).await;
            if import.status.is_final() {
                return import;
            }
            assert!(
                Instant::now() < deadline,
                "import {id} not final after {timeout:?}: {:?}, {} processed",
                import.status,
                import.processed_count
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check` holds for the import.
    pub async fn wait_until(
        &self,
        id: &str,
        timeout: Duration,
        check: impl Fn(&Import) -> bool,
    ) -> Import {
        let deadline = Instant::now() + timeout;
        loop {
            let import = self.import(id).await;
            if check(&import) {
                return import;
            }
            assert!(
                Instant::now() < deadline,
                "condition not met after {timeout:?}: {import:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Counts the rows of a resource table (all tenants).
    pub async fn count(&self, table: &str) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Runs a query and returns its rows.
    pub async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let client = self.pool.get().await.unwrap();
        client.query(sql, &[]).await.unwrap()
    }

    /// Asserts that an import was started once and completed once (no double processing).
    pub async fn assert_started_and_completed_once(&self, id: &str) {
        let events = self.event_names(id).await;
        for name in ["imports.start", "imports.complete"] {
            assert_eq!(
                events.iter().filter(|e| *e == name).count(),
                1,
                "{name} in {events:?}"
            );
        }
    }

    /// The names of an import's events, in order.
    pub async fn event_names(&self, id: &str) -> Vec<String> {
        let client = self.pool.get().await.unwrap();
        imports_storage::events::events(&**client, id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let db_name = self.db_name.clone();
        let queue_name = self.queue.clone();
        let pool = self.pool.clone();
        pool.close();
        // Async clean-up from a synchronous Drop: a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                // A few tries: on a loaded machine (tests and builds on 2 cores) a connection
                // can take seconds, and a queue left behind outlives the test.
                for _ in 0..3 {
                    let Ok(conn) = queue::connect(&amqp_url(), Some(Duration::from_secs(10))).await
                    else {
                        continue;
                    };
                    let deleted = match conn.create_channel().await {
                        Ok(ch) => queue::delete(&ch, &queue_name).await.is_ok(),
                        Err(_) => false,
                    };
                    let _ = conn.close(200, "done".into()).await;
                    if deleted {
                        break;
                    }
                }
                let url = format!("{}/postgres", postgres_server());
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!(
                            "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

/// What to import.
pub enum Inputs<'a> {
    /// A JSON array.
    Json(&'a serde_json::Value),
    /// JSON text, possibly broken.
    RawJson(&'a str),
    /// CSV text.
    Csv(&'a str),
}

/// An import to create in a test.
pub struct ImportSpec<'a> {
    /// A catalogue name.
    pub resource_type: &'a str,
    /// The inputs.
    pub inputs: Inputs<'a>,
    /// The parent of every input.
    pub parent_resource_id: Option<&'a str>,
    /// Go on past the threshold.
    pub skip_errors: bool,
    /// A dry run.
    pub dry_run: bool,
    /// Another tenant than the environment's.
    pub tenant: Option<&'a Tenant>,
    /// The CSV delimiter, when not `,`.
    pub csv_delimiter: Option<u8>,
}

impl<'a> ImportSpec<'a> {
    /// A JSON import.
    pub fn json(resource_type: &'a str, inputs: &'a serde_json::Value) -> Self {
        ImportSpec {
            resource_type,
            inputs: Inputs::Json(inputs),
            parent_resource_id: None,
            skip_errors: false,
            dry_run: false,
            tenant: None,
            csv_delimiter: None,
        }
    }

    /// A CSV import.
    pub fn csv(resource_type: &'a str, text: &'a str) -> Self {
        ImportSpec {
            resource_type,
            inputs: Inputs::Csv(text),
            parent_resource_id: None,
            skip_errors: false,
            dry_run: false,
            tenant: None,
            csv_delimiter: None,
        }
    }

    /// With a parent.
    pub fn parent(mut self, id: &'a str) -> Self {
        self.parent_resource_id = Some(id);
        self
    }

    /// With a CSV delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.csv_delimiter = Some(delimiter);
        self
    }

    /// As a dry run.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// With skip_errors.
    pub fn skip_errors(mut self) -> Self {
        self.skip_errors = true;
        self
    }
}

/// An API served in the test process on a free port.
pub struct InProcessApi {
    /// `http://127.0.0.1:<port>` (`https://` when the config names a TLS certificate).
    pub base_url: String,
    /// Its settings.
    pub config: imports_runtime::config::ApiConfig,
    token: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcessApi {
    /// Stops the API gracefully.
    pub async fn stop(self) {
        self.token.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

impl TestEnv {
    /// API settings for this environment (limits as the defaults unless changed).
    pub fn api_config(&self) -> imports_runtime::config::ApiConfig {
        imports_runtime::config::ApiConfig {
            services: self.services(),
            addr: "127.0.0.1:0".into(),
            public_url: String::new(),
            max_inputs: 10_000,
            max_active: 10,
            max_body_bytes: 8 * 1024 * 1024,
            signing_secret: "test-signing-secret-of-32-bytes-at-least".into(),
            outbox_interval: Duration::from_secs(1),
            rate_per_second: 1000,
            rate_burst: 1000,
            oauth: imports_runtime::config::OAuthConfig::new(String::new()),
            tls_cert: None,
            tls_key: None,
            http: imports_runtime::config::HttpLimits::default(),
            // The tests' receivers listen on loopback.
            allow_private_networks: true,
        }
    }

    /// Serves the API in this process on a free port.
    pub async fn spawn_api(&self, config: imports_runtime::config::ApiConfig) -> InProcessApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.spawn_api_on(listener, config).await
    }

    /// Serves the API in this process on `listener` (for a test that needs the port first,
    /// to name it in the settings).
    pub async fn spawn_api_on(
        &self,
        listener: tokio::net::TcpListener,
        mut config: imports_runtime::config::ApiConfig,
    ) -> InProcessApi {
        let scheme = if config.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let base_url = format!("{scheme}://{}", listener.local_addr().unwrap());
        config.public_url = base_url.clone();
        if config.oauth.auth_url.is_empty() {
            config.oauth.auth_url = imports_runtime::config::default_auth_url(&base_url);
        }
        let token = CancellationToken::new();
        let handle = tokio::spawn(imports_api::serve(config.clone(), listener, token.clone()));
        InProcessApi {
            base_url,
            config,
            token,
            handle,
        }
    }

    /// Creates an API token for a tenant.
    pub async fn token(&self, organization: &str, mode: Mode) -> String {
        let client = self.pool.get().await.unwrap();
        let tenant = Tenant {
            organization_id: organization.into(),
            mode,
        };
        imports_api::tokens::create(&**client, &tenant)
            .await
            .unwrap()
            .1
    }
}

/// A worker running in the test process.
pub struct InProcessWorker {
    token: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// `http://127.0.0.1:<port>` of its `/livez`, `/readyz` and `/metrics`.
    pub http_url: String,
}

impl InProcessWorker {
    /// Shuts the worker down gracefully and waits for it.
    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("worker stops within 30 s")
            .expect("worker task")
            .expect("worker result");
    }
}

/// The path of the `imports-worker` binary, built once per test process; `TEST_WORKER_BINARY`
/// names another build instead (to measure the same scenario against an older one).
pub fn worker_binary() -> std::path::PathBuf {
    match std::env::var_os("TEST_WORKER_BINARY") {
        Some(path) if !path.is_empty() => path.into(),
        _ => binary("imports-worker"),
    }
}

/// The path of one of the workspace's binaries (`imports-worker`, `imports-api`,
/// `importctl`), built once per test process (a no-op when it is up to date).
pub fn binary(name: &str) -> std::path::PathBuf {
    static BUILD: Once = Once::new();
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "imports-worker",
                "-p",
                "imports-api",
                "-p",
                "importctl",
                "--bins",
            ])
            .current_dir(&workspace)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    target.join("debug").join(name)
}

/// Sends a signal to a child process.
#[allow(unsafe_code)] // kill(2) has no safe wrapper in libc
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of this process.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// A SKU input for bulk tests (one that does not ship, so it needs no shipping category).
pub fn sku(i: usize) -> serde_json::Value {
    serde_json::json!({"code": format!("SKU{i:06}"), "name": format!("Item {i}"), "pieces_per_pack": (i % 12) + 1, "do_not_ship": true})
}

/// `n` SKU inputs.
pub fn skus(n: usize) -> serde_json::Value {
    serde_json::Value::Array((0..n).map(sku).collect())
}
