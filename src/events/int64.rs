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

impl StringOrNumber {
    fn into_int<T, E>(self) -> Result<T, E>
    where
        T: FromStr + TryFrom<i64> + TryFrom<u64>,
        <T as FromStr>::Err: Display,
        E: serde::de::Error,
    {
        let out_of_range = || E::custom("integer out of range");
        match self {
            Self::String(s) => s
                .trim()
                .parse::<T>()
                .map_err(|e| E::custom(format!("`{s}` is not an integer: {e}"))),
            Self::Signed(n) => <T as TryFrom<i64>>::try_from(n).map_err(|_| out_of_range()),
            Self::Unsigned(n) => <T as TryFrom<u64>>::try_from(n).map_err(|_| out_of_range()),
        }
    }
}

fn expected_integer<E: serde::de::Error>(_: E) -> E {
    E::custom("expected an integer as a JSON string or number")
}

/// Reads an optional integer from a JSON string, a JSON number or `null`.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + TryFrom<i64> + TryFrom<u64>,
    <T as FromStr>::Err: Display,
{
    Option::<StringOrNumber>::deserialize(deserializer)
        .map_err(expected_integer)?
        .map(StringOrNumber::into_int)
        .transpose()
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

/// The same for a required integer: `#[serde(with = "int64::required")]`.
pub(crate) mod required {
    use super::{Display, FromStr, StringOrNumber, expected_integer};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + TryFrom<i64> + TryFrom<u64>,
        <T as FromStr>::Err: Display,
    {
        StringOrNumber::deserialize(deserializer)
            .map_err(expected_integer)?
            .into_int()
    }

    /// Writes the integer as a JSON string.
    pub(crate) fn serialize<S: Serializer, T: Display>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
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
