//! Checking that a JSON value is one [`serde_json::Value`] would accept, without building it:
//! counting an import's JSON inputs at the create costs a walk over the bytes, not an
//! allocation per key and string (a third of the API's CPU per record did that).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A seed that reads one JSON value of any kind and keeps nothing of it. It fails exactly
/// where deserializing a `Value` fails (syntax, a number out of range, nesting past
/// serde_json's recursion limit), because it asks the parser for every value the same way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Checked)?.is_some() {
            map.next_value_seed(Checked)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `text` reads as one value, by this seed and by `Value`.
    fn both(text: &str) -> (bool, bool) {
        let mut de = serde_json::Deserializer::from_reader(text.as_bytes());
        let checked = Checked.deserialize(&mut de).and_then(|()| de.end()).is_ok();
        let value = serde_json::from_reader::<_, serde_json::Value>(text.as_bytes()).is_ok();
        (checked, value)
    }

    #[test]
    fn accepts_and_refuses_what_a_value_does() {
        let deep_ok = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let too_deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for text in [
            r#"{"a": [1, -2, 3.5e10, true, null, "x\u00e9\n"], "b": {"c": {}}}"#,
            "18446744073709551616",
            "-9223372036854775809",
            "1e308",
            "1e400",
            "-1e400",
            r#"{"a": 1, "a": 2}"#,
            r#"{"a" 1}"#,
            r#"{"a": 01}"#,
            r#"["\ud800"]"#,
            r#"["\uDD1E\u0041"]"#,
            "[1,]",
            "NaN",
            "\"\u{7f}\"",
            "\"tab\there\"",
            &deep_ok,
            &too_deep,
        ] {
            let (checked, value) = both(text);
            assert_eq!(checked, value, "{text:?}");
        }
    }
}
