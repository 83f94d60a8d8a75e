//! Judging the inputs' content as the worker will read it: counting them up to the limit, and
//! checking that CSV text is UTF-8.

use std::io::Read;

use imports_common::inputs::{count_inputs_until, ReadStop};
use imports_common::model::Format;

use crate::upload::CountError;

/// Counts inputs as the worker will read them, stopping as soon as there are more than
/// `max`.
pub(crate) fn count_until(
    format: Format,
    delimiter: u8,
    reader: impl Read,
    max: u64,
) -> Result<u64, CountError> {
    match count_inputs_until(format, delimiter, reader, max) {
        Ok(n) => Ok(n),
        Err(ReadStop::Cancelled) => Err(CountError::TooMany),
        Err(ReadStop::Unreadable(e)) => Err(CountError::Unreadable(e.0)),
        Err(ReadStop::InputTooLarge(position)) => Err(CountError::InputTooLarge(position)),
        Err(ReadStop::Io(e)) => Err(CountError::Unreadable(format!(
            "the inputs cannot be read: {e}"
        ))),
    }
}

/// Checks UTF-8 across buffer boundaries (CSV text is decoded from the JSON string in pieces).
pub(crate) struct Utf8Check {
    carry: Vec<u8>,
    /// No invalid byte seen so far.
    pub(crate) ok: bool,
}

impl Default for Utf8Check {
    fn default() -> Self {
        Utf8Check {
            carry: Vec::new(),
            ok: true,
        }
    }
}

impl Utf8Check {
    /// Checks the next piece; `false` once anything seen is not UTF-8.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> bool {
        if !self.ok {
            return false;
        }
        let joined;
        let data: &[u8] = if self.carry.is_empty() {
            bytes
        } else {
            joined = [std::mem::take(&mut self.carry).as_slice(), bytes].concat();
            &joined
        };
        match std::str::from_utf8(data) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                self.carry = data[e.valid_up_to()..].to_vec();
            }
            Err(_) => self.ok = false,
        }
        self.ok
    }

    /// The text ended: whether it was all UTF-8, its last character whole.
    pub(crate) fn finish(&mut self) -> bool {
        self.is_valid()
    }

    /// Whether everything pushed so far is valid UTF-8, ending on a whole character.
    pub(crate) fn is_valid(&self) -> bool {
        self.ok && self.carry.is_empty()
    }
}
