//! The worker pipeline end to end: imports created in Postgres, announced on RabbitMQ,
//! processed by a worker, checked against the rows written.

use std::time::Duration;

use imports_common::model::Status;
use imports_tests::{skus, ImportSpec, TestEnv};
use serde_json::json;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_sku_import_completes_with_exact_counts() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(2, 100, 10));
    let inputs = skus(1050);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    assert_eq!(import.status, Status::Pending);
    assert_eq!(import.inputs_size, 1050);
    let done = env.wait_final(&import.id, T).await;
    assert_eq!(done.status, Status::Completed, "{done:?}");
    assert_eq!(done.processed_count, 1050);
    assert_eq!(done.errors_count, 0);
    assert!(done.started_at.is_some() && done.completed_at.is_some());
    assert_eq!(env.count("skus").await, 1050);
    assert_eq!(
        env.event_names(&import.id).await,
        vec!["imports.create", "imports.start", "imports.complete"]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_imports_from_json_and_csv() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(2, 3, 10));
    let run = |spec: ImportSpec<'static>| {
        let env = &env;
        async move {
            let import = env.submit(spec).await;
            let done = env.wait_final(&import.id, T).await;
            assert_eq!(done.status, Status::Completed, "{done:?}");
            assert_eq!(done.errors_count, 0, "{:?}", done.errors_log);
            done
        }
    };
    let sc = Box::leak(Box::new(json!([{"code": "STD", "name": "Standard"}])));
    run(ImportSpec::json("shipping_categories", sc)).await;
    run(ImportSpec::csv(
        "shipping_categories",
        "code,name\nEXP,Express\n",
    ))
    .await;
    let sk = Box::leak(Box::new(json!([
        {"code": "A", "name": "Shirt", "shipping_category_code": "STD"},
        {"code": "B", "name": "Hat", "weight": 1.5, "unit_of_weight": "oz", "do_not_ship": true}
    ])));
    run(ImportSpec::json("skus", sk)).await;
    run(ImportSpec::csv(
        "skus",
        "code,name,shipping_category_code,do_not_ship\nC,Sock,EXP,true\nD,\"Scarf, wool\",STD,false\n",
    ))
    .await;
    let pl = Box::leak(Box::new(
        json!([{"code": "EU", "name": "Europe", "currency_code": "EUR"}]),
    ));
    run(ImportSpec::json("price_lists", pl)).await;
    run(ImportSpec::csv(
        "price_lists",
        "code,name,currency_code,tax_included\nUS,USA,usd,1\n",
    ))
    .await;
    let eu: String = env
        .query("SELECT id FROM price_lists WHERE code = 'EU'")
        .await[0]
        .get(0);
    let eu = Box::leak(eu.into_boxed_str());
    let pr = Box::leak(Box::new(
        json!([{"sku_code": "A", "amount_cents": 1000}, {"sku_code": "B", "amount_cents": 500, "compare_at_amount_cents": 700}]),
    ));
    run(ImportSpec::json("prices", pr).parent(eu)).await;
    run(ImportSpec::csv(
        "prices",
        "sku_code,price_list_code,amount_cents\nC,US,250\nD,US,300\n",
    ))
    .await;
    let sl = Box::leak(Box::new(json!([{"code": "WH1", "name": "Warehouse 1",
        "address": {"business": true, "company": "Docks", "phone": "1", "line_1": "1 Dock Rd",
                    "city": "Genoa", "country_code": "IT"}}])));
    run(ImportSpec::json("stock_locations", sl)).await;
    run(ImportSpec::csv(
        "stock_locations",
        "code,name,address.business,address.company,address.phone,address.line_1,address.city,address.country_code\nWH2,Warehouse 2,true,Docks,2,2 Dock Rd,Genoa,IT\n",
    ))
    .await;
    let wh1: String = env
        .query("SELECT id FROM stock_locations WHERE code = 'WH1'")
        .await[0]
        .get(0);
    let wh1 = Box::leak(wh1.into_boxed_str());
    let si = Box::leak(Box::new(
        json!([{"sku_code": "A", "quantity": 10}, {"sku_code": "B", "quantity": 0}]),
    ));
    run(ImportSpec::json("stock_items", si).parent(wh1)).await;
    run(ImportSpec::csv(
        "stock_items",
        "sku_code,quantity,stock_location_code\nC,5,WH2\n",
    ))
    .await;
    let cu = Box::leak(Box::new(
        json!([{"email": "Ann@Example.com", "metadata": {"vip": true}}]),
    ));
    run(ImportSpec::json("customers", cu)).await;
    run(ImportSpec::csv(
        "customers",
        "email,metadata.source,reference\nbob@example.com,shop,ERP-1\n",
    ))
    .await;

    for (table, n) in [
        ("shipping_categories", 2),
        ("skus", 4),
        ("price_lists", 2),
        ("prices", 4),
        ("stock_locations", 2),
        ("stock_items", 3),
        ("customers", 2),
    ] {
        assert_eq!(env.count(table).await, n, "{table}");
    }
    let row = &env.query("SELECT s.code, c.code FROM skus s JOIN shipping_categories c ON c.id = s.shipping_category_id WHERE s.code IN ('A','C') ORDER BY 1").await;
    assert_eq!(
        (row[0].get::<_, &str>(1), row[1].get::<_, &str>(1)),
        ("STD", "EXP")
    );
    let row = &env.query("SELECT p.amount_cents, pl.code, s.code FROM prices p JOIN price_lists pl ON pl.id = p.price_list_id JOIN skus s ON s.id = p.sku_id WHERE p.sku_code = 'D'").await[0];
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, &str>(1),
            row.get::<_, &str>(2)
        ),
        (300, "US", "D")
    );
    let row = &env
        .query("SELECT email, metadata, reference FROM customers ORDER BY email")
        .await;
    assert_eq!(row[0].get::<_, &str>(0), "ann@example.com");
    assert_eq!(
        row[1].get::<_, serde_json::Value>(1),
        json!({"source": "shop"})
    );
    assert_eq!(row[1].get::<_, Option<&str>>(2), Some("ERP-1"));
    let row = &env
        .query("SELECT name, do_not_ship FROM skus WHERE code = 'D'")
        .await[0];
    assert_eq!(
        (row.get::<_, &str>(0), row.get::<_, bool>(1)),
        ("Scarf, wool", false)
    );
    worker.stop().await;
}
