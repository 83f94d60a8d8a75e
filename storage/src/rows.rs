//! Reading typed values out of rows. A column that holds a status, mode or format this build
//! does not know is an error naming the value, never a silent default.

use std::fmt::Display;
use std::str::FromStr;

use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

/// A text column parsed with `T`'s `FromStr`, so that an unknown value fails the read.
struct Parsed<T>(T);

impl<'a, T> FromSql<'a> for Parsed<T>
where
    T: FromStr,
    T::Err: Display,
{
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = <&str as FromSql>::from_sql(ty, raw)?;
        text.parse::<T>()
            .map(Parsed)
            .map_err(|e| e.to_string().into())
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

/// Reads column `name` of `row` as a `T`: an error (not a default) when the stored text is
/// not one of `T`'s values.
pub(crate) fn parsed<T>(row: &Row, name: &str) -> Result<T, tokio_postgres::Error>
where
    T: FromStr,
    T::Err: Display,
{
    row.try_get::<_, Parsed<T>>(name).map(|p| p.0)
}
