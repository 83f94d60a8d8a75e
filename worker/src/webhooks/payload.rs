//! A delivery's body: the import as the API shows it (`{"data": ...}`, with `included`
//! when the webhook asks for `include_resources`), from its attributes at the event; its
//! `attachment_url` signed when the body is made, as a retrieve would sign it then.

use imports_common::events::{include_read, Event};
use imports_common::jsonapi::import_resource_object;
use imports_runtime::config::WebhookSettings;
use imports_storage::deliveries::Claimed;
use serde_json::{json, Value};

/// The body of `delivery`, with `events` (the import's, when the webhook includes them).
pub fn render(
    settings: &WebhookSettings,
    delivery: &Claimed,
    events: Option<Vec<Event>>,
) -> String {
    let mut attributes = delivery.resource.clone();
    let started = attributes["status"]
        .as_str()
        .is_some_and(|s| s != "pending");
    if let (true, Some(secret), Value::Object(map)) =
        (started, &settings.signing_secret, &mut attributes)
    {
        let url = imports_runtime::attachment_urls::signed_url(
            &settings.public_url,
            secret,
            &delivery.import_id,
        );
        map.insert("attachment_url".into(), json!(url));
    }
    let mut data = import_resource_object(
        &delivery.import_id,
        attributes,
        delivery.mode,
        &settings.public_url,
    );
    let included = events.map(|events| include_read(std::slice::from_mut(&mut data), events, None));
    let mut document = json!({"data": data});
    if let Some(included) = included {
        document["included"] = Value::Array(included);
    }
    document.to_string()
}

/// The signature of `body` with `secret`, as the `X-CommerceLayer-Signature` header carries
/// it: base64 of its HMAC-SHA256.
pub fn signature(secret: &str, body: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_base64_of_the_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }
}
