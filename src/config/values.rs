//! The typed values inside the settings: closed sets as enums, and newtypes parsed with
//! `FromStr` (box sizes, likelihood thresholds, colours, endpoints). Each is parsed once, at
//! load, so a bad value fails there with its key named; handlers only read typed fields.
//! Mapping to the imaging engine's own types is exhaustive, so a new value cannot be forgotten.

use crate::domain::Likelihood;
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED};
use crate::imaging;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Largest box side accepted for an output size.
pub const MAX_OUTPUT_SIDE_PX: u32 = 16_384;

/// Serde for a type that reads from and writes to its string form.
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The resampling filter (`imaging.filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterSetting {
    Lanczos3,
    CatmullRom,
    Mitchell,
    Bilinear,
    Box,
}

impl FilterSetting {
    pub fn resize_filter(self) -> imaging::ResizeFilter {
        match self {
            Self::Lanczos3 => imaging::ResizeFilter::Lanczos3,
            Self::CatmullRom => imaging::ResizeFilter::CatmullRom,
            Self::Mitchell => imaging::ResizeFilter::Mitchell,
            Self::Bilinear => imaging::ResizeFilter::Bilinear,
            Self::Box => imaging::ResizeFilter::Box,
        }
    }
}

/// The encoding of outputs (`resize.format`, `thumbnail.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatSetting {
    /// JPEG→JPEG, PNG→PNG, WebP→WebP; GIF, BMP and TIFF→PNG.
    Original,
    Jpeg,
    Png,
    Webp,
    WebpLossless,
    /// AVIF (rav1e at its fastest preset).
    Avif,
}

impl FormatSetting {
    /// The setting's name (`webp_lossless`), as in output names (`domain::naming`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::WebpLossless => "webp_lossless",
            Self::Avif => "avif",
        }
    }

    pub fn output_format(self) -> imaging::OutputFormat {
        match self {
            Self::Original => imaging::OutputFormat::Original,
            Self::Jpeg => imaging::OutputFormat::Jpeg,
            Self::Png => imaging::OutputFormat::Png,
            Self::Webp => imaging::OutputFormat::WebP,
            Self::WebpLossless => imaging::OutputFormat::WebPLossless,
            Self::Avif => imaging::OutputFormat::Avif,
        }
    }
}

/// Where the thumbnail's cover crop keeps its window (`thumbnail.anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorSetting {
    #[serde(alias = "center")]
    Centre,
    /// The most detailed region.
    Smart,
}

impl AnchorSetting {
    pub fn anchor(self) -> imaging::Anchor {
        match self {
            Self::Centre => imaging::Anchor::Centre,
            Self::Smart => imaging::Anchor::Smart,
        }
    }
}

/// A Google service pointed at an emulator by its `*_EMULATOR_HOST` variable (`gcp.emulated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmulatedService {
    Storage,
    Firestore,
    Pubsub,
}

impl EmulatedService {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Storage => "storage",
            Self::Firestore => "firestore",
            Self::Pubsub => "pubsub",
        }
    }
}

/// Compared with the backends' service names (`"storage"`, ...).
impl PartialEq<str> for EmulatedService {
    fn eq(&self, name: &str) -> bool {
        self.as_str() == name
    }
}

impl PartialEq<&str> for EmulatedService {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// The event type a local trigger filters on (`local.triggers[].event_type`): the ones
/// some route accepts, written as their CloudEvent `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerEventType {
    #[serde(rename = "google.cloud.storage.object.v1.finalized")]
    StorageFinalized,
    #[serde(rename = "google.cloud.storage.object.v1.deleted")]
    StorageDeleted,
    #[serde(rename = "google.cloud.pubsub.topic.v1.messagePublished")]
    PubsubPublished,
}

impl TriggerEventType {
    /// The CloudEvent `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StorageFinalized => STORAGE_FINALIZED,
            Self::StorageDeleted => STORAGE_DELETED,
            Self::PubsubPublished => PUBSUB_PUBLISHED,
        }
    }
}

impl FromStr for TriggerEventType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::StorageFinalized,
            Self::StorageDeleted,
            Self::PubsubPublished,
        ]
        .into_iter()
        .find(|t| t.as_str() == text.trim())
        .ok_or_else(|| format!("{text:?} is not an event type a local trigger can filter on"))
    }
}

impl fmt::Display for TriggerEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compared with a CloudEvent's `type` (the local router matches events to triggers).
impl PartialEq<&str> for TriggerEventType {
    fn eq(&self, ty: &&str) -> bool {
        self.as_str() == *ty
    }
}

/// The status of a malformed event (`server.malformed_status`): 200 or 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedStatus {
    /// 200: acked as `rejected`, never redelivered.
    Ack,
    /// 400: Eventarc redelivers it (for up to 24 h).
    BadRequest,
}

impl MalformedStatus {
    pub fn code(self) -> u16 {
        match self {
            Self::Ack => 200,
            Self::BadRequest => 400,
        }
    }
}

impl Serialize for MalformedStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for MalformedStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        let code = match Raw::deserialize(d)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(t) => t.trim().to_owned(),
        };
        match code.as_str() {
            "200" => Ok(Self::Ack),
            "400" => Ok(Self::BadRequest),
            other => Err(serde::de::Error::custom(format!(
                "{other} is not a malformed-event status; use 200 or 400"
            ))),
        }
    }
}

/// A `WIDTHxHEIGHT` box such as `1920x1080`, each side 1..=16384.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxSize {
    pub width: u32,
    pub height: u32,
}

impl BoxSize {
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }
}

impl FromStr for BoxSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not WIDTHxHEIGHT with sides 1..={MAX_OUTPUT_SIDE_PX}");
        let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let side = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_OUTPUT_SIDE_PX).contains(n))
        };
        match (side(w), side(h)) {
            (Some(width), Some(height)) => Ok(Self { width, height }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for BoxSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

string_serde!(BoxSize);

/// A likelihood at or above which an image is flagged (`VERY_UNLIKELY` .. `VERY_LIKELY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Threshold(pub Likelihood);

impl FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match Likelihood::from_api_name(text.trim()) {
            Likelihood::Unknown => Err(format!(
                "{text:?} is not a likelihood (VERY_UNLIKELY, UNLIKELY, POSSIBLE, LIKELY, VERY_LIKELY)"
            )),
            likelihood => Ok(Self(likelihood)),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_api_name())
    }
}

string_serde!(Threshold);

/// An `#rrggbb` colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub [u8; 3]);

impl FromStr for Colour {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a #rrggbb colour");
        let hex = text.trim().strip_prefix('#').ok_or_else(bad)?;
        if hex.len() != 6 || !hex.is_ascii() {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Self([byte(0)?, byte(2)?, byte(4)?]))
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

string_serde!(Colour);

/// An http(s) base URL of a service (`gcp.*_endpoint`), kept as written (it reads as `&str`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(String);

impl Endpoint {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced, for printing (`check-config`).
    pub fn redacted(&self) -> Self {
        match reqwest::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("REDACTED"));
                Self(url.as_str().trim_end_matches('/').to_owned())
            }
            _ => self.clone(),
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| format!("{text:?} is not an http(s) base URL: {why}");
        let url = reqwest::Url::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("needs http:// or https:// and a host".to_owned()));
        }
        Ok(Self(text.trim().to_owned()))
    }
}

impl std::ops::Deref for Endpoint {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(Endpoint);
