//! The HTTP API (axum): thin handlers over the shared gate. Every `/v1` route is authenticated;
//! `/healthz` and the `/dashboard/` shell are not; every route refuses foreign Host headers
//! (DNS rebinding).

pub mod approvals;
pub mod audit_routes;
pub mod auth;
pub mod body;
pub mod dashboard;
pub mod error;
pub mod info;
pub mod metrics;
pub mod notify;
pub mod rules;
pub mod sse;
pub mod tool;
pub mod tool_input;
pub mod webhook;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

pub use auth::{Authenticator, Identity, StaticToken};
pub use error::{ApiError, ApiResult};

use crate::gate::Gate;

/// Version reported by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Server configuration the handlers read.
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// Host names (besides loopback names) requests may address, e.g. the bound IP.
    pub allowed_hosts: Vec<String>,
    /// Serve `/metrics`.
    pub metrics: bool,
    /// Base URL for signed approval links.
    pub resolve_base_url: Option<String>,
    /// Port the server listens on (for default link bases).
    pub port: u16,
    /// `~/.rampart` (rules files, journals); `None` disables file-backed features.
    pub state_dir: Option<PathBuf>,
    /// Policy directory where learned and auto-allowed rules are written (reloads read it).
    pub rules_dir: Option<PathBuf>,
}

/// Everything handlers share.
#[derive(Debug)]
pub struct ApiState {
    /// The gate (engine + mode + audit + live stream).
    pub gate: Arc<Gate>,
    /// Token identification.
    pub auth: Arc<dyn Authenticator>,
    /// Configuration.
    pub config: ApiConfig,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// Time of the last API-triggered reload (1 s cooldown).
    pub last_reload: Mutex<Option<Instant>>,
    /// Time of the last learned-rule write (200 ms spacing).
    pub last_learn: Mutex<Option<Instant>>,
    /// Pending approvals (`None`: asks cannot wait for a human here).
    pub approvals: Option<Arc<crate::approval::ApprovalStore>>,
    /// Signer for approval links.
    pub signer: Option<Arc<crate::approval::Signer>>,
    /// Outbound notification limiter.
    pub notifier: notify::Notifier,
    /// Cancelled at shutdown: long-lived responses (SSE, long-polls) end.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl ApiState {
    /// State over `gate` with `auth`.
    pub fn new(gate: Arc<Gate>, auth: Arc<dyn Authenticator>, config: ApiConfig) -> ApiState {
        ApiState {
            gate,
            auth,
            config,
            metrics: metrics::Metrics::default(),
            last_reload: Mutex::new(None),
            last_learn: Mutex::new(None),
            shutdown: tokio_util::sync::CancellationToken::new(),
            approvals: None,
            signer: None,
            notifier: notify::Notifier::default(),
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// The full router.
pub fn router(st: Arc<ApiState>) -> Router {
    let eval = Router::new()
        .route("/v1/tool/{name}", post(tool::tool))
        .route("/v1/preflight/{name}", post(tool::preflight))
        .route_layer(from_fn_with_state(st.clone(), auth::require_eval));
    let mut admin = Router::new()
        .route("/v1/status", get(info::status))
        .route("/v1/policy", get(info::status))
        .route("/v1/policy/summary", get(info::summary))
        .route("/v1/policies", get(info::policies))
        .route("/v1/policy/reload", post(info::reload))
        .route("/v1/test", post(info::test))
        .route("/v1/events/stream", get(sse::stream))
        .route(
            "/v1/approvals",
            get(approvals::list).post(approvals::create),
        )
        .route("/v1/approvals/bulk-resolve", post(approvals::bulk))
        .route("/v1/approvals/{id}", get(approvals::get_one))
        .route("/v1/rules/auto-allowed", get(rules::list_auto_allowed))
        .route(
            "/v1/rules/auto-allowed/{name}",
            axum::routing::delete(rules::delete_auto_allowed),
        )
        .route("/v1/rules/learn", post(rules::learn))
        .route("/v1/audit/events", get(audit_routes::events))
        .route("/v1/audit/dates", get(audit_routes::dates))
        .route("/v1/audit/export", get(audit_routes::export))
        .route("/v1/audit/stats", get(audit_routes::stats));
    if st.config.metrics {
        admin = admin.route("/metrics", get(info::metrics));
    }
    let admin = admin.route_layer(from_fn_with_state(st.clone(), auth::require_admin));
    Router::new()
        .route("/healthz", get(info::healthz))
        .route("/dashboard", get(dashboard::redirect))
        .route("/dashboard/", get(dashboard::index))
        .route("/dashboard/app.js", get(dashboard::script))
        .route("/dashboard/app.css", get(dashboard::stylesheet))
        .route(
            "/v1/approvals/{id}/resolve",
            get(approvals::confirm_page).post(approvals::resolve),
        )
        .merge(eval)
        .merge(admin)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(st.clone(), auth::check_host))
        .with_state(st)
}
