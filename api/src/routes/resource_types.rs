//! `GET /api/resource_types` and `GET /api/resource_types/{name}`: the importable resource
//! types, their attributes, natural keys, parents and relationships, as JSON:API resources.
//!
//! Everything here is read from the catalogue ([`imports_common::catalogue::CATALOGUE`]), so a
//! type declared there is listed without any change to this file. `meta.limits` gives the
//! limits a client must keep under when it creates imports (inputs per import, body size,
//! active imports), so that a CLI can size its chunks for this API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use imports_common::catalogue::{
    resource_type, AttributeType, ResourceType, CATALOGUE, COMMON_ATTRIBUTES,
};
use serde_json::{json, Value};

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::AppState;

/// The JSON:API `type` of these resources.
pub const RESOURCE_TYPES_TYPE: &str = "resource_types";

/// The name clients see for an attribute type.
pub fn type_name(ty: AttributeType) -> &'static str {
    match ty {
        AttributeType::Text => "text",
        AttributeType::Integer => "integer",
        AttributeType::Float => "float",
        AttributeType::Boolean => "boolean",
        AttributeType::Email => "email",
        AttributeType::CurrencyCode => "currency_code",
        AttributeType::Object => "object",
        AttributeType::List => "list",
        AttributeType::Timestamp => "timestamp",
    }
}

/// One resource type as a JSON:API resource object.
pub fn resource(rt: &ResourceType, base_url: &str) -> Value {
    let attributes: Vec<Value> = rt
        .all_attributes()
        .map(|a| {
            let generated = rt.generated_key.is_some() && rt.natural_key == [a.name];
            let mut v = json!({
                "name": a.name,
                "type": type_name(a.ty),
                "required": a.required,
                "requirement": rt.requirement(a.name),
                "condition": rt.condition(a.name).map(|c| c.describe()),
                "generated": generated,
                "common": COMMON_ATTRIBUTES.iter().any(|c| c.name == a.name),
            });
            if let Some(min) = a.min_length {
                v["min_length"] = json!(min);
            }
            if let Some(max) = a.max_length {
                v["max_length"] = json!(max);
            }
            if let Some(allowed) = a.allowed {
                v["allowed_characters"] = json!(allowed.describe);
            }
            if let Some(default) = a.default_sql {
                v["default"] = default_value(default);
            }
            if let Some(min) = a.min {
                v["min"] = json!(min);
            }
            if let Some(max) = a.max {
                v["max"] = json!(max);
            }
            if !a.one_of.is_empty() {
                v["one_of"] = json!(a.one_of);
            }
            v
        })
        .collect();
    let relationships: Vec<Value> = rt
        .relationships
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "resource_type": r.target,
                "id_attribute": r.id_attribute,
                "key_attribute": r.by_key.map(|k| k.input),
                "key_target_attribute": r.by_key.map(|k| k.target_column),
                "required": r.required,
                "requirement": rt.requirement(r.name),
                "condition": rt.condition(r.name).map(|c| c.describe()),
                "inline": r.inline,
                "creates_unknown_keys": r.creates_unknown_keys,
            })
        })
        .collect();
    let parent = rt.parent_relationship().map(|r| {
        json!({
            "relationship": r.name,
            "resource_type": r.target,
            "id_attribute": r.id_attribute,
        })
    });
    json!({
        "id": rt.name,
        "type": RESOURCE_TYPES_TYPE,
        "links": {"self": format!("{}/api/resource_types/{}", base_url.trim_end_matches('/'), rt.name)},
        "attributes": {
            "name": rt.name,
            "attributes": attributes,
            "natural_key": rt.natural_key,
            "parent": parent,
            "relationships": relationships,
            "children": rt.children,
            "creates_without_key": rt.creates_without_key,
            "matches_on": rt.matching(),
            "max_per_parent": rt.max_per_parent,
            "polymorphic": rt.polymorphic.map(|p| json!({
                "id_attribute": p.id_attribute,
                "type_attribute": p.type_attribute,
                "relationships": p.relationships.iter().map(|(t, r)| json!({"type": t, "relationship": r})).collect::<Vec<_>>(),
            })),
            "taggable": rt.taggable,
            "log_key": rt.log_key,
        },
    })
}

/// A default as clients see it: `true`, `'draft'` -> `"draft"`, `'{}'::jsonb` -> `{}`.
fn default_value(sql: &str) -> Value {
    let sql = sql.trim_end_matches("::jsonb");
    if let Some(text) = sql.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return serde_json::from_str(text).unwrap_or_else(|_| json!(text));
    }
    serde_json::from_str(sql).unwrap_or_else(|_| json!(sql))
}

fn limits(state: &AppState) -> Value {
    json!({
        "max_inputs_per_import": state.config.max_inputs,
        "max_active_imports": state.config.max_active,
        "max_body_bytes": state.config.max_body_bytes,
    })
}

/// `GET /api/resource_types`: every importable type, in the catalogue's order.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
) -> Result<Response, ApiError> {
    let data: Vec<Value> = CATALOGUE
        .iter()
        .map(|rt| resource(rt, &state.config.public_url))
        .collect();
    Ok(jsonapi(
        StatusCode::OK,
        &json!({
            "data": data,
            "meta": {"record_count": CATALOGUE.len(), "limits": limits(&state)},
        }),
    ))
}

/// `GET /api/resource_types/{name}`; an unknown name is a 404.
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let rt = resource_type(&name).ok_or_else(|| ApiError::not_found("resource type"))?;
    Ok(jsonapi(
        StatusCode::OK,
        &json!({
            "data": resource(rt, &state.config.public_url),
            "meta": {"limits": limits(&state)},
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_type_is_described_from_its_declaration() {
        for rt in CATALOGUE {
            let r = resource(rt, "http://api.test/");
            assert_eq!(r["id"], rt.name);
            assert_eq!(r["type"], "resource_types");
            assert_eq!(
                r["links"]["self"],
                format!("http://api.test/api/resource_types/{}", rt.name)
            );
            let a = &r["attributes"];
            let names: Vec<&str> = a["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["name"].as_str().unwrap())
                .collect();
            let expected: Vec<&str> = rt.all_attributes().map(|x| x.name).collect();
            assert_eq!(names, expected, "{}", rt.name);
            assert_eq!(a["natural_key"], json!(rt.natural_key));
            assert_eq!(
                a["relationships"].as_array().unwrap().len(),
                rt.relationships.len()
            );
            assert_eq!(a["parent"].is_null(), rt.parent.is_none(), "{}", rt.name);
        }
    }

    #[test]
    fn skus_and_prices_read_as_declared() {
        let skus = resource(resource_type("skus").unwrap(), "");
        let code = &skus["attributes"]["attributes"][0];
        assert_eq!(
            code,
            &json!({"name": "code", "type": "text", "required": true, "requirement": "required",
                    "condition": null, "generated": false, "common": false})
        );
        let category = &skus["attributes"]["relationships"][0];
        assert_eq!(
            (&category["requirement"], &category["condition"]),
            (&json!("conditional"), &json!("unless do_not_ship is true"))
        );
        let unit = skus["attributes"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "unit_of_weight")
            .unwrap();
        assert_eq!(unit["one_of"], json!(["gr", "oz", "lb"]));
        let prices = resource(resource_type("prices").unwrap(), "");
        assert_eq!(
            prices["attributes"]["parent"],
            json!({"relationship": "price_list", "resource_type": "price_lists", "id_attribute": "price_list_id"})
        );
        assert_eq!(
            prices["attributes"]["relationships"][0]["key_attribute"],
            "sku_code"
        );
        assert_eq!(prices["attributes"]["children"], json!(["price_tiers"]));
    }

    #[test]
    fn nested_records_tags_and_bounds_are_described() {
        let orders = resource(resource_type("orders").unwrap(), "");
        let a = &orders["attributes"];
        assert_eq!(a["children"], json!(["line_items"]));
        assert_eq!(a["taggable"], true);
        let shipping = a["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "shipping_address")
            .unwrap();
        assert_eq!(shipping["inline"], true);
        assert_eq!(shipping["key_attribute"], "shipping_address_reference");
        let customer = a["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "customer")
            .unwrap();
        assert_eq!(
            (
                &customer["key_attribute"],
                &customer["key_target_attribute"]
            ),
            (&json!("customer_email"), &json!("email"))
        );
        let addresses = resource(resource_type("addresses").unwrap(), "");
        assert_eq!(addresses["attributes"]["creates_without_key"], true);
        let promotions = resource(resource_type("promotions").unwrap(), "");
        let percentage = promotions["attributes"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "percentage")
            .unwrap();
        assert_eq!(
            (&percentage["min"], &percentage["max"]),
            (&json!(0), &json!(100))
        );
        let starts = promotions["attributes"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "starts_at")
            .unwrap();
        assert_eq!(starts["type"], "timestamp");
    }
}
