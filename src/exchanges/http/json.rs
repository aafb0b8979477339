//! Reading exchange JSON: amounts kept as the text the exchange sent (never `f64`), and
//! decoding with the JSON path of the first offending field in the error.

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::one_line;
use crate::domain::parse_amount;
use crate::exchanges::ExchangeError;

/// An amount as it appeared in JSON: the APIs send decimal strings; anything else is
/// remembered by kind so the error names it (and never goes through `f64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonAmount {
    /// A JSON string (not yet validated).
    Text(String),
    /// Not a string: "a JSON number", "null", …
    NotText(&'static str),
}

impl JsonAmount {
    /// The exact decimal, or an [`ExchangeError::Amount`] naming `asset`.
    pub fn parse(&self, asset: &str) -> Result<Decimal, ExchangeError> {
        let bad = |detail: String| ExchangeError::Amount {
            asset: one_line(asset),
            detail,
        };
        match self {
            Self::Text(t) if t.is_empty() => Err(bad("empty string instead of an amount".into())),
            Self::Text(t) => parse_amount(t).map_err(|e| bad(e.to_string())),
            Self::NotText(kind) => Err(bad(format!("{kind} instead of a decimal string"))),
        }
    }
}

impl<'de> Deserialize<'de> for JsonAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonAmount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a decimal amount")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonAmount, E> {
                Ok(JsonAmount::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<JsonAmount, E> {
                Ok(JsonAmount::Text(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<JsonAmount, E> {
                Ok(JsonAmount::NotText("a JSON number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<JsonAmount, E> {
                Ok(JsonAmount::NotText("a JSON number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<JsonAmount, E> {
                Ok(JsonAmount::NotText("a JSON number"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonAmount, E> {
                Ok(JsonAmount::NotText("a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<JsonAmount, E> {
                Ok(JsonAmount::NotText("null"))
            }
            fn visit_none<E: de::Error>(self) -> Result<JsonAmount, E> {
                Ok(JsonAmount::NotText("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonAmount, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(JsonAmount::NotText("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonAmount, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(JsonAmount::NotText("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes a JSON body; on failure the message carries the path of the first
/// offending field (`accounts[3].hold: missing field ...`), as [`ExchangeError::Malformed`].
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ExchangeError> {
    // Fast path without path tracking (it roughly doubles the cost of a 250-account page);
    // only a failing body is decoded a second time to say where it failed.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        // The path quotes the body's own keys, which may hold newlines or anything else.
        ExchangeError::Malformed(one_line(&if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_a_newline_in_the_error_path_stays_on_one_line() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Page {
            accounts: std::collections::HashMap<String, u8>,
        }
        let err = decode::<Page>(b"{\"accounts\": {\"acco\\nts\": \"x\"}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed response: accounts.acco ts: invalid type: string \"x\", expected u8 at line 1 column 29"
        );
    }
}
