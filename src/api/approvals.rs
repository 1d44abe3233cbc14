//! Approval routes and the `/v1/tool` approval path (spec/server.md §3.2, §5).

use axum::response::Response;
use serde_json::{Map, Value};

use super::ApiState;
use super::auth::Identity;
use super::error::{ApiError, ApiResult};
use super::tool_input::ToolRequest;
use crate::engine::{Decision, ToolCall};

/// Pending approvals (for metrics).
pub fn pending_count(_st: &ApiState) -> usize {
    0
}

/// The approval path of an `ask` decision in enforce mode.
pub async fn ask_path(
    _st: &ApiState,
    _id: &Identity,
    _req: &ToolRequest,
    _call: &ToolCall,
    _d: &Decision,
    _body: Map<String, Value>,
) -> ApiResult<Response> {
    Err(ApiError::unavailable("approval service is not available"))
}
