//! The pipeline's domain vocabulary, shared by handlers and every backend: objects,
//! records, moderation verdicts, pipeline events, and which objects are the pipeline's own
//! outputs (`derived`). Pure data and pure rules; no I/O.

pub mod derived;
pub mod moderation;
pub mod naming;
pub mod object;
pub mod outcome;
pub mod pipeline_event;
pub mod record;
pub mod srcset;

pub use derived::{DerivedOutputs, OutputPlace, SigningKey};
pub use moderation::{IndexedVerdict, VerdictBasis, VerdictKey};
pub use moderation::{Likelihood, Moderation, SafeSearch, SafeSearchCategory, Verdict};
pub use object::{ObjectInfo, ObjectMeta, ObjectRef, PutOutcome, WriteCondition};
pub use outcome::{Outcome, WireOutcome};
pub use pipeline_event::{PipelineEvent, PipelineEventData, PipelineEventType};
pub use record::{
    ApplyResult, ImageRecord, ImageSummary, Placeholder, RecordKey, RecordStatus, StageEvent,
    StageUpdate, VariantInfo,
};
