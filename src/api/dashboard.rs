//! The embedded dashboard (spec/server.md §15): a static page, script and stylesheet compiled
//! into the binary. Unauthenticated — the page asks for the token and calls the `/v1` API with
//! it. The index is served under a strict CSP with no inline script or style at all.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// Content-Security-Policy of the index: only same-origin scripts, styles and connections.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// Headers every dashboard response carries.
const COMMON: [(HeaderName, &str); 3] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

fn asset(content_type: &'static str, body: &'static str, extra: &[(HeaderName, &str)]) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in COMMON.iter().chain(extra) {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    }
    resp
}

/// `GET /dashboard` → 301 to `/dashboard/`.
pub async fn redirect() -> Response {
    let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
    resp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/dashboard/"));
    resp
}

/// `GET /dashboard/`: the page, never cached, under the strict CSP.
pub async fn index() -> Response {
    asset(
        "text/html; charset=utf-8",
        INDEX_HTML,
        &[
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
}

/// `GET /dashboard/app.js`.
pub async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        APP_JS,
        &[(header::CACHE_CONTROL, "no-cache")],
    )
}

/// `GET /dashboard/app.css`.
pub async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        APP_CSS,
        &[(header::CACHE_CONTROL, "no-cache")],
    )
}
