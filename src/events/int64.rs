//! Serde helpers for proto3 JSON integers: Google sends int64 as strings (`"352"`) but
//! some examples use numbers (`352`), so both are accepted; we always write strings, as
//! the proto3 JSON mapping does (gcp-contracts.md §2).

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    String(String),
    Signed(i64),
    Unsigned(u64),
}

/// Reads an optional integer from a JSON string, a JSON number or `null`.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + TryFrom<i64> + TryFrom<u64>,
    <T as FromStr>::Err: Display,
{
    let raw = Option::<StringOrNumber>::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("expected an integer as a JSON string or number"))?;
    let out_of_range = || serde::de::Error::custom("integer out of range");
    match raw {
        None => Ok(None),
        Some(StringOrNumber::String(s)) => s
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("`{s}` is not an integer: {e}"))),
        Some(StringOrNumber::Signed(n)) => <T as TryFrom<i64>>::try_from(n)
            .map(Some)
            .map_err(|_| out_of_range()),
        Some(StringOrNumber::Unsigned(n)) => <T as TryFrom<u64>>::try_from(n)
            .map(Some)
            .map_err(|_| out_of_range()),
    }
}

/// Writes an optional integer as a JSON string (skip `None` with `skip_serializing_if`).
pub(crate) fn serialize<S, T>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Display,
{
    match value {
        Some(v) => serializer.collect_str(v),
        None => serializer.serialize_none(),
    }
}

/// Treats an explicit JSON `null` as the type's default (proto3 JSON allows `null` for
/// any field, e.g. `"metadata": null`).
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
