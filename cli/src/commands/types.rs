//! `importctl types`: the importable resource types, or one with every attribute and
//! relationship.

use anyhow::Result;
use serde_json::Value;

use super::{path_segment, print_json};
use crate::client::Api;
use crate::output::{cell, Table};
use crate::EXIT_OK;

/// Runs `types`: every importable type, or one in full.
pub(super) fn types(api: &Api, json_output: bool, name: Option<&str>) -> Result<i32> {
    let doc = match name {
        Some(n) => api.get(&format!("/api/resource_types/{}", path_segment(n)), &[])?,
        None => api.get("/api/resource_types", &[])?,
    };
    if json_output {
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    match name {
        Some(_) => print_type(&doc["data"]),
        None => {
            let mut t = Table::new(
                &[
                    "TYPE",
                    "NATURAL KEY",
                    "PARENT",
                    "REQUIRED",
                    "CONDITIONAL",
                    "RELATIONSHIPS",
                ],
                &[],
            );
            for r in doc["data"].as_array().into_iter().flatten() {
                let a = &r["attributes"];
                let named = |requirement: &str| -> Vec<String> {
                    let attributes = a["attributes"].as_array().into_iter().flatten();
                    let relationships = a["relationships"].as_array().into_iter().flatten();
                    attributes
                        .chain(relationships)
                        .filter(|x| x["requirement"] == requirement)
                        .map(|x| cell(&x["name"]))
                        .collect()
                };
                let relationships: Vec<String> = a["relationships"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| format!("{} ({})", cell(&x["name"]), cell(&x["resource_type"])))
                    .collect();
                t.row(vec![
                    cell(&r["id"]),
                    join(&a["natural_key"]),
                    cell(&a["parent"]["resource_type"]),
                    named("required").join(", "),
                    named("conditional").join(", "),
                    relationships.join(", "),
                ]);
            }
            print!("{}", t.render());
            println!("importctl types TYPE: every attribute of a type");
        }
    }
    Ok(EXIT_OK)
}

/// `required`, `optional`, `generated`, or the condition (`unless market is given`).
fn requirement(x: &Value) -> String {
    match (x["requirement"].as_str(), x["condition"].as_str()) {
        (_, Some(condition)) => format!("required {condition}"),
        (Some("optional"), _) if x["generated"] == true => "generated when missing".into(),
        (Some(r), _) => r.to_owned(),
        _ => String::new(),
    }
}

fn join(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect::<Vec<_>>()
        .join(" + ")
}

fn print_type(r: &Value) {
    let a = &r["attributes"];
    let parent = match a["parent"]["resource_type"].as_str() {
        Some(p) => format!(
            "parent {p} (--parent fills {})",
            cell(&a["parent"]["id_attribute"])
        ),
        None => "no parent".into(),
    };
    println!(
        "{}: natural key {}; {parent}",
        cell(&r["id"]),
        join(&a["natural_key"])
    );
    println!("matches on: {}", cell(&a["matches_on"]));
    let mut t = Table::new(&["ATTRIBUTE", "TYPE", "AT CREATE", "ALLOWED"], &[]);
    for x in a["attributes"].as_array().into_iter().flatten() {
        let mut allowed = Vec::new();
        if let Some(min) = x["min"].as_i64() {
            allowed.push(format!(">= {min}"));
        }
        if let Some(max) = x["max"].as_i64() {
            allowed.push(format!("<= {max}"));
        }
        if let Some(values) = x["one_of"].as_array() {
            allowed.push(values.iter().map(cell).collect::<Vec<_>>().join(" | "));
        }
        match (x["min_length"].as_u64(), x["max_length"].as_u64()) {
            (Some(min), Some(max)) => allowed.push(format!("{min} to {max} characters")),
            (None, Some(max)) => allowed.push(format!("at most {max} characters")),
            _ => {}
        }
        if let Some(chars) = x["allowed_characters"].as_str() {
            allowed.push(chars.to_owned());
        }
        t.row(vec![
            cell(&x["name"]),
            cell(&x["type"]),
            requirement(x),
            allowed.join(", "),
        ]);
    }
    print!("{}", t.render());
    let rels = a["relationships"].as_array().cloned().unwrap_or_default();
    if !rels.is_empty() {
        println!();
        let mut t = Table::new(
            &[
                "RELATIONSHIP",
                "RESOURCE TYPE",
                "BY ID",
                "BY KEY",
                "AT CREATE",
                "INLINE",
            ],
            &[],
        );
        for x in &rels {
            t.row(vec![
                cell(&x["name"]),
                cell(&x["resource_type"]),
                cell(&x["id_attribute"]),
                cell(&x["key_attribute"]),
                requirement(x),
                if x["inline"] == true {
                    format!("{} or {}.*", cell(&x["name"]), cell(&x["name"]))
                } else {
                    String::new()
                },
            ]);
        }
        print!("{}", t.render());
    }
    let children: Vec<String> = a["children"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    if !children.is_empty() {
        println!(
            "\nchildren given inline: {} (see importctl types CHILD)",
            children.join(", ")
        );
    }
    if a["taggable"] == true {
        println!("tags: a list of tag names, the record's whole set of tags");
    }
    if a["creates_without_key"] == true {
        println!("an input without its natural key (nor an id) creates a new record");
    }
}
