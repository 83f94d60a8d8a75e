//! What creating a record needs beyond what any input must be: required attributes,
//! required relationships outside the natural key (a tax category's SKU) and the catalogue's
//! conditions (a SKU's shipping category unless it does not ship). An input that lacks one
//! can still update an existing record; only a create is refused, naming what is missing.
//! Also the polymorphic reference of a line item (`item_id` read by `item_type`).

use crate::catalogue::{ResourceType, Rule};

use super::{Cell, Prepared, Reference};

/// What a record created from `cells` would lack: attribute and relationship names, in
/// declaration order. `named(ri)` says whether relationship `ri` is named otherwise than by
/// its id column (by a reference not yet resolved, or by the import's parent).
pub fn missing_at_create(
    rt: &ResourceType,
    cells: &[Option<Cell>],
    named: impl Fn(usize) -> bool,
) -> Vec<&'static str> {
    let given = |name: &str| given(rt, cells, &named, name);
    let mut missing: Vec<&'static str> = rt
        .all_attributes()
        .filter(|a| a.required && !rt.is_relationship_key_input(a.name) && !given(a.name))
        .map(|a| a.name)
        .collect();
    missing.extend(
        rt.relationships
            .iter()
            .filter(|r| r.required && !rt.keys_by(r) && !given(r.name))
            .map(|r| r.name),
    );
    for c in rt.conditions {
        let applies = match c.rule {
            Rule::UnlessGiven(other) => !given(other),
            Rule::UnlessTrue(flag) | Rule::WhenNotTrue(flag) => !is_true(rt, cells, flag),
            Rule::WhenTrue(flag) => is_true(rt, cells, flag),
            Rule::WhenEquals(attr, value) => equals(rt, cells, attr, value),
        };
        if applies && !given(c.name) && !missing.contains(&c.name) {
            missing.push(c.name);
        }
    }
    missing
}

/// The error of a create that lacks `name`: "can't be blank", with the condition when there
/// is one ("can't be blank unless do_not_ship is true").
pub fn missing_message(rt: &ResourceType, name: &str) -> String {
    match rt.condition(name) {
        Some(c) => format!("can't be blank {}", c.describe()),
        None => "can't be blank".to_owned(),
    }
}

/// Whether an attribute or relationship has a value.
fn given(
    rt: &ResourceType,
    cells: &[Option<Cell>],
    named: &impl Fn(usize) -> bool,
    name: &str,
) -> bool {
    if let Some((ri, _)) = rt.relationship(name) {
        return named(ri) || is_value(&cells[rt.relationship_column(ri)]);
    }
    rt.attribute_index(name)
        .is_some_and(|(c, _)| is_value(&cells[c]))
}

fn is_value(cell: &Option<Cell>) -> bool {
    match cell {
        None | Some(Cell::Null) => false,
        Some(Cell::Text(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// Whether a boolean attribute is true, as given or by its default.
fn is_true(rt: &ResourceType, cells: &[Option<Cell>], flag: &str) -> bool {
    match rt.attribute_index(flag) {
        Some((c, a)) => match &cells[c] {
            Some(Cell::Boolean(b)) => *b,
            None => a.defaults_to_true(),
            Some(_) => false,
        },
        None => false,
    }
}

/// Whether an attribute has a value, as given or by its default.
fn equals(rt: &ResourceType, cells: &[Option<Cell>], attr: &str, value: &str) -> bool {
    match rt.attribute_index(attr) {
        Some((c, a)) => match &cells[c] {
            Some(Cell::Text(s)) => s == value,
            None => {
                let default = a
                    .default_sql
                    .and_then(|d| d.strip_prefix('\'')?.strip_suffix('\''));
                default == Some(value)
            }
            Some(_) => false,
        },
        None => false,
    }
}

/// Notes what a create from `p` would lack into `p.missing_required` (inputs with an id
/// update and need nothing). `parent_named`: whether the import or the parent record names
/// the parent relationship.
pub(super) fn note_missing(rt: &ResourceType, p: &mut Prepared, parent_named: bool) {
    if p.id.is_some() {
        return;
    }
    let parent = rt.parent_index();
    let missing = missing_at_create(rt, &p.cells, |ri| {
        p.references[ri].is_some() || p.gives_related(ri) || (parent_named && parent == Some(ri))
    });
    for name in missing {
        if !p.errors.iter().any(|(a, _)| a == name) {
            p.missing_required.push(name);
        }
    }
}

/// Reads a polymorphic reference: `item_id` names the relationship `item_type` maps to (a
/// SKU's id fills `sku`), unless the input names that record otherwise; and an input that
/// names a bundle or a gift card without an `item_type` gets that type.
pub(super) fn read_polymorphic(rt: &ResourceType, p: &mut Prepared) {
    let Some(poly) = rt.polymorphic else { return };
    let (Some((id_col, _)), Some((type_col, _))) = (
        rt.attribute_index(poly.id_attribute),
        rt.attribute_index(poly.type_attribute),
    ) else {
        return;
    };
    let item_type = match &p.cells[type_col] {
        Some(Cell::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let target = |ty: &str| {
        poly.relationships
            .iter()
            .find(|(t, _)| *t == ty)
            .and_then(|(_, rel)| rt.relationship(rel))
    };
    match (&p.cells[id_col], item_type.as_deref()) {
        (Some(Cell::Text(id)), Some(ty)) if !id.is_empty() => {
            if let Some((ri, _)) = target(ty) {
                if p.references[ri].is_none() {
                    p.references[ri] = Some(Reference::Id(id.clone()));
                }
            }
        }
        (Some(Cell::Text(id)), None) if !id.is_empty() => p.error(
            poly.type_attribute,
            format!("can't be blank when {} is given", poly.id_attribute),
        ),
        _ => {}
    }
    if item_type.is_none() {
        let named = poly.relationships.iter().find(|(_, rel)| {
            rt.relationship(rel)
                .is_some_and(|(ri, _)| p.references[ri].is_some())
        });
        if let Some((ty, _)) = named {
            p.cells[type_col] = Some(Cell::Text((*ty).to_owned()));
        }
    }
}
