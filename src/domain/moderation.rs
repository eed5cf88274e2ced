//! SafeSearch likelihoods and the verdict rule. The `Moderator` seam returns [`SafeSearch`];
//! the verdict (with thresholds from config) is decided here, not in a backend.

use serde::{Deserialize, Serialize};
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
