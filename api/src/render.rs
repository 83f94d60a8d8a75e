//! An import as the API shows it: its inputs echoed while pending (whole on a retrieve, the
//! first few on a list page), its attachment URL once started, only the `fields[imports]`
//! asked for; and the document of one import.

use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_common::jsonapi::ImportResource;
use imports_common::model::{Format, Import, Status};
use imports_storage::list_page::{InputsHead, ListedImport};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;

use crate::errors::ApiError;
use crate::{attachments, AppState};

/// Inputs larger than this are not echoed back in `inputs` while pending (it stays null).
pub const ECHO_INPUTS_MAX_BYTES: usize = 4 * 1024 * 1024;

/// On a list page, a pending import shows at most this many of its inputs (a page of 25
/// imports of 10,000 inputs each was 33.6 MB); its retrieve shows them all.
pub const LIST_INPUTS_MAX: usize = 10;

/// On a list page, a pending import's `inputs` are read from at most this many of the first
/// bytes of its inputs: only the inputs that fit whole in them are shown.
pub const LIST_INPUTS_MAX_BYTES: i32 = 16 * 1024;

/// Whether `fields[imports]` (all when `None`) asks for `name`.
pub(crate) fn wants(fields: Option<&[String]>, name: &str) -> bool {
    fields.map(|f| f.iter().any(|x| x == name)).unwrap_or(true)
}

/// A document of one resource: `data`, and `included` when asked for.
#[derive(serde::Serialize)]
pub(crate) struct Single<T> {
    pub data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included: Option<Vec<Value>>,
}

/// The resource of `import` as shown to this API's clients.
pub(crate) fn resource<'a>(
    state: &'a AppState,
    import: &'a Import,
    fields: Option<&'a [String]>,
) -> ImportResource<'a> {
    ImportResource::new(import, &state.config.public_url).fields(fields)
}

/// An import as a retrieve shows it: with its whole `inputs` (up to
/// [`ECHO_INPUTS_MAX_BYTES`]) while pending and asked for, `attachment_url` after.
pub(crate) async fn shown<C: imports_storage::client::Db>(
    state: &AppState,
    client: &C,
    mut import: Import,
    fields: Option<&[String]>,
) -> Result<Import, ApiError> {
    if import.status == Status::Pending && wants(fields, "inputs") {
        let mut raw = Vec::new();
        let mut seq = 0;
        while let Some(chunk) =
            imports_storage::inputs::input_chunk(client, &import.id, seq).await?
        {
            raw.extend_from_slice(&chunk);
            seq += 1;
            if raw.len() > ECHO_INPUTS_MAX_BYTES {
                break;
            }
        }
        if raw.len() > ECHO_INPUTS_MAX_BYTES {
            // Echoing a large import back would cost many times its size in memory;
            // its owner has the inputs, and attachment_url serves them once it starts.
            raw.clear();
        }
        import.inputs = Some(whole_inputs(import.format, &raw));
    }
    Ok(with_attachment(state, import, fields))
}

/// An import just created, its inputs echoed from the bytes the create stored (`None` when
/// they were over [`ECHO_INPUTS_MAX_BYTES`]), without reading them back.
pub(crate) fn shown_created(state: &AppState, mut import: Import, raw: Option<&[u8]>) -> Import {
    import.inputs = Some(raw.map_or(Value::Null, |raw| whole_inputs(import.format, raw)));
    with_attachment(state, import, None)
}

/// An import of a list page: as [`shown`], but with at most [`LIST_INPUTS_MAX`] inputs while
/// pending, read from the head of its inputs that the page's statement fetched.
pub(crate) fn shown_listed(
    state: &AppState,
    listed: ListedImport,
    fields: Option<&[String]>,
) -> Import {
    let mut import = listed.import;
    if import.status == Status::Pending && wants(fields, "inputs") {
        let delimiter = import.csv_delimiter.unwrap_or(DEFAULT_CSV_DELIMITER);
        import.inputs = Some(match &listed.inputs_head {
            None => Value::Null,
            Some(head) => head_inputs(import.format, delimiter, head),
        });
    }
    with_attachment(state, import, fields)
}

/// Signs `attachment_url` once the import has started, when it is shown.
fn with_attachment(state: &AppState, mut import: Import, fields: Option<&[String]>) -> Import {
    if import.status != Status::Pending && wants(fields, "attachment_url") {
        import.attachment_url = Some(attachments::signed_url(state, &import.id));
    }
    import
}

/// The inputs as given: the JSON array, or the CSV text; null when there are none.
fn whole_inputs(format: Format, raw: &[u8]) -> Value {
    match format {
        _ if raw.is_empty() => Value::Null,
        Format::Json => serde_json::from_slice(raw).unwrap_or(Value::Null),
        Format::Csv => Value::String(String::from_utf8_lossy(raw).into_owned()),
    }
}

/// The first [`LIST_INPUTS_MAX`] inputs that fit whole in `head`: the inputs as a retrieve
/// shows them when they are all there; null when not even one fits.
fn head_inputs(format: Format, delimiter: u8, head: &InputsHead) -> Value {
    match format {
        Format::Json if head.whole => match whole_inputs(format, &head.bytes) {
            Value::Array(mut inputs) => {
                inputs.truncate(LIST_INPUTS_MAX);
                Value::Array(inputs)
            }
            other => other,
        },
        Format::Json => {
            let mut inputs = Vec::new();
            let mut de = serde_json::Deserializer::from_slice(&head.bytes);
            // The head ends inside an input (or after the ones kept): that error is expected,
            // and the inputs read before it are kept.
            let _ = FirstElements(&mut inputs).deserialize(&mut de);
            match inputs.is_empty() {
                true => Value::Null,
                false => Value::Array(inputs),
            }
        }
        Format::Csv => match csv_head(&head.bytes, delimiter, head.whole) {
            Some(text) => whole_inputs(format, text),
            None => Value::Null,
        },
    }
}

/// The CSV header row and at most [`LIST_INPUTS_MAX`] rows after it, each whole (a row the
/// head cuts is left out); `None` when no row fits.
fn csv_head(bytes: &[u8], delimiter: u8, whole: bool) -> Option<&[u8]> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    // Where the header row and each row end, one past the rows kept.
    let mut ends = Vec::new();
    while ends.len() < LIST_INPUTS_MAX + 2 {
        match reader.read_byte_record(&mut record) {
            Ok(true) => ends.push(reader.position().byte() as usize),
            _ => break,
        }
    }
    if whole && ends.len() <= LIST_INPUTS_MAX + 1 {
        return Some(bytes);
    }
    // A row that reaches the end of a head that is not the whole may go on past it.
    let kept: Vec<usize> = ends
        .into_iter()
        .filter(|&end| whole || end < bytes.len())
        .take(LIST_INPUTS_MAX + 1)
        .collect();
    match kept.len() {
        0 | 1 => None,
        _ => kept.last().map(|&end| &bytes[..end]),
    }
}

/// Reads the first [`LIST_INPUTS_MAX`] elements of a JSON array into its vector, keeping
/// them when the rest of the text cannot be read.
struct FirstElements<'a>(&'a mut Vec<Value>);

impl<'de> DeserializeSeed<'de> for FirstElements<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FirstElements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of inputs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while self.0.len() < LIST_INPUTS_MAX {
            match seq.next_element::<Value>()? {
                Some(input) => self.0.push(input),
                None => break,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &str, whole: bool) -> InputsHead {
        InputsHead {
            bytes: bytes.as_bytes().to_vec(),
            whole,
        }
    }

    #[test]
    fn a_json_head_shows_the_inputs_it_holds_whole() {
        let cut = head(r#"[{"code":"A"}, 7, {"code":"B"}, {"code":"C","na"#, false);
        assert_eq!(
            head_inputs(Format::Json, b',', &cut),
            serde_json::json!([{"code": "A"}, 7, {"code": "B"}])
        );
        let many: Vec<Value> = (0..30).map(|i| serde_json::json!({"n": i})).collect();
        let text = serde_json::to_string(&many).unwrap();
        for whole in [true, false] {
            let shown = head_inputs(Format::Json, b',', &head(&text, whole));
            assert_eq!(shown, Value::Array(many[..LIST_INPUTS_MAX].to_vec()));
        }
        assert_eq!(
            head_inputs(Format::Json, b',', &head(r#"[{"code":"#, false)),
            Value::Null
        );
        assert_eq!(
            head_inputs(Format::Json, b',', &head(r#"[{"a":1}]"#, true)),
            serde_json::json!([{"a": 1}])
        );
    }

    #[test]
    fn a_csv_head_keeps_its_header_and_whole_rows() {
        let text = "code;name\nA;\"a\nb\"\nB;b\nC;c";
        assert_eq!(
            head_inputs(Format::Csv, b';', &head(text, true)),
            Value::String(text.into())
        );
        assert_eq!(
            head_inputs(Format::Csv, b';', &head(text, false)),
            Value::String("code;name\nA;\"a\nb\"\nB;b\n".into())
        );
        let rows: String = (0..30).map(|i| format!("{i};x\n")).collect();
        let text = format!("code;name\n{rows}");
        let expected: String = (0..LIST_INPUTS_MAX).map(|i| format!("{i};x\n")).collect();
        for whole in [true, false] {
            assert_eq!(
                head_inputs(Format::Csv, b';', &head(&text, whole)),
                Value::String(format!("code;name\n{expected}"))
            );
        }
        assert_eq!(
            head_inputs(Format::Csv, b',', &head("code,name\nA,a", false)),
            Value::Null
        );
    }
}
