//! Validation (`imports_common::validate`): a file of raw inputs read as the worker reads it,
//! each input checked against the catalogue by one import's `Preparer`, and what a create
//! would lack worked out. Never a panic; a prepared input has a cell for each column and a
//! reference slot for each relationship, its logs hold no NUL character (Postgres refuses
//! them) and, when it is valid, neither do the values to store.
//!
//! The first byte picks the resource type (among a few that give children, related records,
//! tags, a polymorphic reference or a parent), the format, the CSV delimiter and whether the
//! import has a parent; the rest is the file.
#![no_main]

use imports_common::catalogue::{resource_type, ResourceType};
use imports_common::inputs::read_inputs;
use imports_common::model::Format;
use imports_common::validate::{
    has_nul, missing_at_create, missing_message, Cell, Prepared, Preparer, Reference,
};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 8] = [
    "skus",
    "prices",
    "orders",
    "line_items",
    "customer_addresses",
    "sku_lists",
    "stock_locations",
    "gift_cards",
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, file)) = data.split_first() else {
        return;
    };
    let rt = resource_type(TYPES[usize::from(control & 7)]).expect("a catalogue type");
    let format = if control & 8 == 0 {
        Format::Json
    } else {
        Format::Csv
    };
    let delimiter = [b',', b';', b'\t', b','][usize::from((control >> 4) & 3)];
    let parent = (control & 0x40 != 0).then_some("parent01");
    let mut preparer = Preparer::new(rt, parent);
    let _ = read_inputs(format, delimiter, file, 0, |input| {
        let position = input.position;
        let p = preparer.prepare(input);
        assert_eq!(p.position, position);
        check(rt, &p);
        true
    });
});

fn check(rt: &ResourceType, p: &Prepared) {
    assert_eq!(p.cells.len(), rt.column_count(), "{}", rt.name);
    assert_eq!(p.references.len(), rt.relationships.len(), "{}", rt.name);
    assert!(!p.key.contains('\0'), "a NUL in the key {:?}", p.key);
    for (attribute, message) in &p.errors {
        assert!(
            !attribute.contains('\0') && !message.contains('\0'),
            "{attribute:?}: {message:?}"
        );
    }
    for warning in &p.warnings {
        assert!(!warning.contains('\0'), "{warning:?}");
    }
    if p.is_valid() {
        for cell in p.cells.iter().flatten() {
            match cell {
                Cell::Text(t) => assert!(!t.contains('\0'), "{t:?} to store"),
                Cell::Json(v) => assert!(!has_nul(v), "{v} to store"),
                _ => {}
            }
        }
        for reference in p.references.iter().flatten() {
            let (Reference::Id(r) | Reference::Key(r)) = reference;
            assert!(!r.contains('\0'), "{r:?} to resolve");
        }
        for tag in p.tags.iter().flatten() {
            assert!(!tag.contains('\0'), "{tag:?} to tag");
        }
    }
    let missing = missing_at_create(rt, &p.cells, |ri| p.references[ri].is_some());
    for name in missing {
        assert!(!missing_message(rt, name).is_empty());
    }
    if !p.children.is_empty() {
        assert_eq!(p.children.len(), rt.children.len());
    }
    for (at, children) in p.children.iter().enumerate() {
        let child = resource_type(rt.children[at]).expect("a child type");
        for c in children {
            check(child, c);
        }
    }
    for (ri, related) in &p.related {
        let rel = &rt.relationships[*ri];
        let target = resource_type(rel.target).expect("a related type");
        check(target, related);
    }
}
