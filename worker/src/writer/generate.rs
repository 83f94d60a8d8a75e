//! Keys generated for inputs that leave them out, as the reference API generates them: a
//! gift card's code, an order's or a stock transfer's number, a SKU list's slug. A generated
//! key is unique in the tenant: one already taken (by a record, or by another input of the
//! batch) is drawn again, so the input creates a record and never updates another.

use std::collections::HashSet;

use deadpool_postgres::Transaction;
use imports_common::catalogue::{Generated, ResourceType};
use imports_common::ids::{random_chars, random_code};
use imports_common::model::Tenant;
use imports_common::validate::{Cell, Prepared};

use super::resolve::lookup_keys;
use super::sql;

/// How many times a taken key is drawn again before the input fails.
const DRAWS: usize = 8;

/// Gives each valid input of `rt` without an id and without its key a generated key.
pub(super) async fn generate_keys(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    tenant: &Tenant,
    records: &mut [Prepared],
) -> Result<(), tokio_postgres::Error> {
    let key_columns = rt.key_columns();
    let (Some(how), &[key_col]) = (rt.generated_key, key_columns.as_slice()) else {
        return Ok(());
    };
    let wanting: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_valid() && p.id.is_none() && !has_text(&p.cells[key_col]))
        .map(|(i, _)| i)
        .collect();
    if wanting.is_empty() {
        return Ok(());
    }
    // Keys the batch gives itself are taken too.
    let mut taken: HashSet<String> = records
        .iter()
        .filter_map(|p| match &p.cells[key_col] {
            Some(Cell::Text(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
        .collect();
    let base: Vec<String> = wanting
        .iter()
        .map(|&i| match how {
            Generated::SlugOf(attr) => slug_of(rt, &records[i], attr),
            _ => String::new(),
        })
        .collect();
    let mut pending: Vec<usize> = (0..wanting.len()).collect();
    let mut keys: Vec<Option<String>> = vec![None; wanting.len()];
    for draw in 0..DRAWS {
        let candidates = draw_keys(tx, how, &base, &pending, draw).await?;
        let wanted: Vec<Vec<String>> = candidates.iter().map(|k| vec![k.clone()]).collect();
        let refs: Vec<&Vec<String>> = wanted.iter().collect();
        let found = lookup_keys(tx, rt, tenant, 1, &refs).await?;
        let mut again = Vec::new();
        for (&at, key) in pending.iter().zip(candidates) {
            if found.contains_key(&vec![key.clone()]) || !taken.insert(key.clone()) {
                again.push(at);
            } else {
                keys[at] = Some(key);
            }
        }
        pending = again;
        if pending.is_empty() {
            break;
        }
    }
    for (at, &i) in wanting.iter().enumerate() {
        match keys[at].take() {
            Some(key) => records[i].cells[key_col] = Some(Cell::Text(key)),
            None => records[i].error(
                rt.natural_key[0],
                "could not be generated: every key drawn was taken; give one",
            ),
        }
    }
    Ok(())
}

/// One candidate key for each of `pending` (places in `base`): the `draw`th attempt.
async fn draw_keys(
    tx: &Transaction<'_>,
    how: Generated,
    base: &[String],
    pending: &[usize],
    draw: usize,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(match how {
        Generated::Number => {
            let stmt = tx.prepare_cached(sql::NEXT_NUMBERS).await?;
            let n = pending.len() as i64;
            tx.query(&stmt, &[&n])
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect()
        }
        Generated::Code => pending.iter().map(|_| random_code()).collect(),
        Generated::SlugOf(_) => pending
            .iter()
            .map(|&at| match draw {
                0 => base[at].clone(),
                _ => format!("{}-{}", base[at], random_chars(6).to_lowercase()),
            })
            .collect(),
    })
}

fn has_text(cell: &Option<Cell>) -> bool {
    matches!(cell, Some(Cell::Text(s)) if !s.trim().is_empty())
}

/// The slug of an input's `attr` (`Summer Sale!` -> `summer-sale`): lower-case letters and
/// digits, anything else one `-`; `list` when nothing is left.
fn slug_of(rt: &ResourceType, p: &Prepared, attr: &str) -> String {
    let text = rt
        .attribute_index(attr)
        .and_then(|(c, _)| match &p.cells[c] {
            Some(Cell::Text(s)) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("");
    slugify(text)
}

/// Lower-case letters and digits, every other run of characters one `-`.
pub(super) fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("list");
    }
    slug.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes() {
        assert_eq!(slugify("Summer Sale!"), "summer-sale");
        assert_eq!(slugify("  Été -- 2026 "), "été-2026");
        assert_eq!(slugify("***"), "list");
        let code = random_code();
        assert_eq!(code.len(), 36);
        assert_eq!(code.matches('-').count(), 4);
    }
}
