//! Every statement the worker's writer builds, for every type of the catalogue, is prepared
//! against a freshly migrated database, so a generated query the schema does not accept
//! fails here rather than in the middle of an import.

use imports_common::catalogue::CATALOGUE;
use imports_tests::TestEnv;
use imports_worker::writer::sql;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_writer_statement_of_every_type_prepares_against_the_schema() {
    let env = TestEnv::new().await;
    let client = env.pool.get().await.unwrap();
    let mut failures = Vec::new();
    let mut prepared = 0;
    for rt in CATALOGUE {
        for (name, text) in sql::statements(rt) {
            // A savepoint's roll back is two statements, prepared one by one.
            for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                match client.prepare(statement).await {
                    Ok(_) => prepared += 1,
                    Err(e) => failures.push(format!(
                        "{} {name}: {statement}\n  {}",
                        rt.name,
                        imports_runtime::telemetry::traces::error_chain(&e)
                    )),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each type has at least its lookups, its update and an upsert per column.
    assert!(
        prepared >= CATALOGUE.len() * 10,
        "only {prepared} statements prepared"
    );
}
