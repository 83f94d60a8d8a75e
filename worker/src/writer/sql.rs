//! The SQL text the writer builds per resource type from the catalogue, and the few fixed
//! statements it runs (tags, savepoints). Every statement of the writer is here, so that
//! [`statements`] can list them all for the test that prepares them against the schema.

use imports_common::catalogue::{Column, Relationship, ResourceType};

/// The UPDATE by primary key, for rows that give any mix of columns (a flag array per column
/// says which). It changes only rows where a given column differs, and returns their ids.
///
/// It joins on the primary key alone: every id in it was found by a tenant-scoped query of
/// the same transaction (`plan::plan_writes`), and a record never changes tenant. A tenant condition
/// here would let the planner, with a freshly loaded table's stale statistics, walk the
/// (organization, mode) index once per row: minutes per batch instead of milliseconds.
pub fn update_sql(rt: &ResourceType, columns: &[Column]) -> String {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    for (c, col) in columns.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + 2 * c, col.sql_type));
        args.push(format!("${}::bool[]", 5 + 2 * c));
        names.push(format!("v{c}"));
        names.push(format!("g{c}"));
    }
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            format!(
                "{n} = CASE WHEN u.g{c} THEN u.v{c} ELSE t.{n} END",
                n = col.name
            )
        })
        .collect();
    let differs: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| format!("(u.g{c} AND u.v{c} IS DISTINCT FROM t.{})", col.name))
        .collect();
    format!(
        "UPDATE {table} AS t SET {sets}, updated_at = now()
         FROM unnest({args}) AS u({names})
         WHERE t.id = u.id AND $1::text IS NOT NULL AND $2::text IS NOT NULL
           AND ({differs})
         RETURNING t.id",
        table = rt.name,
        sets = sets.join(", "),
        args = args.join(", "),
        names = names.join(", "),
        differs = differs.join(" OR "),
    )
}

/// The plain INSERT of rows giving exactly the columns `given` (parameters as for
/// [`upsert_sql`]): every record new, taking the table's defaults for the other columns. A
/// record that exists already fails it with a unique violation.
pub fn insert_sql(rt: &ResourceType, columns: &[Column], given: &[usize]) -> String {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    let mut cols = vec!["id", "organization_id", "mode"];
    let mut values = vec!["u.id".to_owned(), "$1".to_owned(), "$2".to_owned()];
    for (n, &c) in given.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + n, columns[c].sql_type));
        names.push(format!("v{c}"));
        cols.push(columns[c].name);
        values.push(format!("u.v{c}"));
    }
    format!(
        "INSERT INTO {table} AS t ({cols}) SELECT {values} FROM unnest({args}) AS u({names})",
        table = rt.name,
        cols = cols.join(", "),
        values = values.join(", "),
        args = args.join(", "),
        names = names.join(", "),
    )
}

/// The upsert of rows giving exactly the columns `given`: a new record takes the table's
/// defaults for the others; an existing one (same natural key) has the given columns set,
/// unless they already hold those values, in which case nothing is written and no row is
/// returned. Returns each written row's id, whether it was created, and its natural key.
pub fn upsert_sql(rt: &ResourceType, columns: &[Column], given: &[usize]) -> String {
    let insert = insert_sql(rt, columns, given);
    if rt.natural_key.is_empty() {
        return format!("{insert} RETURNING t.id, true");
    }
    let settable: Vec<&str> = given
        .iter()
        .map(|&c| columns[c].name)
        .filter(|name| !rt.natural_key.contains(name))
        .collect();
    let on_conflict = if settable.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!(
            "DO UPDATE SET {sets}, updated_at = now() WHERE ({old}) IS DISTINCT FROM ({new})",
            sets = settable
                .iter()
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            old = settable
                .iter()
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            new = settable
                .iter()
                .map(|c| format!("EXCLUDED.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    format!(
        "{insert} ON CONFLICT (organization_id, mode, {key}) {on_conflict}
         RETURNING t.id, (t.xmax = 0), {returned_key}",
        key = rt.natural_key.join(", "),
        returned_key = key_as_text(rt),
    )
}

/// Finds, among rows giving exactly the columns `given` (parameters as for [`upsert_sql`]),
/// those whose record (same natural key) already holds every given value: returns each one's
/// place in the rows (from 1) and its record's id. A plain read: nothing is locked.
pub fn unchanged_sql(rt: &ResourceType, columns: &[Column], given: &[usize]) -> String {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    for (n, &c) in given.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + n, columns[c].sql_type));
        names.push(format!("v{c}"));
    }
    names.push("n".to_owned());
    let value_of = |name: &str| {
        given
            .iter()
            .find(|&&c| columns[c].name == name)
            .map(|c| format!("u.v{c}"))
            .unwrap_or_else(|| "NULL".to_owned())
    };
    let join: Vec<String> = rt
        .natural_key
        .iter()
        .map(|k| format!("t.{k} = {}", value_of(k)))
        .collect();
    let settable: Vec<&str> = given
        .iter()
        .map(|&c| columns[c].name)
        .filter(|name| !rt.natural_key.contains(name))
        .collect();
    let same = if settable.is_empty() {
        String::new()
    } else {
        format!(
            "WHERE ({}) IS NOT DISTINCT FROM ({})",
            settable
                .iter()
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            settable
                .iter()
                .map(|c| value_of(c))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    format!(
        "SELECT u.n, t.id FROM unnest({args}) WITH ORDINALITY AS u({names})
         JOIN {table} t ON t.organization_id = $1 AND t.mode = $2 AND {join}
         {same}",
        args = args.join(", "),
        names = names.join(", "),
        table = rt.name,
        join = join.join(" AND "),
    )
}

/// The natural key's columns of table `t`, as text (how keys are compared in Rust).
pub(super) fn key_as_text(rt: &ResourceType) -> String {
    rt.natural_key
        .iter()
        .map(|c| format!("t.{c}::text"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A savepoint's three statements: open it, keep what was written since, or take it back.
#[derive(Debug, Clone, Copy)]
pub struct Savepoint {
    /// Opens the savepoint.
    pub open: &'static str,
    /// Keeps what was written under it.
    pub release: &'static str,
    /// Takes back what was written under it, and ends it.
    pub roll_back: &'static str,
}

/// Around a batch whose inputs carry nested records: rolled back to write it again without
/// the inputs whose nested records failed.
pub const BATCH_WRITE: Savepoint = Savepoint {
    open: "SAVEPOINT batch_write",
    release: "RELEASE SAVEPOINT batch_write",
    roll_back: "ROLLBACK TO SAVEPOINT batch_write; RELEASE SAVEPOINT batch_write",
};

/// Around the set-based write: rolled back to write record by record.
pub const SET_WRITE: Savepoint = Savepoint {
    open: "SAVEPOINT set_write",
    release: "RELEASE SAVEPOINT set_write",
    roll_back: "ROLLBACK TO SAVEPOINT set_write; RELEASE SAVEPOINT set_write",
};

/// Around one record of the record-by-record pass: rolled back when the record fails.
pub const RECORD_WRITE: Savepoint = Savepoint {
    open: "SAVEPOINT record_write",
    release: "RELEASE SAVEPOINT record_write",
    roll_back: "ROLLBACK TO SAVEPOINT record_write; RELEASE SAVEPOINT record_write",
};

/// Creates the tags not yet known (`$3` proposed ids, `$4` names).
pub const CREATE_TAGS: &str = "INSERT INTO tags AS t (id, organization_id, mode, name)
                 SELECT u.id, $1, $2, u.name FROM unnest($3::text[], $4::text[]) AS u(id, name)
                 ON CONFLICT (organization_id, mode, name) DO NOTHING";

/// The ids of the tags named `$3`.
pub const READ_TAGS: &str =
    "SELECT id, name FROM tags WHERE organization_id = $1 AND mode = $2 AND name = ANY($3)";

/// Removes the links of records `$2` (of type `$1`) to tags no longer wanted (the wanted
/// pairs are `$3`, `$4`); returns the records changed.
pub const UNLINK_TAGS: &str =
    "DELETE FROM taggings g WHERE g.resource_type = $1 AND g.resource_id = ANY($2)
               AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS u(rid, tid)
                               WHERE u.rid = g.resource_id AND u.tid = g.tag_id)
             RETURNING g.resource_id";

/// Adds the links of records to tags (pairs `$4`, `$5`); returns the records changed.
pub const LINK_TAGS: &str =
    "INSERT INTO taggings (organization_id, mode, resource_type, resource_id, tag_id)
                 SELECT $1, $2, $3, u.rid, u.tid FROM unnest($4::text[], $5::text[]) AS u(rid, tid)
                 ON CONFLICT DO NOTHING
                 RETURNING resource_id";

/// The relationship resolution query of `rel`: the tenant's related records named by id
/// (`$3`) or by key (`$4`), each with its key as text (its id when named by id only).
pub fn relationship_sql(rel: &Relationship) -> String {
    let key_column = rel.by_key.map(|k| k.target_column).unwrap_or("id");
    format!(
        "SELECT id, {key_column}::text FROM {target} WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)
                 UNION
                 SELECT id, {key_column}::text FROM {target} WHERE organization_id = $1 AND mode = $2 AND {key_column} = ANY($4)",
        target = rel.target
    )
}

/// Creates the tenant's records of `rel`'s target holding only the keys `$4` (with the ids
/// `$3`), or finds them when they were created meanwhile: each with its id and key.
pub fn create_by_key_sql(rel: &Relationship) -> String {
    let key_column = rel.by_key.map(|k| k.target_column).unwrap_or("id");
    format!(
        "INSERT INTO {target} (id, organization_id, mode, {key_column})
         SELECT u.id, $1, $2, u.k FROM unnest($3::text[], $4::text[]) AS u(id, k)
         ON CONFLICT (organization_id, mode, {key_column}) DO UPDATE SET {key_column} = EXCLUDED.{key_column}
         RETURNING id, {key_column}::text",
        target = rel.target
    )
}

/// The tenant's records of `rt` with the ids `$3`, with their natural key as text.
pub fn existing_ids_sql(rt: &ResourceType) -> String {
    let key_list: Vec<String> = rt
        .natural_key
        .iter()
        .map(|k| format!(", {k}::text"))
        .collect();
    format!(
        "SELECT id{keys} FROM {table} WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)",
        keys = key_list.concat(),
        table = rt.name
    )
}

/// The ids of the tenant's records of `rt` whose natural key (`key_len` columns) is one of
/// the keys given as one text array per key column (`$3`...), with the key as text.
pub fn lookup_keys_sql(rt: &ResourceType, key_len: usize) -> String {
    let names: Vec<String> = (0..key_len).map(|k| format!("k{k}")).collect();
    let unnest_args: Vec<String> = (0..key_len)
        .map(|k| format!("${}::text[]", k + 3))
        .collect();
    let columns = rt.columns();
    let join: Vec<String> = rt
        .natural_key
        .iter()
        .enumerate()
        .map(|(k, col)| {
            let ty = columns
                .iter()
                .find(|c| c.name == *col)
                .map_or("text", |c| c.sql_type);
            format!("t.{col} = u.k{k}::{ty}")
        })
        .collect();
    format!(
        "SELECT t.id, {cols} FROM {table} t JOIN unnest({args}) AS u({names}) ON {join}
         WHERE t.organization_id = $1 AND t.mode = $2",
        cols = key_as_text(rt),
        table = rt.name,
        args = unnest_args.join(", "),
        names = names.join(", "),
        join = join.join(" AND "),
    )
}

/// Which of the records `$1` of `rt` still exist (an update that changed nothing met an
/// identical record, or none).
pub fn still_there_sql(rt: &ResourceType) -> String {
    format!("SELECT id FROM {} WHERE id = ANY($1)", rt.name)
}

/// The parent (`parent`'s id column) of each of the tenant's child records `$3` of `child_rt`.
pub fn parents_of_children_sql(child_rt: &ResourceType, parent: &Relationship) -> String {
    format!(
        "SELECT id, {column} FROM {table} WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)",
        column = parent.id_attribute,
        table = child_rt.name,
    )
}

/// The natural keys (as text) of the tenant's records of `rt` under the parents `$3`: what
/// a parent already has, to keep it under its limit (a price's tiers).
pub fn siblings_sql(rt: &ResourceType, parent: &Relationship) -> String {
    format!(
        "SELECT t.{parent}, {keys} FROM {table} t
         WHERE t.organization_id = $1 AND t.mode = $2 AND t.{parent} = ANY($3)",
        parent = parent.id_attribute,
        keys = key_as_text(rt),
        table = rt.name,
    )
}

/// `$1` numbers for keys an input leaves out (orders', stock transfers'), from one sequence:
/// a number is never drawn twice, whatever the tenant.
pub const NEXT_NUMBERS: &str =
    "SELECT nextval('generated_numbers')::text FROM generate_series(1, $1::int8)";

/// Every statement the writer may run for `rt`, named, for preparing them against the
/// schema: the resolution query of each relationship, the lookups, the update by id, and
/// the upsert and its unchanged-records read for every column given alone (with the key),
/// for the key alone and for every column at once; plus the children check and the tags
/// statements where `rt` has them, and the savepoints.
pub fn statements(rt: &ResourceType) -> Vec<(String, String)> {
    let columns = rt.columns();
    let mut out: Vec<(String, String)> = Vec::new();
    for rel in rt.relationships {
        out.push((format!("resolve {}", rel.name), relationship_sql(rel)));
        if rel.creates_unknown_keys {
            out.push((format!("create {}", rel.name), create_by_key_sql(rel)));
        }
    }
    out.push(("existing ids".into(), existing_ids_sql(rt)));
    if !rt.natural_key.is_empty() {
        out.push((
            "lookup keys".into(),
            lookup_keys_sql(rt, rt.natural_key.len()),
        ));
    }
    out.push(("update".into(), update_sql(rt, &columns)));
    out.push(("still there".into(), still_there_sql(rt)));
    let key_cols = rt.key_columns();
    let mut patterns: Vec<(String, Vec<usize>)> = vec![
        ("key".into(), key_cols.clone()),
        ("all".into(), (0..columns.len()).collect()),
    ];
    for (c, col) in columns.iter().enumerate() {
        if !key_cols.contains(&c) {
            let mut given = key_cols.clone();
            given.push(c);
            given.sort_unstable();
            patterns.push((col.name.to_owned(), given));
        }
    }
    for (name, given) in &patterns {
        if given.is_empty() {
            continue;
        }
        out.push((format!("upsert {name}"), upsert_sql(rt, &columns, given)));
        if !rt.natural_key.is_empty() {
            out.push((format!("insert {name}"), insert_sql(rt, &columns, given)));
            out.push((
                format!("unchanged {name}"),
                unchanged_sql(rt, &columns, given),
            ));
        }
    }
    if let Some(parent) = rt.parent_relationship() {
        out.push(("parents".into(), parents_of_children_sql(rt, parent)));
        if rt.max_per_parent.is_some() {
            out.push(("siblings".into(), siblings_sql(rt, parent)));
        }
    }
    if rt.generated_key == Some(imports_common::catalogue::Generated::Number) {
        out.push(("next numbers".into(), NEXT_NUMBERS.into()));
    }
    if rt.taggable {
        for (name, sql) in [
            ("create tags", CREATE_TAGS),
            ("read tags", READ_TAGS),
            ("unlink tags", UNLINK_TAGS),
            ("link tags", LINK_TAGS),
        ] {
            out.push((name.into(), sql.into()));
        }
    }
    for savepoint in [BATCH_WRITE, SET_WRITE, RECORD_WRITE] {
        for sql in [savepoint.open, savepoint.release, savepoint.roll_back] {
            out.push(("savepoint".into(), sql.into()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use imports_common::catalogue::{Attribute, AttributeType, KeyReference};

    /// A stock item as the catalogue declares one, reduced: keyed by its SKU's code, with
    /// a required quantity and the SKU it counts (named by id or by code).
    const STOCK_ITEMS: ResourceType = ResourceType {
        name: "stock_items",
        attributes: &[
            Attribute::new("sku_code", AttributeType::Text),
            Attribute::new("quantity", AttributeType::Integer).required(),
        ],
        relationships: &[Relationship {
            name: "sku",
            id_attribute: "sku_id",
            target: "skus",
            by_key: Some(KeyReference {
                input: "sku_code",
                target_column: "code",
            }),
            required: true,
            inline: false,
            creates_unknown_keys: false,
        }],
        natural_key: &["sku_code"],
        parent: None,
        log_key: "sku_code",
        children: &[],
        creates_without_key: false,
        taggable: false,
        conditions: &[],
        generated_key: None,
        polymorphic: None,
        max_per_parent: None,
    };

    /// A type without a natural key: every input creates a record.
    const NOTES: ResourceType = ResourceType {
        name: "notes",
        attributes: &[Attribute::new("body", AttributeType::Text)],
        relationships: &[],
        natural_key: &[],
        parent: None,
        log_key: "reference",
        children: &[],
        creates_without_key: true,
        taggable: false,
        conditions: &[],
        generated_key: None,
        polymorphic: None,
        max_per_parent: None,
    };

    fn given(rt: &ResourceType, names: &[&str]) -> Vec<usize> {
        let columns = rt.columns();
        names
            .iter()
            .map(|n| columns.iter().position(|c| c.name == *n).unwrap())
            .collect()
    }

    /// The upsert of rows giving their key, an attribute and a relationship: created, or
    /// updated on conflict only where a given value differs; returns id, created, key.
    #[test]
    fn an_upsert_by_natural_key_sets_what_changed_on_conflict() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            upsert_sql(rt, &rt.columns(), &given(rt, &["sku_code", "quantity", "sku_id"])),
            concat!(
            "INSERT INTO stock_items AS t (id, organization_id, mode, sku_code, quantity, sku_id) SELECT u.id, $1, $2, u.v0, u.v1, u.v5 FROM unnest($3::text[], $4::text[], $5::int8[], $6::text[]) AS u(id, v0, v1, v5) ON CONFLICT (organization_id, mode, sku_code) DO UPDATE SET quantity = EXCLUDED.quantity, sku_id = EXCLUDED.sku_id, updated_at = now() WHERE (t.quantity, t.sku_id) IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.sku_id)\n",
            "         RETURNING t.id, (t.xmax = 0), t.sku_code::text",
        )
        );
    }

    /// Rows giving only their key have nothing to update: an existing record is left alone.
    #[test]
    fn an_upsert_giving_only_the_key_does_nothing_on_conflict() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            upsert_sql(rt, &rt.columns(), &given(rt, &["sku_code"])),
            concat!(
            "INSERT INTO stock_items AS t (id, organization_id, mode, sku_code) SELECT u.id, $1, $2, u.v0 FROM unnest($3::text[], $4::text[]) AS u(id, v0) ON CONFLICT (organization_id, mode, sku_code) DO NOTHING\n",
            "         RETURNING t.id, (t.xmax = 0), t.sku_code::text",
        )
        );
    }

    /// Without a natural key every row is created.
    #[test]
    fn without_a_natural_key_the_upsert_is_a_plain_insert() {
        let rt = &NOTES;
        assert_eq!(
            upsert_sql(rt, &rt.columns(), &given(rt, &["body"])),
            "INSERT INTO notes AS t (id, organization_id, mode, body) SELECT u.id, $1, $2, u.v0 FROM unnest($3::text[], $4::text[]) AS u(id, v0) RETURNING t.id, true"
        );
    }

    /// The update by id: a flag per column says whether the row gives it; only rows where a
    /// given column differs change, on the primary key alone.
    #[test]
    fn the_update_by_id_sets_only_given_columns_that_differ() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            update_sql(rt, &rt.columns()),
            concat!(
            "UPDATE stock_items AS t SET sku_code = CASE WHEN u.g0 THEN u.v0 ELSE t.sku_code END, quantity = CASE WHEN u.g1 THEN u.v1 ELSE t.quantity END, reference = CASE WHEN u.g2 THEN u.v2 ELSE t.reference END, reference_origin = CASE WHEN u.g3 THEN u.v3 ELSE t.reference_origin END, metadata = CASE WHEN u.g4 THEN u.v4 ELSE t.metadata END, sku_id = CASE WHEN u.g5 THEN u.v5 ELSE t.sku_id END, updated_at = now()\n",
            "         FROM unnest($3::text[], $4::text[], $5::bool[], $6::int8[], $7::bool[], $8::text[], $9::bool[], $10::text[], $11::bool[], $12::jsonb[], $13::bool[], $14::text[], $15::bool[]) AS u(id, v0, g0, v1, g1, v2, g2, v3, g3, v4, g4, v5, g5)\n",
            "         WHERE t.id = u.id AND $1::text IS NOT NULL AND $2::text IS NOT NULL\n",
            "           AND ((u.g0 AND u.v0 IS DISTINCT FROM t.sku_code) OR (u.g1 AND u.v1 IS DISTINCT FROM t.quantity) OR (u.g2 AND u.v2 IS DISTINCT FROM t.reference) OR (u.g3 AND u.v3 IS DISTINCT FROM t.reference_origin) OR (u.g4 AND u.v4 IS DISTINCT FROM t.metadata) OR (u.g5 AND u.v5 IS DISTINCT FROM t.sku_id))\n",
            "         RETURNING t.id",
        )
        );
    }

    /// The plain read that leaves records already holding the given values out of the upsert.
    #[test]
    fn the_unchanged_read_finds_records_already_holding_the_values() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            unchanged_sql(rt, &rt.columns(), &given(rt, &["sku_code", "quantity"])),
            concat!(
            "SELECT u.n, t.id FROM unnest($3::text[], $4::text[], $5::int8[]) WITH ORDINALITY AS u(id, v0, v1, n)\n",
            "         JOIN stock_items t ON t.organization_id = $1 AND t.mode = $2 AND t.sku_code = u.v0\n",
            "         WHERE (t.quantity) IS NOT DISTINCT FROM (u.v1)",
        )
        );
    }

    /// The relationship resolution query: the tenant's related records by id or by key.
    #[test]
    fn the_relationship_resolution_finds_records_by_id_or_key() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            relationship_sql(&rt.relationships[0]),
            concat!(
            "SELECT id, code::text FROM skus WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)\n",
            "                 UNION\n",
            "                 SELECT id, code::text FROM skus WHERE organization_id = $1 AND mode = $2 AND code = ANY($4)",
        )
        );
    }

    /// The ids inputs give, with the natural key of their records.
    #[test]
    fn given_ids_are_looked_up_with_their_natural_key() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            existing_ids_sql(rt),
            "SELECT id, sku_code::text FROM stock_items WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)"
        );
    }

    /// The ids of records with the natural keys given.
    #[test]
    fn natural_keys_are_looked_up_by_unnest() {
        let rt = &STOCK_ITEMS;
        assert_eq!(
            lookup_keys_sql(rt, 1),
            concat!(
            "SELECT t.id, t.sku_code::text FROM stock_items t JOIN unnest($3::text[]) AS u(k0) ON t.sku_code = u.k0::text\n",
            "         WHERE t.organization_id = $1 AND t.mode = $2",
        )
        );
    }

    /// Every statement a type may run is listed for the test that prepares them.
    #[test]
    fn statements_cover_every_column_pattern() {
        let names: Vec<String> = statements(&STOCK_ITEMS)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for wanted in [
            "resolve sku",
            "existing ids",
            "lookup keys",
            "update",
            "still there",
            "upsert key",
            "upsert all",
            "upsert quantity",
            "unchanged quantity",
            "upsert metadata",
        ] {
            assert!(
                names.iter().any(|n| n == wanted),
                "{wanted} missing: {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.contains("tags")));
    }
}
