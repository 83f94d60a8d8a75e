//! Migrations and the catalogue agree with the database.

use imports_common::catalogue::CATALOGUE;
use imports_tests::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migration_runs_apply_each_migration_once() {
    let env = TestEnv::new().await;
    // A second database, migrated by eight runs at once.
    let url = format!("{}/{}_again", imports_tests::postgres_server(), env.db_name);
    imports_storage::migrate::ensure_database(&url)
        .await
        .unwrap();
    let pool = imports_storage::db::pool(&url, 8, &imports_runtime::config::DEFAULT_POOL_SETTINGS)
        .unwrap();
    let mut runs = Vec::new();
    for _ in 0..8 {
        let pool = pool.clone();
        runs.push(tokio::spawn(async move {
            let mut client = pool.get().await.unwrap();
            imports_storage::migrate::run(&mut client).await.unwrap()
        }));
    }
    let mut applied = Vec::new();
    for r in runs {
        applied.extend(r.await.unwrap());
    }
    applied.sort();
    let expected: Vec<i32> = imports_storage::migrate::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        applied, expected,
        "each migration applied by exactly one run"
    );
    let client = pool.get().await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, expected.len());
    drop(client);
    pool.close();
    let admin = imports_storage::db::pool(
        &format!("{}/postgres", imports_tests::postgres_server()),
        1,
        &imports_runtime::config::DEFAULT_POOL_SETTINGS,
    )
    .unwrap();
    admin
        .get()
        .await
        .unwrap()
        .batch_execute(&format!(
            "DROP DATABASE \"{}_again\" WITH (FORCE)",
            env.db_name
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalogue_type_has_its_table_with_typed_columns() {
    let env = TestEnv::new().await;
    for rt in CATALOGUE {
        let rows = env
            .query(&format!(
                "SELECT column_name::text, udt_name::text FROM information_schema.columns WHERE table_name = '{}'",
                rt.name
            ))
            .await;
        let columns: std::collections::HashMap<String, String> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert!(!columns.is_empty(), "table {} exists", rt.name);
        for c in rt.columns() {
            assert_eq!(
                columns.get(c.name).map(String::as_str),
                Some(c.sql_type),
                "{}.{}",
                rt.name,
                c.name
            );
        }
        for (name, ty) in [
            ("id", "text"),
            ("organization_id", "text"),
            ("mode", "text"),
            ("created_at", "timestamptz"),
            ("updated_at", "timestamptz"),
        ] {
            assert_eq!(
                columns.get(name).map(String::as_str),
                Some(ty),
                "{}.{name}",
                rt.name
            );
        }
        // The natural key is unique within a tenant.
        let key = format!("organization_id, mode, {}", rt.natural_key.join(", "));
        let unique = env
            .query(&format!(
                "SELECT 1 FROM pg_indexes WHERE tablename = '{}' AND indexdef LIKE '%UNIQUE%({key})%'",
                rt.name
            ))
            .await;
        assert_eq!(unique.len(), 1, "{}: unique ({key})", rt.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_are_stored_compressed_with_lz4() {
    let env = TestEnv::new().await;
    let inputs = imports_tests::skus(2_000);
    let import = env
        .create_import(imports_tests::ImportSpec::json("skus", &inputs))
        .await;
    let rows = env
        .query(&format!(
            "SELECT pg_column_compression(data), octet_length(data), pg_column_size(data)
             FROM import_inputs WHERE import_id = '{}'",
            import.id
        ))
        .await;
    assert!(!rows.is_empty());
    for row in rows {
        let (method, length, stored): (Option<String>, i32, i32) =
            (row.get(0), row.get(1), row.get(2));
        // This server is built with lz4, as Debian's and the PostgreSQL images are.
        assert_eq!(
            method.as_deref(),
            Some("lz4"),
            "{length} bytes stored as {stored}"
        );
        assert!(stored < length / 4, "{length} bytes stored as {stored}");
    }
}
