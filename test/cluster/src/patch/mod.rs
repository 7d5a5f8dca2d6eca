//! Patches as the API server accepts them: JSON merge, strategic merge, JSON patch and apply.

mod json_patch;
mod merge;
mod strategic;

use serde_json::Value;

use crate::status::ApiError;

pub use json_patch::apply as apply_json_patch;
pub use merge::merge_patch;
pub use strategic::strategic_merge;

/// The kind of patch, chosen by the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    /// The patch type a Content-Type names, or 415 Unsupported Media Type.
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            _ => Err(ApiError::unsupported_media_type(content_type)),
        }
    }
}

/// Applies `patch` to `current`, giving the object the update path will validate and store.
pub fn apply(kind: PatchType, current: &Value, patch: &Value) -> Result<Value, ApiError> {
    match kind {
        PatchType::Json => apply_json_patch(current, patch),
        PatchType::Merge => Ok(merge_patch(current, patch)),
        // Server-side apply is approximated as a strategic merge of the applied configuration:
        // fields another manager set and this one omits survive, as they would for a first
        // apply. Field ownership and conflicts are not tracked.
        PatchType::StrategicMerge | PatchType::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("patch body must be a JSON object"));
            }
            strategic_merge(current, patch)
        }
    }
}
