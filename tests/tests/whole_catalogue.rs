//! A whole catalogue loaded through imports alone, in dependency order, then checked row by
//! row in Postgres: customer groups, price lists, markets, stock locations, shipping
//! categories, skus, prices with their tiers, stock items, customers, addresses and customer
//! addresses, orders with their line items, promotions, their coupon rules and coupons.
//!
//! Some types go as JSON and some as CSV, relationships are named by natural key (and by
//! `parent_resource_id`), and the worker's batches are small, so that every record crosses
//! batch boundaries the way a real load does.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use imports_common::model::Status;
use imports_tests::{ImportSpec, TestEnv};
use serde_json::{json, Value};

/// SKUs in the catalogue.
const SKUS: usize = 40;
/// Customers, each with one address and one order.
const CUSTOMERS: usize = 12;

/// Imports and checks that every input was written.
async fn load(env: &TestEnv, spec: ImportSpec<'_>, expected: i64) {
    let rt = spec.resource_type.to_owned();
    let import = env.submit(spec).await;
    let done = env.wait_final(&import.id, Duration::from_secs(120)).await;
    assert_eq!(
        (done.status, done.processed_count, done.errors_count),
        (Status::Completed, expected, 0),
        "{rt}: {:?}",
        done.errors_log
    );
}

/// Every row a query returns, each as its columns' text joined by `|` (`NULL` for null).
async fn rows(env: &TestEnv, sql: &str) -> BTreeSet<String> {
    // The caller selects every column as text.
    env.query(sql)
        .await
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.get::<_, Option<String>>(i)
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn set(lines: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    lines.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_catalogue_loads_through_imports_in_dependency_order() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(2, 7, 10));

    // Customer groups, price lists and markets.
    load(
        &env,
        ImportSpec::json(
            "customer_groups",
            &json!([{"code": "VIP", "name": "Very important"}]),
        ),
        1,
    )
    .await;
    load(
        &env,
        ImportSpec::csv(
            "price_lists",
            "code,name,currency_code,tax_included\nEU,Europe,eur,yes\nUS,United States,USD,no\n",
        ),
        2,
    )
    .await;
    load(
        &env,
        ImportSpec::json(
            "markets",
            &json!([
                {"code": "M-EU", "name": "Europe", "price_list_code": "EU", "customer_group_code": "VIP"},
                {"code": "M-US", "name": "USA", "price_list_code": "US"}
            ]),
        ),
        2,
    )
    .await;

    // Stock locations, shipping categories and skus.
    load(
        &env,
        ImportSpec::csv(
            "stock_locations",
            "code,name,address.reference,address.business,address.company,address.phone,address.line_1,address.city,address.country_code\n\
             WH1,Warehouse one,WH1-ADDR,true,Docks,+39 010 1,1 Dock Rd,Genoa,IT\n\
             WH2,Warehouse two,WH2-ADDR,true,Docks,+39 040 2,2 Dock Rd,Trieste,IT\n",
        ),
        2,
    )
    .await;
    load(
        &env,
        ImportSpec::csv(
            "shipping_categories",
            "code;name\nSTD;Standard\nBULK;Bulky\n",
        )
        .delimiter(b';'),
        2,
    )
    .await;
    let mut skus = String::from("code,name,shipping_category_code,weight,metadata.color,tags\n");
    for i in 0..SKUS {
        let category = if i % 4 == 0 { "BULK" } else { "STD" };
        let tags = if i % 5 == 0 { "\"sale, new\"" } else { "" };
        writeln!(
            skus,
            "SKU{i:03},\"Item {i}, boxed\",{category},{i}.5,c{},{tags}",
            i % 3
        )
        .unwrap();
    }
    load(&env, ImportSpec::csv("skus", &skus), SKUS as i64).await;

    // Prices with tiers, in the EU list named by parent_resource_id.
    let eu: String = env
        .query("SELECT id FROM price_lists WHERE code = 'EU'")
        .await[0]
        .get(0);
    let mut prices = String::from(
        "sku_code,amount_cents,price_tiers.name,price_tiers.up_to,price_tiers.price_amount_cents\n",
    );
    for i in 0..SKUS {
        if i % 2 == 0 {
            writeln!(
                prices,
                "SKU{i:03},{},\"ten,hundred\",\"10,100\",\"{},{}\"",
                1000 + i,
                900 + i,
                800 + i
            )
            .unwrap();
        } else {
            writeln!(prices, "SKU{i:03},{},,,", 1000 + i).unwrap();
        }
    }
    load(
        &env,
        ImportSpec::csv("prices", &prices).parent(&eu),
        SKUS as i64,
    )
    .await;

    // Stock in both warehouses.
    let stock: Vec<Value> = (0..SKUS)
        .flat_map(|i| {
            ["WH1", "WH2"].map(|wh| {
                json!({"sku_code": format!("SKU{i:03}"), "stock_location_code": wh, "quantity": i})
            })
        })
        .collect();
    load(
        &env,
        ImportSpec::json("stock_items", &Value::Array(stock)),
        2 * SKUS as i64,
    )
    .await;

    // Customers, their addresses, and the link between them.
    let customers: Vec<Value> = (0..CUSTOMERS)
        .map(|c| {
            let mut v = json!({"email": format!("Customer{c}@Example.com")});
            if c % 3 == 0 {
                v["customer_group_code"] = json!("VIP");
            }
            v
        })
        .collect();
    load(
        &env,
        ImportSpec::json("customers", &Value::Array(customers)),
        CUSTOMERS as i64,
    )
    .await;
    let mut addresses =
        String::from("reference,first_name,last_name,phone,line_1,city,country_code,zip_code\n");
    for c in 0..CUSTOMERS {
        writeln!(
            addresses,
            "ADDR{c},Name {c},Rossi,+39 06 {c},\"{c} Main St, Apt 2\",Città,IT,0010{c}"
        )
        .unwrap();
    }
    load(
        &env,
        ImportSpec::csv("addresses", &addresses),
        CUSTOMERS as i64,
    )
    .await;
    let links: Vec<Value> = (0..CUSTOMERS)
        .map(|c| {
            json!({"customer_email": format!("customer{c}@example.com"), "address_reference": format!("ADDR{c}")})
        })
        .collect();
    load(
        &env,
        ImportSpec::json("customer_addresses", &Value::Array(links)),
        CUSTOMERS as i64,
    )
    .await;

    // Orders with line items, in the EU market.
    let orders: Vec<Value> = (0..CUSTOMERS)
        .map(|c| {
            let items: Vec<Value> = (0..3)
                .map(|k| {
                    json!({
                        "sku_code": format!("SKU{:03}", (c + k * 7) % SKUS),
                        "quantity": k + 1,
                        "unit_amount_cents": 1000 + (c + k * 7) % SKUS,
                    })
                })
                .collect();
            json!({
                "number": format!("ORD-{c:04}"),
                "customer_email": format!("customer{c}@example.com"),
                "market_code": "M-EU",
                "currency_code": "EUR",
                "status": "placed",
                "line_items": items,
            })
        })
        .collect();
    load(
        &env,
        ImportSpec::json("orders", &Value::Array(orders)),
        CUSTOMERS as i64,
    )
    .await;

    // A promotion, its coupon rule and coupons.
    load(
        &env,
        ImportSpec::json(
            "promotions",
            &json!([{"code": "SPRING", "name": "Spring sale", "type": "percentage_discount",
                     "percentage": 15, "starts_at": "2026-03-01", "expires_at": "2026-06-01",
                     "market_code": "M-EU"}]),
        ),
        1,
    )
    .await;
    load(
        &env,
        ImportSpec::json(
            "coupon_codes_promotion_rules",
            &json!([{"promotion_code": "SPRING"}]),
        ),
        1,
    )
    .await;
    load(
        &env,
        ImportSpec::csv(
            "coupons",
            "code,promotion_code,usage_limit\nSPRING10,SPRING,10\nSPRING20,SPRING,20\n",
        ),
        2,
    )
    .await;
    worker.stop().await;

    // Row by row.
    assert_eq!(
        rows(&env, "SELECT m.code, m.name, p.code, g.code FROM markets m JOIN price_lists p ON p.id = m.price_list_id LEFT JOIN customer_groups g ON g.id = m.customer_group_id").await,
        set(["M-EU|Europe|EU|VIP".into(), "M-US|USA|US|NULL".into()])
    );
    assert_eq!(
        rows(
            &env,
            "SELECT w.code, a.reference, a.city FROM stock_locations w JOIN addresses a ON a.id = w.address_id"
        )
        .await,
        set(["WH1|WH1-ADDR|Genoa".into(), "WH2|WH2-ADDR|Trieste".into()])
    );
    assert_eq!(
        rows(
            &env,
            "SELECT code, name, currency_code, tax_included::text FROM price_lists"
        )
        .await,
        set([
            "EU|Europe|EUR|true".into(),
            "US|United States|USD|false".into()
        ])
    );
    assert_eq!(
        rows(&env, "SELECT s.code, s.name, c.code, s.weight::text, s.metadata->>'color' FROM skus s JOIN shipping_categories c ON c.id = s.shipping_category_id").await,
        set((0..SKUS).map(|i| format!(
            "SKU{i:03}|Item {i}, boxed|{}|{i}.5|c{}",
            if i % 4 == 0 { "BULK" } else { "STD" },
            i % 3
        )))
    );
    assert_eq!(
        rows(&env, "SELECT s.code, p.amount_cents::text, l.code FROM prices p JOIN skus s ON s.id = p.sku_id JOIN price_lists l ON l.id = p.price_list_id").await,
        set((0..SKUS).map(|i| format!("SKU{i:03}|{}|EU", 1000 + i)))
    );
    assert_eq!(
        rows(&env, "SELECT s.code, t.up_to::text, t.price_amount_cents::text FROM price_tiers t JOIN prices p ON p.id = t.price_id JOIN skus s ON s.id = p.sku_id").await,
        set((0..SKUS).filter(|i| i % 2 == 0).flat_map(|i| [
            format!("SKU{i:03}|10|{}", 900 + i),
            format!("SKU{i:03}|100|{}", 800 + i),
        ]))
    );
    assert_eq!(
        rows(&env, "SELECT s.code, w.code, i.quantity::text FROM stock_items i JOIN skus s ON s.id = i.sku_id JOIN stock_locations w ON w.id = i.stock_location_id").await,
        set((0..SKUS).flat_map(|i| ["WH1", "WH2"].map(|wh| format!("SKU{i:03}|{wh}|{i}"))))
    );
    assert_eq!(
        rows(&env, "SELECT c.email, g.code, a.reference, a.line_1, a.city FROM customer_addresses ca JOIN customers c ON c.id = ca.customer_id JOIN addresses a ON a.id = ca.address_id LEFT JOIN customer_groups g ON g.id = c.customer_group_id").await,
        set((0..CUSTOMERS).map(|c| format!(
            "customer{c}@example.com|{}|ADDR{c}|{c} Main St, Apt 2|Città",
            if c % 3 == 0 { "VIP" } else { "NULL" }
        )))
    );
    assert_eq!(
        rows(&env, "SELECT o.number, c.email, m.code, o.status, o.currency_code FROM orders o JOIN customers c ON c.id = o.customer_id JOIN markets m ON m.id = o.market_id").await,
        set((0..CUSTOMERS).map(|c| format!("ORD-{c:04}|customer{c}@example.com|M-EU|placed|EUR")))
    );
    assert_eq!(
        rows(&env, "SELECT o.number, s.code, l.quantity::text, l.unit_amount_cents::text FROM line_items l JOIN orders o ON o.id = l.order_id JOIN skus s ON s.id = l.sku_id").await,
        set((0..CUSTOMERS).flat_map(|c| (0..3).map(move |k| {
            let sku = (c + k * 7) % SKUS;
            format!("ORD-{c:04}|SKU{sku:03}|{}|{}", k + 1, 1000 + sku)
        })))
    );
    assert_eq!(
        rows(&env, "SELECT c.code, c.usage_limit::text, p.code, p.percentage::text, (p.starts_at = '2026-03-01T00:00:00Z')::text FROM coupons c JOIN coupon_codes_promotion_rules r ON r.id = c.promotion_rule_id JOIN promotions p ON p.id = r.promotion_id").await,
        set(["SPRING10|10|SPRING|15|true".into(), "SPRING20|20|SPRING|15|true".into()])
    );
    assert_eq!(
        rows(&env, "SELECT s.code, string_agg(t.name, ',' ORDER BY t.name) FROM taggings g JOIN tags t ON t.id = g.tag_id JOIN skus s ON s.id = g.resource_id GROUP BY s.code").await,
        set((0..SKUS).filter(|i| i % 5 == 0).map(|i| format!("SKU{i:03}|new,sale")))
    );
    // Every record belongs to the test's tenant.
    for table in [
        "customer_groups",
        "price_lists",
        "markets",
        "stock_locations",
        "shipping_categories",
        "skus",
        "prices",
        "price_tiers",
        "stock_items",
        "customers",
        "addresses",
        "customer_addresses",
        "orders",
        "line_items",
        "promotions",
        "coupon_codes_promotion_rules",
        "coupons",
        "tags",
        "taggings",
    ] {
        let other = env
            .query(&format!(
                "SELECT count(*) FROM {table} WHERE organization_id <> '{}' OR mode <> '{}'",
                env.tenant.organization_id,
                env.tenant.mode.as_str()
            ))
            .await[0]
            .get::<_, i64>(0);
        assert_eq!(other, 0, "{table}");
    }
}
