//! Children given inline with their parent: a price's `price_tiers`, a sku list's
//! `sku_list_items`, an order's `line_items`, in JSON and in CSV (`price_tiers.up_to` columns
//! holding one comma-separated value per child).
//!
//! Children are upserted by their own natural key under their parent, in the parent's
//! transaction; a child that fails fails its parent input (nothing of it is written), and a
//! parent whose children changed counts as updated.

use std::time::Duration;

use imports_common::model::{Import, Status};
use imports_tests::{ImportSpec, TestEnv};
use serde_json::json;

const T: Duration = Duration::from_secs(60);

async fn run(env: &TestEnv, spec: ImportSpec<'_>) -> Import {
    let import = env.submit(spec).await;
    env.wait_final(&import.id, T).await
}

/// Loads what prices and orders refer to: a price list `EU`, skus `A`, `B`, `C`, a market
/// `M1` and a customer.
async fn catalogue(env: &TestEnv) {
    for (rt, inputs) in [
        (
            "price_lists",
            json!([{"code": "EU", "name": "Europe", "currency_code": "EUR"}]),
        ),
        (
            "skus",
            json!([
                {"code": "A", "name": "Apple", "do_not_ship": true},
                {"code": "B", "name": "Banana", "do_not_ship": true},
                {"code": "C", "name": "Cherry", "do_not_ship": true}
            ]),
        ),
        (
            "markets",
            json!([{"code": "M1", "name": "Market", "price_list_code": "EU"}]),
        ),
        ("customers", json!([{"email": "ann@example.com"}])),
    ] {
        let done = run(env, ImportSpec::json(rt, &inputs)).await;
        assert_eq!(
            (done.status, done.errors_count),
            (Status::Completed, 0),
            "{rt}: {:?}",
            done.errors_log
        );
    }
}

/// The tiers stored for the price of sku `sku`: (up_to, price_amount_cents, type), the
/// open-ended one (no `up_to`) as 0, last.
async fn tiers(env: &TestEnv, sku: &str) -> Vec<(i64, i64, String)> {
    env.query(&format!(
        "SELECT coalesce(t.up_to, 0), t.price_amount_cents, t.type FROM price_tiers t
         JOIN prices p ON p.id = t.price_id WHERE p.sku_code = '{sku}'
         ORDER BY t.up_to NULLS LAST"
    ))
    .await
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_tiers_are_created_updated_and_left_alone_with_their_price() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;

    let first = json!([{
        "sku_code": "A", "price_list_code": "EU", "amount_cents": 1000,
        "price_tiers": [
            {"name": "ten", "up_to": 10, "price_amount_cents": 900},
            {"up_to": 100, "price_amount_cents": 800, "type": "pricevolumetier", "name": "bulk"}
        ]
    }]);
    let done = run(&env, ImportSpec::json("prices", &first)).await;
    assert_eq!(
        (done.status, done.processed_count, done.created_count),
        (Status::Completed, 1, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        tiers(&env, "A").await,
        vec![
            (10, 900, "PriceVolumeTier".into()),
            (100, 800, "PriceVolumeTier".into())
        ]
    );
    assert!(
        done.warnings_log.0["A"]
            .iter()
            .any(|w| w.starts_with("price_tiers[1].type was normalised")),
        "a child's warnings are its parent's, named by place: {:?}",
        done.warnings_log
    );

    // The same again: nothing changed, for the price and its tiers.
    let done = run(&env, ImportSpec::json("prices", &first)).await;
    assert_eq!((done.created_count, done.updated_count), (0, 0));
    assert!(done.warnings_log.0["A"]
        .iter()
        .any(|w| w.starts_with("nothing changed")));

    // Only a tier changes, another is added: the price counts as updated; the tier not
    // given is kept.
    let second = json!([{
        "sku_code": "A", "price_list_code": "EU", "amount_cents": 1000,
        "price_tiers": [
            {"name": "ten", "up_to": 10, "price_amount_cents": 850},
            {"name": "thousand", "up_to": 1000, "price_amount_cents": 700}
        ]
    }]);
    let done = run(&env, ImportSpec::json("prices", &second)).await;
    assert_eq!(
        (done.processed_count, done.created_count, done.updated_count),
        (1, 0, 1),
        "{:?}",
        done.warnings_log
    );
    assert_eq!(
        tiers(&env, "A").await,
        vec![
            (10, 850, "PriceVolumeTier".into()),
            (100, 800, "PriceVolumeTier".into()),
            (1000, 700, "PriceVolumeTier".into())
        ]
    );
    assert_eq!(env.count("prices").await, 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_tiers_in_csv_are_prefixed_columns_with_one_value_per_tier() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let csv =
        "sku_code,price_list_code,amount_cents,price_tiers.name,price_tiers.up_to,price_tiers.price_amount_cents\n\
               A,EU,1000,\"ten,hundred\",\"10,100\",\"900, 800\"\n\
               B,EU,500,,,\n\
               C,EU,700,\"five,x\",\"5,x\",\"600,500\"\n";
    let done = run(&env, ImportSpec::csv("prices", csv).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (2, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        tiers(&env, "A").await,
        vec![
            (10, 900, "PriceVolumeTier".into()),
            (100, 800, "PriceVolumeTier".into())
        ]
    );
    assert!(tiers(&env, "B").await.is_empty(), "empty cells: no tiers");
    assert_eq!(
        done.errors_log.0["C"]["price_tiers[1].up_to"],
        vec!["'x' is not an integer".to_owned()]
    );
    let c = env.query("SELECT 1 FROM prices WHERE sku_code = 'C'").await;
    assert!(c.is_empty(), "a price whose tier fails is not written");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_line_item_fails_its_order_and_nothing_of_it_is_written() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let orders = json!([
        {"number": "O1", "customer_email": "Ann@Example.com", "market_code": "M1",
         "line_items": [
            {"sku_code": "A", "quantity": 2, "unit_amount_cents": 100},
            {"sku_code": "B", "quantity": 1}
         ]},
        {"number": "O2", "market_code": "M1", "line_items": [
            {"sku_code": "A", "quantity": 1},
            {"sku_code": "NOPE", "quantity": 1}
        ]},
        {"number": "O3", "market_code": "M1", "line_items": [{"sku_code": "A", "quantity": 0}]},
        {"number": "O4", "market_code": "M1", "line_items": [{"sku_code": "B"}]},
        {"number": "O5", "market_code": "M1", "line_items": "A"},
        {"number": "O6", "market_code": "M1", "line_items": [{"sku_code": "C", "quantity": 3, "order_number": "O1"}]},
        {"number": "O7", "market_code": "M1", "line_items": [{"name": "Gift wrap", "quantity": 1, "item_type": "adjustments"}]}
    ]);
    let done = run(&env, ImportSpec::json("orders", &orders).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (3, 4),
        "{:?}",
        done.errors_log
    );
    let errors = &done.errors_log.0;
    assert_eq!(
        errors["O2"]["line_items[1].sku"],
        vec!["must exist".to_owned()]
    );
    assert_eq!(
        errors["O3"]["line_items[0].quantity"],
        vec!["must be greater than or equal to 1".to_owned()]
    );
    assert_eq!(
        errors["O4"]["line_items[0].quantity"],
        vec!["can't be blank".to_owned()]
    );
    assert!(errors["O5"]["line_items"][0].contains("is not a list of objects"));
    // A child's own parent reference is ignored, with a warning: it belongs to O6.
    assert!(done.warnings_log.0["O6"]
        .iter()
        .any(|w| w.starts_with("line_items[0].order was ignored")));

    let stored: Vec<(String, String, i64, Option<String>)> = env
        .query(
            "SELECT o.number, coalesce(l.sku_code, l.name), l.quantity, c.email FROM line_items l
             JOIN orders o ON o.id = l.order_id LEFT JOIN customers c ON c.id = o.customer_id
             ORDER BY 1, 2",
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        stored,
        vec![
            ("O1".into(), "A".into(), 2, Some("ann@example.com".into())),
            ("O1".into(), "B".into(), 1, Some("ann@example.com".into())),
            ("O6".into(), "C".into(), 3, None),
            ("O7".into(), "Gift wrap".into(), 1, None),
        ]
    );
    let numbers: Vec<String> = env
        .query("SELECT number FROM orders ORDER BY 1")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(numbers, ["O1", "O6", "O7"], "failed orders are not written");
    let market: i64 = env
        .query("SELECT count(*) FROM orders o JOIN markets m ON m.id = o.market_id WHERE m.code = 'M1'")
        .await[0]
        .get(0);
    assert_eq!(market, 3, "every order is in its market");

    // Again, with O1's first line item changed: one line item updated, none duplicated. O7's
    // line item has no sku_code, so it is created again (no key to match it by).
    let again = json!([
        {"number": "O1", "market_code": "M1", "line_items": [{"sku_code": "A", "quantity": 5}]},
        {"number": "O7", "market_code": "M1", "line_items": [{"name": "Gift wrap", "quantity": 1, "item_type": "adjustments"}]}
    ]);
    let done = run(&env, ImportSpec::json("orders", &again)).await;
    assert_eq!(
        (done.processed_count, done.updated_count),
        (2, 2),
        "{:?}",
        done.errors_log
    );
    let rows = env
        .query("SELECT l.sku_code, l.quantity FROM line_items l JOIN orders o ON o.id = l.order_id WHERE o.number = 'O1' ORDER BY 1")
        .await;
    let o1: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(o1, [("A".to_owned(), 5), ("B".to_owned(), 1)]);
    assert_eq!(env.count("line_items").await, 5);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sku_list_items_in_csv_name_their_skus_by_code() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let csv = "name,slug,sku_list_items.sku_code,sku_list_items.position,sku_list_items.quantity\n\
               Fruit,fruit,\"A,B,C\",\"1,2,3\",\"1,,2\"\n\
               Bad,bad,\"A,Z\",,\n";
    let done = run(&env, ImportSpec::csv("sku_lists", csv).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (1, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        done.errors_log.0["bad"]["sku_list_items[1].sku"],
        vec!["must exist".to_owned()]
    );
    let rows = env
        .query(
            "SELECT i.sku_code, i.position, i.quantity, s.code FROM sku_list_items i
             JOIN sku_lists l ON l.id = i.sku_list_id JOIN skus s ON s.id = i.sku_id
             WHERE l.slug = 'fruit' ORDER BY i.position",
        )
        .await;
    let items: Vec<(String, i64, i64, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        items,
        vec![
            ("A".into(), 1, 1, "A".into()),
            ("B".into(), 2, 1, "B".into()),
            ("C".into(), 3, 2, "C".into()),
        ],
        "a blank place in a list cell leaves that child's attribute out (its default applies)"
    );
    assert!(env
        .query("SELECT 1 FROM sku_lists WHERE slug = 'bad'")
        .await
        .is_empty());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_with_children_writes_nothing_and_reports_their_errors() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let orders = json!([
        {"number": "D1", "market_code": "M1", "line_items": [{"sku_code": "A", "quantity": 1}]},
        {"number": "D2", "market_code": "M1", "line_items": [{"sku_code": "NOPE", "quantity": 1}]}
    ]);
    let done = run(
        &env,
        ImportSpec::json("orders", &orders).dry_run().skip_errors(),
    )
    .await;
    assert_eq!(
        (done.processed_count, done.created_count, done.errors_count),
        (1, 1, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        done.errors_log.0["D2"]["line_items[0].sku"],
        vec!["must exist".to_owned()]
    );
    assert_eq!(env.count("orders").await, 0);
    assert_eq!(env.count("line_items").await, 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_records_given_inline_are_written_first_and_linked() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let link = json!([
        {"customer_email": "ann@example.com",
         "address": {"reference": "HOME", "first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "1 Main St", "city": "Rome", "country_code": "IT"}}
    ]);
    let done = run(&env, ImportSpec::json("customer_addresses", &link)).await;
    assert_eq!(
        (done.processed_count, done.created_count, done.errors_count),
        (1, 1, 0),
        "{:?}",
        done.errors_log
    );
    let linked = "SELECT a.reference, a.city FROM customer_addresses ca
                  JOIN addresses a ON a.id = ca.address_id ORDER BY 1";
    let rows: Vec<(String, String)> = env
        .query(linked)
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, [("HOME".to_owned(), "Rome".to_owned())]);

    // The same address (by its reference) with another city: the address is updated, and
    // the link, itself unchanged, counts as updated.
    let moved = json!([
        {"customer_email": "ann@example.com",
         "address": {"reference": "HOME", "city": "Milan"}}
    ]);
    let done = run(&env, ImportSpec::json("customer_addresses", &moved)).await;
    assert_eq!(
        (done.processed_count, done.created_count, done.updated_count),
        (1, 0, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(env.count("addresses").await, 1);
    assert_eq!(env.count("customer_addresses").await, 1);
    let city: String = env.query("SELECT city FROM addresses").await[0].get(0);
    assert_eq!(city, "Milan");

    // In CSV, as address.* columns; an address without a reference is always a new one.
    let csv = "customer_email,address.business,address.company,address.phone,address.line_1,address.city,address.country_code\n\
               ann@example.com,true,Acme,+39 011 1,\"2 Side St, back\",Turin,IT\n\
               ann@example.com,true,Acme,+39 011 1,3 Other St,,IT\n";
    let done = run(
        &env,
        ImportSpec::csv("customer_addresses", csv).skip_errors(),
    )
    .await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (1, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        done.errors_log.0["ann@example.com"]["address.city"],
        vec!["can't be blank".to_owned()]
    );
    assert_eq!(
        env.count("addresses").await,
        2,
        "a failed input leaves no address"
    );
    let line: String = env
        .query("SELECT line_1 FROM addresses WHERE city = 'Turin'")
        .await[0]
        .get(0);
    assert_eq!(line, "2 Side St, back");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_with_inline_addresses_is_written_whole_or_not_at_all() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let addresses = json!([{"reference": "BILL", "first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "9 Bill St", "city": "Paris", "country_code": "FR"}]);
    run(&env, ImportSpec::json("addresses", &addresses)).await;
    let orders = json!([
        {"number": "A1", "market_code": "M1", "billing_address_reference": "BILL",
         "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "1 Ship St", "city": "Lyon", "country_code": "FR"},
         "line_items": [{"sku_code": "A", "quantity": 1}]},
        {"number": "A2", "market_code": "M1",
         "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "2 Ship St", "city": "Nice", "country_code": "FR"},
         "billing_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "no city", "country_code": "FR"}},
        {"number": "A3", "market_code": "M1",
         "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "3 Ship St", "city": "Nantes", "country_code": "FR"},
         "line_items": [{"sku_code": "NOPE", "quantity": 1}]},
        {"number": "A4", "market_code": "M1", "shipping_address": "5 Rue", "billing_address_reference": "BILL",
         "billing_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "x", "city": "y", "country_code": "FR"}}
    ]);
    let done = run(&env, ImportSpec::json("orders", &orders).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (1, 3),
        "{:?}",
        done.errors_log
    );
    let errors = &done.errors_log.0;
    assert_eq!(
        errors["A2"]["billing_address.city"],
        vec!["can't be blank".to_owned()]
    );
    assert_eq!(
        errors["A3"]["line_items[0].sku"],
        vec!["must exist".to_owned()]
    );
    assert!(errors["A4"]["shipping_address"][0].contains("is not an object"));
    assert!(errors["A4"]["billing_address"][0].contains("give one or the other"));
    let rows: Vec<(String, String, String)> = env
        .query(
            "SELECT o.number, s.city, b.reference FROM orders o
             JOIN addresses s ON s.id = o.shipping_address_id
             JOIN addresses b ON b.id = o.billing_address_id",
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [("A1".to_owned(), "Lyon".to_owned(), "BILL".to_owned())]
    );
    let cities: Vec<String> = env
        .query("SELECT city FROM addresses ORDER BY city")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        cities,
        ["Lyon", "Paris"],
        "the addresses of failed orders are not written"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_nested_column_is_one_warning_for_the_import() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    catalogue(&env).await;
    let csv = "number,market_code,line_items.sku_code,line_items.quantity,line_items.colour,shipping_address.planet,tags.label\n\
               U1,M1,A,1,red,Mars,x\n\
               U2,M1,B,2,blue,Venus,y\n\
               U3,M1,C,3,green,Earth,z\n";
    let done = run(&env, ImportSpec::csv("orders", csv)).await;
    assert_eq!(
        (done.processed_count, done.warnings_count),
        (3, 3),
        "{:?}",
        done.warnings_log
    );
    assert_eq!(
        done.warnings_log.0["U1"],
        [
            "column line_items.colour was ignored: unknown attribute",
            "column shipping_address.planet was ignored: unknown attribute",
            "column tags.label was ignored: unknown attribute"
        ]
    );
    assert_eq!(env.count("line_items").await, 3);
    assert_eq!(env.count("addresses").await, 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_records_follow_their_input_whatever_else_changed_or_failed() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    catalogue(&env).await;
    let first = json!([
        {"number": "R1", "market_code": "M1", "shipping_address": {"reference": "HQ", "first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "1 Rue", "city": "Lyon", "country_code": "FR"}},
        {"number": "R2", "market_code": "M1", "line_items": [{"sku_code": "B", "quantity": 1}]}
    ]);
    let done = run(&env, ImportSpec::json("orders", &first)).await;
    assert_eq!(done.processed_count, 2, "{:?}", done.errors_log);
    let r2_item: String = env
        .query("SELECT l.id FROM line_items l JOIN orders o ON o.id = l.order_id WHERE o.number = 'R2'")
        .await[0]
        .get(0);

    // Only the address changes (the order's own row does not): its new line item and tags
    // are written all the same.
    let again = json!([
        {"number": "R1", "market_code": "M1", "shipping_address": {"reference": "HQ", "city": "Paris"},
         "line_items": [{"sku_code": "A", "quantity": 3}], "tags": ["vip"]},
        // An input failing after its address was written leaves no address behind.
        {"number": "R2b", "market_code": "M1", "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "2 Rue", "city": "Nice", "country_code": "FR"},
         "line_items": [{"sku_code": "NOPE", "quantity": 1}]},
        // Another order's line item, given by id, is not moved here.
        {"number": "R3", "market_code": "M1", "line_items": [{"id": r2_item, "quantity": 9}]},
        // Blank references are no references: both addresses are created.
        {"number": "R4", "market_code": "M1", "shipping_address": {"reference": "", "first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "4 Rue", "city": "Metz", "country_code": "FR"}},
        {"number": "R5", "market_code": "M1", "shipping_address": {"reference": "", "first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "5 Rue", "city": "Metz", "country_code": "FR"}},
        {"number": "R6", "market_code": "M1", "tags": ["x".repeat(300)]}
    ]);
    let done = run(&env, ImportSpec::json("orders", &again).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (3, 3),
        "{:?}",
        done.errors_log
    );
    let errors = &done.errors_log.0;
    assert!(errors.contains_key("R2b"), "{errors:?}");
    assert_eq!(
        errors["R3"]["line_items[0].id"],
        vec!["belongs to another order".to_owned()]
    );
    assert!(errors["R6"]["tags"][0].contains("as a tag name is 300 characters long"));
    let r1 = &env
        .query(
            "SELECT a.city, l.sku_code, l.quantity, t.name FROM orders o
             JOIN addresses a ON a.id = o.shipping_address_id
             JOIN line_items l ON l.order_id = o.id
             JOIN taggings g ON g.resource_id = o.id JOIN tags t ON t.id = g.tag_id
             WHERE o.number = 'R1'",
        )
        .await;
    assert_eq!(r1.len(), 1);
    assert_eq!(
        (
            r1[0].get::<_, String>(0),
            r1[0].get::<_, String>(1),
            r1[0].get::<_, i64>(2),
            r1[0].get::<_, String>(3)
        ),
        ("Paris".to_owned(), "A".to_owned(), 3, "vip".to_owned())
    );
    let cities: Vec<String> = env
        .query("SELECT city FROM addresses ORDER BY city")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(cities, ["Metz", "Metz", "Paris"], "no address from Nice");
    let blank: i64 = env
        .query("SELECT count(*) FROM addresses WHERE reference IS NULL")
        .await[0]
        .get(0);
    assert_eq!(blank, 2);
    let r2_quantity: i64 = env
        .query(&format!(
            "SELECT quantity FROM line_items WHERE id = '{r2_item}'"
        ))
        .await[0]
        .get(0);
    assert_eq!(r2_quantity, 1, "R2's line item is untouched");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_s_customer_email_finds_or_creates_its_customer() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    catalogue(&env).await;
    let orders = json!([
        {"number": "G1", "market_code": "M1", "customer_email": "Guest@Example.com"},
        {"number": "G2", "market_code": "M1", "customer_email": "ann@example.com"}
    ]);
    let done = run(&env, ImportSpec::json("orders", &orders)).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (2, 0),
        "{:?}",
        done.errors_log
    );
    // As in the reference API, an email no customer has creates the customer.
    assert!(
        !done.warnings_log.0["G1"]
            .iter()
            .any(|w| w.contains("names no customer")),
        "{:?}",
        done.warnings_log
    );
    assert_eq!(env.count("customers").await, 2);
    let rows: Vec<(String, String, Option<String>)> = env
        .query("SELECT o.number, o.customer_email, c.email FROM orders o LEFT JOIN customers c ON c.id = o.customer_id ORDER BY 1")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "G1".to_owned(),
                "guest@example.com".to_owned(),
                Some("guest@example.com".to_owned())
            ),
            (
                "G2".to_owned(),
                "ann@example.com".to_owned(),
                Some("ann@example.com".to_owned())
            )
        ]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_item_options_nest_inside_line_items_inside_orders() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    catalogue(&env).await;
    let options = json!([{"name": "Gift wrap", "market_code": "M1", "price_amount_cents": 300}]);
    run(&env, ImportSpec::json("sku_options", &options)).await;
    let orders = json!([
        {"number": "W1", "market_code": "M1", "line_items": [
            {"sku_code": "A", "quantity": 2, "line_item_options": [
                {"sku_option_name": "Gift wrap", "quantity": 2, "options": {"message": "Happy birthday"}}
            ]}
        ]},
        {"number": "W2", "market_code": "M1", "line_items": [
            {"sku_code": "A", "quantity": 1, "line_item_options": [
                {"sku_option_name": "Engraving", "quantity": 1}
            ]}
        ]}
    ]);
    let done = run(&env, ImportSpec::json("orders", &orders).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (1, 1),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        done.errors_log.0["W2"]["line_items[0].line_item_options[0].sku_option"],
        vec!["must exist".to_owned()]
    );
    let row = &env
        .query(
            "SELECT o.number, l.sku_code, x.quantity, x.options->>'message', s.name
             FROM line_item_options x JOIN line_items l ON l.id = x.line_item_id
             JOIN orders o ON o.id = l.order_id JOIN sku_options s ON s.id = x.sku_option_id",
        )
        .await;
    assert_eq!(row.len(), 1);
    assert_eq!(
        (
            row[0].get::<_, String>(0),
            row[0].get::<_, String>(1),
            row[0].get::<_, i64>(2),
            row[0].get::<_, String>(3),
            row[0].get::<_, String>(4)
        ),
        (
            "W1".to_owned(),
            "A".to_owned(),
            2,
            "Happy birthday".to_owned(),
            "Gift wrap".to_owned()
        )
    );
    assert_eq!(env.count("orders").await, 1, "W2 is not written at all");
    assert_eq!(env.count("line_items").await, 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_the_database_refuses_keeps_its_one_error_and_leaves_no_address() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    catalogue(&env).await;
    // A number too large for the unique index: the set-based write is refused, the order is
    // written alone and fails, after its inline address was written.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let huge: String = (0..4000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(state % 36) as usize])
        })
        .collect();
    let orders = json!([
        {"number": huge, "market_code": "M1", "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "1 Rue", "city": "Lille", "country_code": "FR"}},
        {"number": "OK1", "market_code": "M1", "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1", "line_1": "2 Rue", "city": "Lens", "country_code": "FR"}}
    ]);
    let done = run(&env, ImportSpec::json("orders", &orders).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (1, 1),
        "{:?}",
        done.errors_log
    );
    let (_, failed) = done
        .errors_log
        .0
        .iter()
        .find(|(key, _)| key.as_str() != "OK1")
        .unwrap();
    // (An index limit names no column: the error is the input's.)
    assert_eq!(
        failed.values().flatten().collect::<Vec<_>>(),
        ["is too long to be stored"],
        "one error, not also 'id: no longer exists': {failed:?}"
    );
    let cities: Vec<String> = env
        .query("SELECT city FROM addresses")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(cities, ["Lens"], "the refused order's address is not kept");
    worker.stop().await;
}
