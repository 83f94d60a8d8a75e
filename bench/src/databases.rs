//! The bench's own databases on the Postgres server: a connection to its maintenance
//! database, to create them, and dropping them at the end whatever happened.

/// A connection to the server's `postgres` database (`postgres` has no database name).
pub async fn admin(postgres: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (admin, conn) =
        tokio_postgres::connect(&format!("{postgres}/postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(admin)
}

/// Drops the databases `names`, closing their connections first.
pub async fn drop_databases(postgres: &str, names: &[&str]) -> anyhow::Result<()> {
    let admin = admin(postgres).await?;
    for name in names {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}
