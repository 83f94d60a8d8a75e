//! An import's raw inputs, stored in chunks of [`INPUT_CHUNK_BYTES`] in `import_inputs`.

use crate::client::Db;

/// Size of the chunks raw inputs are stored in.
pub const INPUT_CHUNK_BYTES: usize = 1024 * 1024;

/// Appends one chunk of raw inputs (chunks are read back in `seq` order).
pub async fn append_input_chunk<C: Db>(
    client: &C,
    import_id: &str,
    seq: i32,
    data: &[u8],
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO import_inputs (import_id, seq, data) VALUES ($1, $2, $3)",
            &[&import_id, &seq, &data],
        )
        .await?;
    Ok(())
}

/// Reads one chunk of raw inputs, or `None` past the last.
pub async fn input_chunk<C: Db>(
    client: &C,
    import_id: &str,
    seq: i32,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT data FROM import_inputs WHERE import_id = $1 AND seq = $2",
            &[&import_id, &seq],
        )
        .await?
        .map(|r| r.get(0)))
}
