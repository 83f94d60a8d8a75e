//! docs/inputs.md's table of importable types is the catalogue's, rendered: what each type
//! matches on, what a create requires (and under which condition), its parent and
//! relationships. When the catalogue changes, `UPDATE_DOCS=1 cargo test -p imports-tests
//! --test types_doc` writes the table again.

use std::path::Path;

use imports_common::catalogue::{ResourceType, CATALOGUE};

const BEGIN: &str =
    "<!-- types table: generated from the catalogue by tests/tests/types_doc.rs -->\n";
const END: &str = "<!-- end of types table -->\n";

fn names(rt: &ResourceType, requirement: &str) -> String {
    let attributes = rt.all_attributes().map(|a| a.name);
    let relationships = rt.relationships.iter().map(|r| r.name);
    attributes
        .chain(relationships)
        .filter(|n| rt.requirement(n) == requirement)
        .map(|n| match rt.condition(n) {
            Some(c) => format!("`{n}` ({})", c.describe()),
            None => format!("`{n}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn table() -> String {
    let mut out = String::from(BEGIN);
    out.push_str("| Type | Matches on | Parent | Required at create | Conditional | Relationships (key input) | Inline |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for rt in CATALOGUE {
        let relationships: Vec<String> = rt
            .relationships
            .iter()
            .map(|r| match r.by_key {
                Some(k) => format!("{} (`{}`)", r.name, k.input),
                None => r.name.to_owned(),
            })
            .collect();
        let mut inline: Vec<&str> = rt.children.to_vec();
        inline.extend(rt.relationships.iter().filter(|r| r.inline).map(|r| r.name));
        if rt.taggable {
            inline.push("tags");
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            rt.name,
            rt.matching(),
            rt.parent_relationship().map_or("", |r| r.target),
            names(rt, "required"),
            names(rt, "conditional"),
            relationships.join(", "),
            inline.join(", "),
        ));
    }
    out.push_str(END);
    out
}

#[test]
fn the_types_table_of_the_docs_is_the_catalogue_s() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/inputs.md");
    let doc = std::fs::read_to_string(&path).expect("docs/inputs.md");
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/inputs.md has no generated types table");
    };
    let current = &doc[start..end + END.len()];
    let wanted = table();
    if current != wanted {
        if std::env::var("UPDATE_DOCS").is_ok() {
            let updated = format!("{}{wanted}{}", &doc[..start], &doc[end + END.len()..]);
            std::fs::write(&path, updated).expect("write docs/inputs.md");
        } else {
            panic!("docs/inputs.md's types table is out of date: run UPDATE_DOCS=1 cargo test -p imports-tests --test types_doc");
        }
    }
}
