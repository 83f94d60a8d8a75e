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
                &["TYPE", "NATURAL KEY", "PARENT", "REQUIRED", "RELATIONSHIPS"],
                &[],
            );
            for r in doc["data"].as_array().into_iter().flatten() {
                let a = &r["attributes"];
                let required: Vec<String> = a["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| x["required"] == true)
                    .map(|x| cell(&x["name"]))
                    .collect();
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
                    required.join(", "),
                    relationships.join(", "),
                ]);
            }
            print!("{}", t.render());
            println!("importctl types TYPE: every attribute of a type");
        }
    }
    Ok(EXIT_OK)
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
    let mut t = Table::new(&["ATTRIBUTE", "TYPE", "REQUIRED", "ALLOWED"], &[]);
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
        t.row(vec![
            cell(&x["name"]),
            cell(&x["type"]),
            if x["required"] == true { "yes" } else { "" }.into(),
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
                "REQUIRED",
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
                if x["required"] == true { "yes" } else { "" }.into(),
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
