//! Serde adapters for settings fields whose text form is not their value: an optional name
//! or path written as `""` when unset (TOML and environment variables have no null), and
//! the signing key, which is read but never written back out.

/// Serde for an optional name or path whose unset value is written as `""` (a TOML file and
/// an environment variable have no null): empty or blank reads as `None`.
pub(crate) mod empty_as_none {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: From<String>,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        let text = text.trim();
        Ok((!text.is_empty()).then(|| T::from(text.to_owned())))
    }
}

/// Serde for `derived.signing_key`: read from its text (empty = unset), written as
/// `REDACTED` so no printout of the settings (`check-config`) carries the secret.
pub(crate) mod signing_key_setting {
    use crate::domain::SigningKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &Option<SigningKey>, s: S) -> Result<S::Ok, S::Error> {
        match key {
            Some(_) => s.serialize_str("REDACTED"),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SigningKey>, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        SigningKey::new(text.as_bytes())
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}
