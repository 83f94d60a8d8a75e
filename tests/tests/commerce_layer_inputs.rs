//! Inputs written for Commerce Layer import here with the same meaning (issue 14): for each
//! of the 22 types it imports, an input holding only what its schema requires at create,
//! naming relationships as it does (`<relationship>_id`); every difference listed in
//! `../shared/CL-FIDELITY.md`; and inputs Commerce Layer refuses, refused naming the attribute.

use std::time::Duration;

use imports_common::model::{Import, Status};
use imports_tests::{ImportSpec, TestEnv};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);

async fn run(env: &TestEnv, spec: ImportSpec<'_>) -> Import {
    let import = env.submit(spec).await;
    env.wait_final(&import.id, T).await
}

/// Imports `input` alone as `rt`; it must create one record, whose id is returned (read by
/// `reference`, which every input here is given so that it can be found).
async fn create(env: &TestEnv, rt: &str, mut input: Value) -> String {
    let reference = format!("cl-{rt}-{}", env.count(rt).await);
    input["reference"] = json!(reference);
    let done = run(env, ImportSpec::json(rt, &json!([input]))).await;
    assert_eq!(
        (done.status, done.created_count, done.errors_count),
        (Status::Completed, 1, 0),
        "{rt}: {:?} {:?}",
        done.errors_log,
        done.warnings_log
    );
    one(
        env,
        &format!("SELECT id FROM {rt} WHERE reference = '{reference}'"),
    )
    .await
}

/// A price list in euros and a market selling from it, as Commerce Layer's minimal inputs
/// give them: their ids.
async fn market(env: &TestEnv) -> (String, String) {
    let list = create(
        env,
        "price_lists",
        json!({"name": "Europe", "currency_code": "EUR"}),
    )
    .await;
    let market = create(
        env,
        "markets",
        json!({"name": "Europe", "price_list_id": list}),
    )
    .await;
    (list, market)
}

/// The one text value `sql` selects.
async fn one(env: &TestEnv, sql: &str) -> String {
    let rows = env.query(sql).await;
    assert_eq!(rows.len(), 1, "{sql}");
    rows[0].get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commerce_layer_s_minimal_input_of_each_of_its_22_types_imports() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));

    let category = create(&env, "shipping_categories", json!({"name": "Standard"})).await;
    let address = create(
        &env,
        "addresses",
        json!({"first_name": "Ann", "last_name": "Lee", "line_1": "1 Via Roma", "city": "Rome",
               "country_code": "IT", "phone": "+39 06 1234"}),
    )
    .await;
    create(&env, "tags", json!({"name": "summer_2026"})).await;
    let sku = create(
        &env,
        "skus",
        json!({"code": "TSHIRT-M", "name": "T-shirt", "shipping_category_id": category}),
    )
    .await;
    let (list, market) = market(&env).await;
    let price = create(
        &env,
        "prices",
        json!({"amount_cents": 1000, "price_list_id": list, "sku_id": sku}),
    )
    .await;
    create(
        &env,
        "price_tiers",
        json!({"type": "PriceVolumeTier", "name": "ten or more", "price_amount_cents": 900,
               "price_id": price}),
    )
    .await;
    let warehouse = create(
        &env,
        "stock_locations",
        json!({"name": "Warehouse", "address_id": address}),
    )
    .await;
    let shop = create(
        &env,
        "stock_locations",
        json!({"name": "Shop", "address_id": address}),
    )
    .await;
    create(
        &env,
        "stock_items",
        json!({"quantity": 10, "stock_location_id": warehouse}),
    )
    .await;
    let transfer = create(
        &env,
        "stock_transfers",
        json!({"quantity": 2, "sku_id": sku, "origin_stock_location_id": warehouse,
               "destination_stock_location_id": shop}),
    )
    .await;
    let sku_list = create(&env, "sku_lists", json!({"name": "Summer Sale"})).await;
    create(
        &env,
        "sku_list_items",
        json!({"sku_list_id": sku_list, "sku_id": sku}),
    )
    .await;
    create(
        &env,
        "bundles",
        json!({"code": "BUNDLE-1", "name": "Summer bundle", "sku_list_id": sku_list,
               "market_id": market, "price_amount_cents": 2500}),
    )
    .await;
    let option = create(
        &env,
        "sku_options",
        json!({"name": "Engraving", "market_id": market}),
    )
    .await;
    let customer = create(&env, "customers", json!({"email": "ann@example.com"})).await;
    create(
        &env,
        "customer_addresses",
        json!({"customer_email": "ann@example.com", "customer_id": customer,
               "address_id": address}),
    )
    .await;
    create(
        &env,
        "customer_payment_sources",
        json!({"customer_id": customer}),
    )
    .await;
    create(
        &env,
        "customer_subscriptions",
        json!({"customer_email": "ann@example.com"}),
    )
    .await;
    let gift_card = create(
        &env,
        "gift_cards",
        json!({"balance_cents": 5000, "currency_code": "EUR"}),
    )
    .await;
    // Types the imported ones refer to, as minimal: a customer group needs only a name; a
    // gift card of a market, no currency (the market's is taken).
    create(&env, "customer_groups", json!({"name": "VIP"})).await;
    let market_card = create(
        &env,
        "gift_cards",
        json!({"balance_cents": 100, "market_id": market}),
    )
    .await;
    let currency = one(
        &env,
        &format!("SELECT currency_code FROM gift_cards WHERE id = '{market_card}'"),
    )
    .await;
    assert_eq!(currency, "EUR");
    let promotion = create(
        &env,
        "promotions",
        json!({"name": "Spring", "type": "percentage_discount", "percentage": 10,
               "starts_at": "2026-03-01T00:00:00Z", "expires_at": "2026-06-01T00:00:00Z",
               "market_id": market}),
    )
    .await;
    let rule = create(
        &env,
        "coupon_codes_promotion_rules",
        json!({"promotion_id": promotion}),
    )
    .await;
    create(
        &env,
        "coupons",
        json!({"code": "SPRING2026", "promotion_rule_id": rule}),
    )
    .await;
    let calculator = create(
        &env,
        "tax_calculators",
        json!({"name": "Manual", "type": "manual"}),
    )
    .await;
    create(
        &env,
        "tax_categories",
        json!({"code": "31000", "sku_id": sku, "tax_calculator_id": calculator}),
    )
    .await;
    let order = create(&env, "orders", json!({"market_id": market})).await;
    let item = create(
        &env,
        "line_items",
        json!({"quantity": 1, "order_id": order, "item_type": "skus", "item_id": sku}),
    )
    .await;
    create(
        &env,
        "line_item_options",
        json!({"quantity": 1, "options": {"text": "For Ann"}, "line_item_id": item,
               "sku_option_id": option}),
    )
    .await;

    // What Commerce Layer generates, generated; its defaults, defaulted.
    let code = one(
        &env,
        &format!("SELECT code FROM gift_cards WHERE id = '{gift_card}'"),
    )
    .await;
    assert_eq!((code.len(), code.matches('-').count()), (36, 4), "{code}");
    let number = one(
        &env,
        &format!("SELECT number FROM orders WHERE id = '{order}'"),
    )
    .await;
    assert!(number.parse::<u64>().unwrap() >= 10_000_000, "{number}");
    let number = one(
        &env,
        &format!("SELECT number FROM stock_transfers WHERE id = '{transfer}'"),
    )
    .await;
    assert!(number.parse::<u64>().is_ok(), "{number}");
    let slug = one(
        &env,
        &format!("SELECT slug FROM sku_lists WHERE id = '{sku_list}'"),
    )
    .await;
    assert_eq!(slug, "summer-sale");
    let defaults = one(
        &env,
        &format!(
            "SELECT concat_ws(',', l.tax_included, s.manual, g.rechargeable, t.type)
             FROM price_lists l, sku_lists s, gift_cards g, price_tiers t
             WHERE l.id = '{list}' AND s.id = '{sku_list}' AND g.id = '{gift_card}'"
        ),
    )
    .await;
    assert_eq!(defaults, "t,t,t,PriceVolumeTier");
    // The item named by item_type + item_id is the line item's SKU.
    let linked = one(
        &env,
        &format!("SELECT concat_ws(',', sku_id = '{sku}', item_type) FROM line_items WHERE id = '{item}'"),
    )
    .await;
    assert_eq!(linked, "t,skus");
    let rule_of = one(&env, "SELECT promotion_rule_id FROM coupons").await;
    assert_eq!(rule_of, rule);
    worker.stop().await;
}

/// Imports `inputs` of `rt` (skipping errors) and returns each input's errors, by log key.
async fn errors_of(env: &TestEnv, rt: &str, inputs: Value) -> Value {
    let done = run(env, ImportSpec::json(rt, &inputs).skip_errors()).await;
    serde_json::to_value(&done.errors_log).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_commerce_layer_refuses_is_refused_naming_the_attribute() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let list = create(
        &env,
        "price_lists",
        json!({"name": "EU", "currency_code": "EUR"}),
    )
    .await;
    let sku = create(
        &env,
        "skus",
        json!({"code": "S1", "name": "n", "do_not_ship": true}),
    )
    .await;
    let price = create(
        &env,
        "prices",
        json!({"amount_cents": 1, "price_list_id": list, "sku_id": sku}),
    )
    .await;

    let blank_unless = |why: &str| json!([format!("can't be blank {why}")]);
    let blank = json!(["can't be blank"]);
    let e = errors_of(&env, "skus", json!([{"code": "S2", "name": "shippable"}])).await;
    assert_eq!(
        e["S2"]["shipping_category"],
        blank_unless("unless do_not_ship is true")
    );
    let calculator = create(
        &env,
        "tax_calculators",
        json!({"name": "M", "type": "manual"}),
    )
    .await;
    let e = errors_of(
        &env,
        "tax_categories",
        json!([{"code": "T1", "tax_calculator_id": calculator}]),
    )
    .await;
    assert_eq!(e["T1"]["sku"], blank, "{e}");
    let e = errors_of(&env, "orders", json!([{"number": "O1"}])).await;
    assert_eq!(e["O1"]["market"], blank);
    let e = errors_of(
        &env,
        "stock_locations",
        json!([{"code": "W1", "name": "w"}]),
    )
    .await;
    assert_eq!(e["W1"]["address"], blank);
    let e = errors_of(
        &env,
        "addresses",
        json!([
            {"reference": "A1", "line_1": "l", "city": "c", "country_code": "IT"},
            {"reference": "A2", "business": true, "line_1": "l", "city": "c", "country_code": "IT", "phone": "1"}
        ]),
    )
    .await;
    assert_eq!(e["A1"]["phone"], blank);
    assert_eq!(
        e["A1"]["first_name"],
        blank_unless("unless business is true")
    );
    assert_eq!(
        e["A1"]["last_name"],
        blank_unless("unless business is true")
    );
    assert_eq!(e["A2"]["company"], blank_unless("when business is true"));
    assert!(e["A2"].get("first_name").is_none(), "{e}");
    let e = errors_of(
        &env,
        "price_tiers",
        json!([{"up_to": 10, "price_amount_cents": 1, "price_id": price, "reference": "nameless"},
               {"name": "old", "type": "volume", "price_amount_cents": 1, "price_id": price}]),
    )
    .await;
    assert_eq!(e["unknown"]["name"], blank, "{e}");
    assert!(
        e["old"]["type"][0]
            .as_str()
            .unwrap()
            .contains("PriceVolumeTier"),
        "{e}"
    );
    let e = errors_of(
        &env,
        "coupons",
        json!([{"code": "SHORT", "promotion_rule_id": "x"}, {"code": "X".repeat(41), "promotion_rule_id": "x"}]),
    )
    .await;
    assert_eq!(
        e["SHORT"]["code"],
        json!(["is 5 characters long: must be 8 to 40"])
    );
    assert_eq!(
        e["X".repeat(41)]["code"],
        json!(["is 41 characters long: must be 8 to 40"])
    );
    let e = errors_of(
        &env,
        "tags",
        json!([{"name": "two words"}, {"name": "t".repeat(26)}]),
    )
    .await;
    assert!(
        e["two words"]["name"][0]
            .as_str()
            .unwrap()
            .contains("' ' is not allowed"),
        "{e}"
    );
    assert!(e["t".repeat(26)]["name"].is_array(), "{e}");
    let e = errors_of(
        &env,
        "bundles",
        json!([{"code": "B1", "name": "b", "sku_list_id": "x"}]),
    )
    .await;
    assert_eq!(e["B1"]["sku_list"], json!(["must exist"]), "{e}");
    assert_eq!(
        e["B1"]["currency_code"],
        blank_unless("unless market is given")
    );
    assert_eq!(
        e["B1"]["price_amount_cents"],
        blank_unless("unless _compute_price_amount is true")
    );
    let e = errors_of(
        &env,
        "gift_cards",
        json!([{"balance_cents": 1, "reference": "g"}]),
    )
    .await;
    assert_eq!(
        e["unknown"]["currency_code"],
        blank_unless("unless market is given"),
        "{e}"
    );
    let e = errors_of(
        &env,
        "promotions",
        json!([{"name": "P1", "type": "percentage_discount", "starts_at": "2026-01-01"}]),
    )
    .await;
    assert_eq!(e["unknown"]["expires_at"], blank, "{e}");
    assert_eq!(
        e["unknown"]["percentage"],
        blank_unless("when type is percentage_discount")
    );
    let e = errors_of(
        &env,
        "line_item_options",
        json!([{"quantity": 1, "line_item_id": "x", "sku_option_name": "OPT"}]),
    )
    .await;
    assert_eq!(e["OPT"]["options"], blank, "{e}");
    let e = errors_of(
        &env,
        "line_items",
        json!([{"quantity": 1, "item_id": sku, "item_type": null, "order_id": "x", "sku_code": "L1"}]),
    )
    .await;
    assert_eq!(e["L1"]["order"], json!(["must exist"]), "{e}");
    assert_eq!(
        e["L1"]["item_type"],
        json!(["can't be blank when item_id is given"])
    );

    // At most 10 tiers per price: inline, and added to those it has.
    let tiers: Vec<Value> = (0..11)
        .map(|i| json!({"name": format!("t{i}"), "up_to": i + 1, "price_amount_cents": 1}))
        .collect();
    let e = errors_of(
        &env,
        "prices",
        json!([{"sku_code": "S1", "price_list_id": list, "amount_cents": 2, "price_tiers": tiers}]),
    )
    .await;
    assert_eq!(
        e["S1"]["price_tiers"],
        json!(["has 11 items; at most 10 are allowed"])
    );
    let direct: Vec<Value> = (0..11)
        .map(|i| json!({"name": format!("d{i}"), "price_amount_cents": 1, "price_id": price}))
        .collect();
    let e = errors_of(&env, "price_tiers", Value::Array(direct)).await;
    assert_eq!(
        e["d10"]["price"],
        json!(["has 10 price_tiers already: at most 10 are allowed"]),
        "{e}"
    );
    assert_eq!(env.count("price_tiers").await, 10);
    // An update of a tier the price has is not an eleventh.
    let e = errors_of(
        &env,
        "price_tiers",
        json!([{"name": "d3", "price_amount_cents": 7, "price_id": price}]),
    )
    .await;
    assert_eq!(e, json!({}));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_keys_match_by_id_then_key_else_create_and_generated_keys_never_collide() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));

    // No code: each input is a new record; a code matches; an id matches.
    let twice = json!([{"name": "Standard"}, {"name": "Standard"}]);
    run(&env, ImportSpec::json("shipping_categories", &twice)).await;
    assert_eq!(env.count("shipping_categories").await, 2);
    let coded = json!([{"code": "STD", "name": "Standard"}]);
    run(&env, ImportSpec::json("shipping_categories", &coded)).await;
    let done = run(
        &env,
        ImportSpec::json(
            "shipping_categories",
            &json!([{"code": "STD", "name": "Std"}]),
        ),
    )
    .await;
    assert_eq!((done.created_count, done.updated_count), (0, 1));
    let id = one(
        &env,
        "SELECT id FROM shipping_categories WHERE code = 'STD'",
    )
    .await;
    let done = run(
        &env,
        ImportSpec::json("shipping_categories", &json!([{"id": id, "name": "By id"}])),
    )
    .await;
    assert_eq!((done.created_count, done.updated_count), (0, 1));
    assert_eq!(env.count("shipping_categories").await, 3);

    // Slugs made from names: a taken one is drawn again, in the batch and across imports.
    let lists = json!([{"name": "Summer"}, {"name": "Summer"}]);
    run(&env, ImportSpec::json("sku_lists", &lists)).await;
    run(
        &env,
        ImportSpec::json("sku_lists", &json!([{"name": "Summer", "slug": "given"}])),
    )
    .await;
    run(
        &env,
        ImportSpec::json("sku_lists", &json!([{"name": "Summer"}])),
    )
    .await;
    let slugs: Vec<String> = env
        .query("SELECT slug FROM sku_lists ORDER BY created_at, slug")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(slugs.len(), 4);
    assert_eq!(
        slugs.iter().filter(|s| *s == "summer").count(),
        1,
        "{slugs:?}"
    );
    assert!(slugs.contains(&"given".to_owned()));
    assert!(
        slugs
            .iter()
            .all(|s| s.starts_with("summer") || s == "given"),
        "{slugs:?}"
    );

    // An order number a user gave is never generated again over it: generated numbers that
    // are taken are drawn again, so an unnumbered order always creates.
    let next: i64 = env
        .query("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM generated_numbers")
        .await[0]
        .get(0);
    let (_, market) = market(&env).await;
    let taken: Vec<Value> = (0..5)
        .map(|k| json!({"number": (next + k).to_string(), "market_id": market}))
        .collect();
    run(&env, ImportSpec::json("orders", &Value::Array(taken))).await;
    let new: Vec<Value> = (0..5).map(|_| json!({"market_id": market})).collect();
    let done = run(&env, ImportSpec::json("orders", &Value::Array(new))).await;
    assert_eq!(done.created_count, 5, "{:?}", done.errors_log);
    assert_eq!(env.count("orders").await, 10);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commerce_layer_s_names_and_attributes_are_read_as_it_means_them() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let customer = create(
        &env,
        "customers",
        json!({"email": "bo@example.com", "shopper_reference": "S-1", "profile_id": "P-1",
               "tax_exemption_code": "E"}),
    )
    .await;
    let stored = one(
        &env,
        &format!("SELECT concat_ws(',', shopper_reference, profile_id, tax_exemption_code) FROM customers WHERE id = '{customer}'"),
    )
    .await;
    assert_eq!(stored, "S-1,P-1,E");
    // payment_method_id is an attribute of its own; the token is optional.
    let source = create(
        &env,
        "customer_payment_sources",
        json!({"customer_id": customer, "payment_method_id": "pm_1"}),
    )
    .await;
    let stored = one(
        &env,
        &format!("SELECT payment_method_id FROM customer_payment_sources WHERE id = '{source}'"),
    )
    .await;
    assert_eq!(stored, "pm_1");
    // Addresses: business, lat, lng, billing_info stored.
    let address = create(
        &env,
        "addresses",
        json!({"business": true, "company": "Acme", "line_1": "1 Rd", "city": "Rome",
               "country_code": "IT", "phone": "1", "lat": 41.9, "lng": 12.5,
               "billing_info": "VAT IT123"}),
    )
    .await;
    let stored = one(
        &env,
        &format!("SELECT concat_ws(',', business, lat, lng, billing_info) FROM addresses WHERE id = '{address}'"),
    )
    .await;
    assert_eq!(stored, "t,41.9,12.5,VAT IT123");
    // A password is not stored here: ignored, with a warning.
    let done = run(
        &env,
        ImportSpec::json(
            "customers",
            &json!([{"email": "cy@example.com", "password": "secret"}]),
        ),
    )
    .await;
    assert_eq!(
        done.warnings_log.0["cy@example.com"],
        vec!["password was ignored: unknown attribute".to_owned()]
    );
    // A bundle whose price Commerce Layer computes is accepted without one; its market gives
    // its currency.
    let (list, market) = market(&env).await;
    let sku_list = create(&env, "sku_lists", json!({"name": "L"})).await;
    for (code, cents, quantity) in [("K1", 300, 2), ("K2", 150, 1)] {
        let sku = create(
            &env,
            "skus",
            json!({"code": code, "name": code, "do_not_ship": true}),
        )
        .await;
        create(
            &env,
            "prices",
            json!({"sku_id": sku, "price_list_id": list, "amount_cents": cents}),
        )
        .await;
        create(
            &env,
            "sku_list_items",
            json!({"sku_list_id": sku_list, "sku_id": sku, "quantity": quantity}),
        )
        .await;
    }
    let bundle = create(
        &env,
        "bundles",
        json!({"code": "B1", "name": "b", "sku_list_id": sku_list, "market_id": market,
               "_compute_price_amount": true}),
    )
    .await;
    let stored = one(
        &env,
        &format!("SELECT concat_ws(',', price_amount_cents, currency_code) FROM bundles WHERE id = '{bundle}'"),
    )
    .await;
    assert_eq!(
        stored, "750,EUR",
        "computed from the list's prices, in the market's currency"
    );
    // A line item's bundle by item_type + item_id; a bundle_code sets item_type.
    let order = create(&env, "orders", json!({"market_id": market})).await;
    let by_id = create(
        &env,
        "line_items",
        json!({"quantity": 1, "order_id": order, "item_type": "bundles", "item_id": bundle}),
    )
    .await;
    let by_code = create(
        &env,
        "line_items",
        json!({"quantity": 1, "order_id": order, "bundle_code": "B1"}),
    )
    .await;
    let stored = one(
        &env,
        &format!("SELECT string_agg(concat_ws(',', bundle_id = '{bundle}', item_type), ';' ORDER BY id) FROM line_items WHERE id IN ('{by_id}', '{by_code}')"),
    )
    .await;
    assert_eq!(stored, "t,bundles;t,bundles");
    // An item of a type not imported here keeps its id as given.
    let other = create(
        &env,
        "line_items",
        json!({"quantity": 1, "order_id": order, "item_type": "shipments", "item_id": "shp_1"}),
    )
    .await;
    let stored = one(
        &env,
        &format!("SELECT concat_ws(',', item_id, item_type) FROM line_items WHERE id = '{other}'"),
    )
    .await;
    assert_eq!(stored, "shp_1,shipments");
    worker.stop().await;
}
