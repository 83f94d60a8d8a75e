//! The list query of `GET /api/imports` (`imports_api::listing` and `imports_api::filters`):
//! the query string read as axum's `Query` reads it, checked, then written as SQL by
//! storage, with its pagination links. Never a panic; every parameter of a query accepted is
//! a bound parameter of its SQL.
//!
//! The input is the query string (what follows `?`).
#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use imports_api::listing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut target = b"/api/imports?".to_vec();
    target.extend_from_slice(data);
    let Ok(uri) = Uri::try_from(target) else {
        return; // No server hands such a request to the API.
    };
    let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&uri) else {
        return; // axum's rejection, a 400.
    };
    let Ok(q) = listing::parse(&pairs) else {
        return;
    };
    let (conditions, params) = q.query.conditions();
    // The placeholders are $3 on ($1 and $2 are the tenant's organization and mode), one for
    // each value bound.
    let mut placeholders = std::collections::BTreeSet::new();
    for condition in &conditions {
        for (at, _) in condition.match_indices('$') {
            let digits: String = condition[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            placeholders.insert(digits.parse::<usize>().expect("a $ is a placeholder"));
        }
    }
    let expected: std::collections::BTreeSet<usize> = (3..params.len() + 3).collect();
    assert_eq!(placeholders, expected, "{conditions:?}");
    let order = q.query.order_by();
    assert!(order.ends_with("id ASC"), "{order}");
    assert!(q.query.size >= 1 && q.query.size <= listing::MAX_PAGE_SIZE);
    assert!(q.query.page >= 1);
    for total in [0, 1, 1_000_000, i64::MAX / 2] {
        let pages = listing::page_count(total, q.query.size);
        let links = listing::page_links("http://x/api/imports", &q.link_pairs, q.query.page, pages);
        assert!(links["first"].is_string() && links["last"].is_string());
    }
});
