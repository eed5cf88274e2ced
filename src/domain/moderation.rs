//! SafeSearch likelihoods and the verdict rule. The `Moderator` seam returns [`SafeSearch`];
//! the verdict (with thresholds from config) is decided here, not in a backend.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Cloud Vision's likelihood scale, ordered so thresholds compare with `>=`
/// (gcp-contracts.md §4: missing fields mean `UNKNOWN`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Likelihood {
    #[default]
    Unknown,
    VeryUnlikely,
    Unlikely,
    Possible,
    Likely,
    VeryLikely,
}

impl Likelihood {
    /// Parses Vision's enum names; anything unrecognised is `Unknown`.
    pub fn from_api_name(name: &str) -> Self {
        match name {
            "VERY_UNLIKELY" => Self::VeryUnlikely,
            "UNLIKELY" => Self::Unlikely,
            "POSSIBLE" => Self::Possible,
            "LIKELY" => Self::Likely,
            "VERY_LIKELY" => Self::VeryLikely,
            _ => Self::Unknown,
        }
    }

    pub fn as_api_name(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::VeryUnlikely => "VERY_UNLIKELY",
            Self::Unlikely => "UNLIKELY",
            Self::Possible => "POSSIBLE",
            Self::Likely => "LIKELY",
            Self::VeryLikely => "VERY_LIKELY",
        }
    }
}

/// The SafeSearch categories Vision reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafeSearchCategory {
    Adult,
    Spoof,
    Medical,
    Violence,
    Racy,
}

impl SafeSearchCategory {
    pub const ALL: [Self; 5] = [
        Self::Adult,
        Self::Spoof,
        Self::Medical,
        Self::Violence,
        Self::Racy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adult => "adult",
            Self::Spoof => "spoof",
            Self::Medical => "medical",
            Self::Violence => "violence",
            Self::Racy => "racy",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Per-category likelihoods from a moderator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeSearch {
    pub adult: Likelihood,
    pub spoof: Likelihood,
    pub medical: Likelihood,
    pub violence: Likelihood,
    pub racy: Likelihood,
}

impl SafeSearch {
    pub fn get(&self, category: SafeSearchCategory) -> Likelihood {
        match category {
            SafeSearchCategory::Adult => self.adult,
            SafeSearchCategory::Spoof => self.spoof,
            SafeSearchCategory::Medical => self.medical,
            SafeSearchCategory::Violence => self.violence,
            SafeSearchCategory::Racy => self.racy,
        }
    }

    /// Flagged when any category in `thresholds` reaches its threshold.
    pub fn verdict(&self, thresholds: &BTreeMap<SafeSearchCategory, Likelihood>) -> Verdict {
        let flagged = thresholds
            .iter()
            .any(|(category, threshold)| self.get(*category) >= *threshold);
        if flagged {
            Verdict::Flagged
        } else {
            Verdict::Safe
        }
    }
}

/// A nudity classifier's class probabilities that SafeSearch can express (the built-in
/// model's Porn, Hentai and Sexy; it sees nothing else).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NudityScores {
    pub porn: f32,
    pub hentai: f32,
    pub sexy: f32,
}

/// Probability -> likelihood cut-offs (lower bounds of each step).
///
/// nsfwjs's authors publish about 90 % accuracy for its MobileNetV2 (224x224) model and
/// 93 % for the mid-sized one (nsfwjs README, 4.4.0): the top class is wrong about one time
/// in ten, so one class score is evidence, not proof. `LIKELY` starts at 0.5, where the class
/// outweighs all the others together (the model's own answer when nsfwjs users take the top
/// class); `VERY_LIKELY` at 0.8; `POSSIBLE` from 0.2; below 0.05 is `VERY_UNLIKELY`. With
/// the default thresholds (`adult`/`racy` at `LIKELY`) an image is flagged when Porn, Hentai
/// or Sexy is at least 0.5. On the bench photos the largest of those is far below (see
/// scripts/moderation-reference).
pub const PROBABILITY_CUTOFFS: [(f32, Likelihood); 4] = [
    (0.8, Likelihood::VeryLikely),
    (0.5, Likelihood::Likely),
    (0.2, Likelihood::Possible),
    (0.05, Likelihood::Unlikely),
];

/// One class probability as a SafeSearch likelihood.
pub fn likelihood_of(p: f32) -> Likelihood {
    PROBABILITY_CUTOFFS
        .iter()
        .find(|(at_least, _)| p >= *at_least)
        .map_or(Likelihood::VeryUnlikely, |(_, l)| *l)
}

impl NudityScores {
    /// `adult` = max(Porn, Hentai), `racy` = Sexy, each through [`likelihood_of`];
    /// `violence`, `medical`, `spoof` are `UNKNOWN`: a nudity model cannot see them, and
    /// `UNKNOWN` ranks below every threshold the configuration accepts, so it never flags an
    /// image, and it is recorded as "not judged", never as "very unlikely".
    pub fn safe_search(&self) -> SafeSearch {
        SafeSearch {
            adult: likelihood_of(self.porn.max(self.hentai)),
            racy: likelihood_of(self.sexy),
            violence: Likelihood::Unknown,
            medical: Likelihood::Unknown,
            spoof: Likelihood::Unknown,
        }
    }
}

/// The moderation outcome stored in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Safe,
    Flagged,
    /// No moderator is configured: shown as such, never as a silent `safe`.
    Unmoderated,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Flagged => "flagged",
            Self::Unmoderated => "unmoderated",
        }
    }
}

/// What the moderate stage contributes to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moderation {
    pub verdict: Verdict,
    /// `None` when unmoderated.
    pub likelihoods: Option<SafeSearch>,
    /// Which moderator answered (`vision`, `none`, ...).
    pub backend: String,
    /// What the `quarantine`/`blur` policy did, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Why the moderator could not judge the image (its permanent error), if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Present only on a reused verdict: the record id (`RecordKey::document_id`) whose
    /// judgement of identical bytes was reused instead of asking the moderator again.
    #[serde(
        default,
        rename = "reusedFrom",
        skip_serializing_if = "Option::is_none"
    )]
    pub reused_from: Option<String>,
}

/// What a verdict was made with besides the image: the moderator (its exact model), what it
/// was shown (`original`, or `resized:<variant>`) and the thresholds. Two judgements of
/// the same bytes are interchangeable only when this is equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictBasis(String);

impl VerdictBasis {
    pub fn new(
        backend: &str,
        subject: &str,
        thresholds: &BTreeMap<SafeSearchCategory, Likelihood>,
    ) -> Self {
        let thresholds: Vec<String> = thresholds
            .iter()
            .map(|(c, l)| format!("{}>={}", c.as_str(), l.as_api_name()))
            .collect();
        Self(format!("{backend};{subject};{}", thresholds.join(",")))
    }

    /// The text as stored (`vision;resized:medium;adult>=LIKELY,racy>=LIKELY`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the verdict index keeps one judgement: the SHA-256 of the uploaded bytes and the
/// basis it was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictKey {
    /// 64 lower-case hex digits.
    content_sha256: String,
    pub basis: VerdictBasis,
}

impl VerdictKey {
    /// The key of a `sha256:<hex>` content hash (the record's `contentHash` form); `None`
    /// when the text is not one (an older or foreign event).
    pub fn new(content_hash: &str, basis: VerdictBasis) -> Option<Self> {
        let hex = content_hash.strip_prefix("sha256:")?;
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| Self {
            content_sha256: hex.to_owned(),
            basis,
        })
    }

    /// `sha256:<hex>`, as the record's `contentHash` says it.
    pub fn content_hash(&self) -> String {
        format!("sha256:{}", self.content_sha256)
    }

    /// A document id (Firestore-safe, fixed length): the content's hex, `-`, and 16 hex
    /// digits of the basis's SHA-256. The stored entry repeats both in full, and a reader
    /// compares them, so a clash of the short part reads as "not found", never as a verdict.
    pub fn document_id(&self) -> String {
        let digest = Sha256::digest(self.basis.as_str().as_bytes());
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{short}", self.content_sha256)
    }
}

/// One judgement in the verdict index: the moderator's likelihoods (the decision is made
/// again from them under the current rule) and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexedVerdict {
    /// `sha256:<hex>` of the judged upload.
    pub content_hash: String,
    /// [`VerdictBasis::as_str`] of the judgement.
    pub basis: String,
    pub likelihoods: SafeSearch,
    /// The verdict as decided then (for people reading the index; not reused as such).
    pub verdict: Verdict,
    pub backend: String,
    /// The record id (`RecordKey::document_id`) of the image that was judged.
    pub from_record: String,
    pub from_generation: i64,
    /// RFC 3339, set by the backend when it stores the entry.
    pub judged_at: Option<String>,
}

impl IndexedVerdict {
    /// Whether this entry is the judgement `key` names (full hash and basis, not only the
    /// document id).
    pub fn matches(&self, key: &VerdictKey) -> bool {
        self.content_hash == key.content_hash() && self.basis == key.basis.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihoods_order_from_unknown_to_very_likely() {
        assert!(Likelihood::Unknown < Likelihood::VeryUnlikely);
        assert!(Likelihood::Likely < Likelihood::VeryLikely);
        assert_eq!(Likelihood::from_api_name("nonsense"), Likelihood::Unknown);
    }

    #[test]
    fn a_verdict_key_needs_a_sha256_content_hash_and_names_its_whole_basis() {
        let thresholds = BTreeMap::from([
            (SafeSearchCategory::Racy, Likelihood::Likely),
            (SafeSearchCategory::Adult, Likelihood::VeryLikely),
        ]);
        let basis = VerdictBasis::new("vision", "resized:medium", &thresholds);
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

        let key = VerdictKey::new(&format!("sha256:{hex}"), basis.clone()).unwrap();

        assert_eq!(
            basis.as_str(),
            "vision;resized:medium;adult>=VERY_LIKELY,racy>=LIKELY"
        );
        assert_eq!(key.content_hash(), format!("sha256:{hex}"));
        assert_eq!(key.document_id().len(), 64 + 1 + 16);
        assert!(key.document_id().starts_with(&format!("{hex}-")));
        for not_a_hash in [
            hex.to_owned(),
            format!("md5:{hex}"),
            "sha256:../x".to_owned(),
        ] {
            assert_eq!(
                VerdictKey::new(&not_a_hash, basis.clone()),
                None,
                "{not_a_hash}"
            );
        }
    }

    #[test]
    fn verdict_is_flagged_when_any_threshold_is_reached() {
        let thresholds = BTreeMap::from([
            (SafeSearchCategory::Adult, Likelihood::Likely),
            (SafeSearchCategory::Racy, Likelihood::Likely),
        ]);
        let racy = SafeSearch {
            racy: Likelihood::VeryLikely,
            ..SafeSearch::default()
        };
        let spoof_only = SafeSearch {
            spoof: Likelihood::VeryLikely,
            ..SafeSearch::default()
        };
        assert_eq!(racy.verdict(&thresholds), Verdict::Flagged);
        assert_eq!(spoof_only.verdict(&thresholds), Verdict::Safe);
    }
}
