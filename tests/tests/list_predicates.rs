//! Every ransack predicate of `GET /api/imports`, through real HTTP against one API and one
//! database: a known set of imports (statuses, references with `%`, `_` and `\`, empty
//! strings and nulls, counts, timestamps, metadata, attachment URLs), then a table of
//! queries with the imports each must list, and a table of bad queries with the parameter
//! each 400 must name.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use imports_common::model::{Format, Mode, Tenant};
use imports_storage::imports::{create_import, NewImport};
use imports_tests::TestEnv;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// One import of the set, named by a label.
struct Row {
    label: &'static str,
    reference: Option<&'static str>,
    reference_origin: Option<&'static str>,
    status: &'static str,
    resource_type: &'static str,
    parent_resource_id: Option<&'static str>,
    /// errors, warnings, processed, inputs.
    counts: [i64; 4],
    skip_errors: bool,
    metadata: Value,
    /// created, started, completed, interrupted (2026-01-dd, hh:mm).
    times: [Option<&'static str>; 4],
}

fn rows() -> Vec<Row> {
    let row = |label, reference, reference_origin, status, resource_type| Row {
        label,
        reference,
        reference_origin,
        status,
        resource_type,
        parent_resource_id: None,
        counts: [0, 0, 0, 1],
        skip_errors: false,
        metadata: json!({}),
        times: [None; 4],
    };
    vec![
        Row {
            counts: [0, 2, 10, 10],
            metadata: json!({"batch": 1, "tags": ["a", "b"]}),
            times: [Some("01T00:00"), Some("01T00:01"), Some("01T00:02"), None],
            ..row("A", Some("alpha"), Some("erp"), "completed", "skus")
        },
        Row {
            parent_resource_id: Some("pl_1"),
            counts: [5, 0, 3, 8],
            skip_errors: true,
            metadata: json!({"batch": 2}),
            times: [Some("02T00:00"), Some("02T00:01"), None, Some("02T00:03")],
            ..row("B", Some("Beta-50%"), Some("crm"), "interrupted", "prices")
        },
        Row {
            times: [Some("03T00:00"), None, None, None],
            ..row("C", Some("gamma_1"), Some(""), "pending", "skus")
        },
        Row {
            parent_resource_id: Some(""),
            counts: [1, 1, 4, 20],
            skip_errors: true,
            metadata: json!({"batch": 1, "owner": "ops"}),
            times: [Some("04T00:00"), Some("04T00:01"), None, None],
            ..row("D", Some("delta\\x"), None, "in_progress", "customers")
        },
        Row {
            counts: [12, 0, 0, 12],
            metadata: json!({"owner": "ops"}),
            times: [Some("05T00:00"), Some("05T00:01"), Some("05T00:09"), None],
            ..row("E", Some(""), Some("erp"), "completed", "skus")
        },
        Row {
            parent_resource_id: Some("sl_9"),
            counts: [0, 0, 0, 2],
            times: [Some("06T00:00"), None, None, None],
            ..row("F", None, Some("ERP-2"), "pending", "stock_items")
        },
        Row {
            counts: [0, 0, 5, 5],
            metadata: json!({"batch": 3}),
            times: [Some("07T00:00"), Some("07T00:01"), Some("07T00:02"), None],
            ..row("G", Some("gammaX1"), Some("crm"), "completed", "skus")
        },
        Row {
            counts: [0, 0, 1, 1],
            times: [Some("08T00:00"), Some("08T00:01"), Some("08T00:02"), None],
            ..row("H", Some("50% off"), Some("web"), "completed", "prices")
        },
    ]
}

fn time(t: Option<&str>) -> Option<DateTime<Utc>> {
    t.map(|t| format!("2026-01-{t}:00Z").parse().unwrap())
}

/// Stores the rows for the env's tenant, and a copy of each for another tenant (never
/// listed); the tenant's ids by label.
async fn insert(env: &TestEnv) -> BTreeMap<String, &'static str> {
    let mut client = env.pool.get().await.unwrap();
    let mut ids = BTreeMap::new();
    let other = Tenant {
        organization_id: "org-other".into(),
        mode: Mode::Test,
    };
    for (r, tenant) in rows()
        .into_iter()
        .map(|r| (r, &env.tenant))
        .chain(rows().into_iter().map(|r| (r, &other)))
    {
        let tx = client.transaction().await.unwrap();
        let import = create_import(
            &*tx,
            &NewImport {
                tenant: tenant.clone(),
                resource_type: r.resource_type.into(),
                format: Format::Json,
                csv_delimiter: None,
                parent_resource_id: r.parent_resource_id.map(str::to_owned),
                inputs_size: r.counts[3],
                skip_errors: r.skip_errors,
                dry_run: false,
                reference: r.reference.map(str::to_owned),
                reference_origin: r.reference_origin.map(str::to_owned),
                metadata: r.metadata.clone(),
                trace_context: serde_json::json!({}),
            },
            b"[]",
        )
        .await
        .unwrap();
        let [created, started, completed, interrupted] = r.times.map(time);
        tx.execute(
            "UPDATE imports SET status = $2, errors_count = $3, warnings_count = $4,
                 processed_count = $5, created_at = $6, started_at = $7, completed_at = $8,
                 interrupted_at = $9
             WHERE id = $1",
            &[
                &import.id,
                &r.status,
                &r.counts[0],
                &r.counts[1],
                &r.counts[2],
                &created.unwrap(),
                &started,
                &completed,
                &interrupted,
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        if tenant == &env.tenant {
            ids.insert(import.id, r.label);
        }
    }
    // C is a CSV import with ';'; H a dry run.
    let by_label = |l: &str| ids.iter().find(|(_, v)| **v == l).unwrap().0.clone();
    client
        .execute(
            "UPDATE imports SET format = 'csv', csv_delimiter = ';' WHERE id = $1",
            &[&by_label("C")],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE imports SET dry_run = true WHERE id = $1",
            &[&by_label("H")],
        )
        .await
        .unwrap();
    ids
}

struct Lister {
    http: Client,
    base: String,
    token: String,
}

impl Lister {
    async fn get(&self, pairs: &[(String, String)]) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}/api/imports", self.base))
            .query(pairs)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let k = if k == "sort" || k.contains('[') {
                k.to_owned()
            } else {
                format!("filter[q][{k}]")
            };
            (k, v.to_owned())
        })
        .collect()
}

/// (query, the labels listed): each query's `k=v` pairs are `filter[q][k]=v` (split on `&`,
/// so values hold no `&`).
const LISTED: &[(&str, &str)] = &[
    ("status_eq=completed", "A E G H"),
    ("status_not_eq=completed", "B C D F"),
    ("resource_type_eq=skus", "A C E G"),
    ("resource_type_not_eq_all=skus,prices", "D F"),
    ("status_eq_any=pending,interrupted", "B C F"),
    ("status_in=pending,in_progress", "C D F"),
    ("status_not_in=pending, completed", "B D"),
    // As ransack: a null is never "not equal" (use _not_eq_or_null).
    ("reference_not_eq=alpha", "B C D E G H"),
    ("reference_not_eq_or_null=alpha", "B C D E F G H"),
    ("reference_eq_or_null=alpha", "A F"),
    ("reference_origin_eq=erp", "A E"),
    ("reference_in=alpha,gamma_1", "A C"),
    ("reference_not_in=alpha,gamma_1", "B D E G H"),
    ("format_eq=csv", "C"),
    ("csv_delimiter_eq=;", "C"),
    ("csv_delimiter_null=1", "A B D E F G H"),
    ("parent_resource_id_eq=pl_1", "B"),
    // Counts.
    ("errors_count_gt=0", "B D E"),
    ("errors_count_gteq=5", "B E"),
    ("errors_count_lt=1", "A C F G H"),
    ("errors_count_lteq=1", "A C D F G H"),
    ("errors_count_eq=12", "E"),
    ("errors_count_not_eq=0", "B D E"),
    ("errors_count_gt_any=4,11", "B E"),
    ("errors_count_gt_all=4,11", "E"),
    ("errors_count_lt_all=5,2", "A C D F G H"),
    ("errors_count_eq_any=1,5", "B D"),
    ("errors_count_not_eq_all=0,12", "B D"),
    ("inputs_size_in=1,2", "C F H"),
    ("processed_count_not_in=0", "A B D G H"),
    ("warnings_count_gteq_any=2,9", "A"),
    ("warnings_count_lteq_all=1,5", "B C D E F G H"),
    ("errors_count_present=1", "A B C D E F G H"),
    ("errors_count_or_warnings_count_gt=1", "A B E"),
    // Timestamps: RFC 3339, or a date (midnight UTC).
    ("created_at_gteq=2026-01-05T00:00:00Z", "E F G H"),
    ("created_at_lt=2026-01-02", "A"),
    ("created_at_gt=2026-01-07T00:00:00.000Z", "H"),
    ("created_at_eq=2026-01-03T00:00:00Z", "C"),
    ("created_at_lteq_any=2026-01-01,2026-01-02", "A B"),
    (
        "created_at_gt_all=2026-01-01,2026-01-06T12:00:00+02:00",
        "G H",
    ),
    ("created_at_in=2026-01-01,2026-01-08", "A H"),
    ("updated_at_gteq=2020-01-01", "A B C D E F G H"),
    ("started_at_null=true", "C F"),
    ("started_at_null=false", "A B D E G H"),
    ("started_at_not_null=1", "A B D E G H"),
    ("started_at_not_null=0", "C F"),
    ("completed_at_present=1", "A E G H"),
    ("completed_at_blank=1", "B C D F"),
    ("interrupted_at_not_null=t", "B"),
    ("interrupted_at_or_completed_at_not_null=1", "A B E G H"),
    ("started_at_and_completed_at_not_null=1", "A E G H"),
    // Booleans, as ransack: `_true=0` is "not true".
    ("skip_errors_true=1", "B D"),
    ("skip_errors_true=0", "A C E F G H"),
    ("skip_errors_false=true", "A C E F G H"),
    ("skip_errors_false=0", "B D"),
    ("skip_errors_not_true=1", "A C E F G H"),
    ("skip_errors_not_false=1", "B D"),
    ("skip_errors_eq=true", "B D"),
    ("skip_errors_not_eq=TRUE", "A C E F G H"),
    ("dry_run_true=1", "H"),
    // Text: ILIKE (ransack on Postgres); the value literal for _cont/_start/_end.
    ("reference_cont=ETA", "B"),
    ("reference_cont=a_1", "C"),
    ("reference_cont=%", "B H"),
    ("reference_cont=\\", "D"),
    ("reference_i_cont=BETA", "B"),
    ("reference_not_cont=a", "E H"),
    ("reference_not_i_cont=GAMMA", "A B D E H"),
    ("reference_start=50%", "H"),
    ("reference_start=GAMMA", "C G"),
    ("reference_not_start=gamma", "A B D E H"),
    ("reference_end=x", "D"),
    ("reference_end=\\x", "D"),
    ("reference_not_end=1", "A B D E H"),
    ("reference_cont_any=50,alp", "A B H"),
    ("reference_cont_all=gam,1", "C G"),
    ("reference_not_cont_all=gam,a", "E H"),
    ("reference_not_cont_any=gam,x", "A B C D E H"),
    ("reference_i_cont_any=ALP,OFF", "A H"),
    ("reference_i_cont_all=G,1", "C G"),
    ("reference_not_i_cont_any=gam,1", "A B D E H"),
    ("reference_start_any=al,be", "A B"),
    ("reference_start_all=g,ga", "C G"),
    ("reference_not_start_all=g,a", "B D E H"),
    ("reference_end_any=1,off", "C G H"),
    ("reference_end_all=1,x1", "G"),
    ("reference_not_end_all=1,f", "A B D E"),
    // _matches takes the user's pattern as it is.
    ("reference_matches=gamma_1", "C G"),
    ("reference_matches=%", "A B C D E G H"),
    ("reference_matches=%\\%%", "B H"),
    ("reference_does_not_match=%a%", "E H"),
    ("reference_matches_any=alp%,%off", "A H"),
    ("reference_matches_all=g%,%1", "C G"),
    ("reference_does_not_match_any=a%,b%", "A B C D E G H"),
    ("reference_does_not_match_all=a%,b%", "C D E G H"),
    // Presence: null or empty text.
    ("reference_present=1", "A B C D G H"),
    ("reference_present=0", "E F"),
    ("reference_blank=1", "E F"),
    ("reference_blank=false", "A B C D G H"),
    ("reference_origin_blank=1", "C D"),
    ("reference_origin_null=1", "D"),
    ("reference_origin_present=true", "A B E F G H"),
    ("parent_resource_id_present=1", "B F"),
    ("parent_resource_id_blank=1", "A C D E G H"),
    ("attachment_url_null=1", "C F"),
    ("attachment_url_present=1", "A B D E G H"),
    ("attachment_url_blank=0", "A B D E G H"),
    // Attributes joined by _or_ / _and_.
    ("reference_or_reference_origin_cont=erp", "A E F"),
    ("reference_or_reference_origin_cont=crm", "B G"),
    ("reference_or_reference_origin_start=ERP", "A E F"),
    ("reference_or_reference_origin_eq=web", "H"),
    ("reference_and_reference_origin_present=1", "A B G H"),
    ("status_or_resource_type_eq=prices", "B H"),
    // Metadata: JSON containment.
    ("metadata_jcont={\"batch\": 1}", "A D"),
    ("metadata_jcont={\"owner\":\"ops\"}", "D E"),
    ("metadata_jcont={\"tags\":[\"a\"]}", "A"),
    ("metadata_jcont={\"batch\":1,\"owner\":\"ops\"}", "D"),
    ("metadata_jcont={}", "A B C D E F G H"),
    // Filters AND together; an empty value is ignored, as ransack ignores it.
    ("status_eq=completed&errors_count_gt=0", "E"),
    ("reference_cont=a&skip_errors_true=1", "B D"),
    ("reference_eq=&status_eq=pending", "C F"),
    ("status_in=,", "A B C D E F G H"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_predicate_lists_what_it_should() {
    let env = TestEnv::new().await;
    let ids = insert(&env).await;
    let server = env.spawn_api(env.api_config()).await;
    let api = Lister {
        http: Client::new(),
        base: server.base_url.clone(),
        token: env.token(&env.tenant.organization_id, Mode::Test).await,
    };
    let mut failures = Vec::new();
    for (query, expected) in LISTED {
        let mut q = pairs(query);
        q.push(("page[size]".into(), "25".into()));
        let (status, doc) = api.get(&q).await;
        if status != StatusCode::OK {
            failures.push(format!("{query}: {status} {doc}"));
            continue;
        }
        let listed: BTreeSet<&str> = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                ids.get(d["id"].as_str().unwrap())
                    .copied()
                    .unwrap_or("another tenant's")
            })
            .collect();
        let expected: BTreeSet<&str> = expected.split(' ').collect();
        if listed != expected || doc["meta"]["record_count"] != expected.len() {
            failures.push(format!("{query}: listed {listed:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Sorting by the attributes this adds: attachment_url (null while pending: last).
    let labels = |doc: &Value| -> Vec<&str> {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| ids[d["id"].as_str().unwrap()])
            .collect()
    };
    let (_, doc) = api.get(&pairs("sort=attachment_url&page[size]=25")).await;
    let sorted = labels(&doc);
    assert_eq!(sorted.len(), 8);
    let last: BTreeSet<&str> = sorted[6..].iter().copied().collect();
    assert_eq!(last, BTreeSet::from(["C", "F"]), "{sorted:?}");
    let (_, doc) = api
        .get(&pairs("sort=-errors_count,created_at&page[size]=4"))
        .await;
    assert_eq!(labels(&doc), ["E", "B", "D", "A"]);
    let (_, doc) = api.get(&pairs("sort=-created_at&page[size]=2")).await;
    assert_eq!(labels(&doc), ["H", "G"]);
    let (_, doc) = api
        .get(&pairs("sort=-completed_at,reference_origin&page[size]=2"))
        .await;
    assert_eq!(labels(&doc), ["H", "G"]);

    // Bad queries: each a 400 naming its parameter.
    let long = "x".repeat(2001);
    let many = vec!["pending"; 101].join(",");
    let a_id = ids.iter().find(|(_, l)| **l == "A").unwrap().0.clone();
    let many_ids = vec![a_id.as_str(); 101].join(",");
    let bad: Vec<(Vec<(String, String)>, &str)> = vec![
        (pairs("errors_count_gt=many"), "errors_count_gt"),
        (pairs("created_at_gteq=yesterday"), "created_at_gteq"),
        (pairs("errors_count_in=1,two"), "errors_count_in"),
        (pairs("skip_errors_true=maybe"), "skip_errors_true"),
        (pairs("started_at_null=yes"), "started_at_null"),
        (pairs("reference_present=2"), "reference_present"),
        (pairs("errors_count_cont=1"), "errors_count_cont"),
        (pairs("created_at_start=2026"), "created_at_start"),
        (pairs("status_true=1"), "status_true"),
        (pairs("status_lt=a"), "status_lt"),
        (pairs("metadata_eq={}"), "metadata_eq"),
        (pairs("metadata_null=1"), "metadata_null"),
        (pairs("metadata_jcont=[1]"), "metadata_jcont"),
        (pairs("metadata_jcont=not json"), "metadata_jcont"),
        (pairs("reference_jcont={}"), "reference_jcont"),
        (pairs("attachment_url_cont=http"), "attachment_url_cont"),
        (pairs("status_like=x"), "status_like"),
        (pairs("secret_eq=x"), "secret_eq"),
        (pairs("errors_log_eq=x"), "errors_log_eq"),
        (pairs("status_in_any=x"), "status_in_any"),
        (
            pairs("reference_or_errors_count_eq=1"),
            "reference_or_errors_count_eq",
        ),
        (
            pairs("reference_or_secret_cont=1"),
            "reference_or_secret_cont",
        ),
        (pairs("reference_matches=abc\\"), "reference_matches"),
        (pairs(&format!("reference_eq={long}")), "reference_eq"),
        (pairs(&format!("status_in={many}")), "status_in"),
        (pairs("reference_eq=a\0"), "reference_eq"),
        (pairs(&format!("filter[ids]={many_ids}")), "filter[ids]"),
        (pairs("sort=metadata"), "sort"),
    ];
    let mut too_many = pairs(&vec!["errors_count_gteq=0"; 20].join("&"));
    too_many.extend(pairs("warnings_count_gteq=0"));
    let mut bad = bad;
    bad.push((too_many, "warnings_count_gteq"));
    for (query, parameter) in &bad {
        let parameter = if parameter.starts_with("filter[") || *parameter == "sort" {
            parameter.to_string()
        } else {
            format!("filter[q][{parameter}]")
        };
        let (status, doc) = api.get(query).await;
        let named = doc["errors"][0]["source"]["parameter"].as_str();
        if (status, named) != (StatusCode::BAD_REQUEST, Some(parameter.as_str())) {
            failures.push(format!("{query:?}: {status} {doc}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // At the limits: accepted.
    let at_limit = pairs(&vec!["errors_count_gteq=0"; 20].join("&"));
    assert_eq!(api.get(&at_limit).await.0, StatusCode::OK);
    let x2000 = pairs(&format!("reference_eq={}", "x".repeat(2000)));
    assert_eq!(api.get(&x2000).await.0, StatusCode::OK);
    server.stop().await;
}
