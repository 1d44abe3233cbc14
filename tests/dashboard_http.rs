//! The dashboard shell over plain HTTP: redirect, unauthenticated assets with the right content
//! types, the strict CSP and framing headers, and no inline script or style in the page.

mod support;

use support::*;

/// Status, headers (lower-cased names) and body of a GET without a token.
fn fetch(url: &str) -> (u16, Vec<(String, String)>, String) {
    let resp = client().get(url).call().expect("request");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let body = resp.into_body().read_to_string().unwrap_or_default();
    (status, headers, body)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn bare_path_redirects_permanently() {
    let s = TestServer::start();
    let (st, h, _) = fetch(&s.url("/dashboard"));
    assert_eq!(st, 301);
    assert_eq!(header(&h, "location"), Some("/dashboard/"));
}

#[test]
fn index_has_strict_headers_and_needs_no_token() {
    let s = TestServer::start();
    let (st, h, body) = fetch(&s.url("/dashboard/"));
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        header(&h, "content-security-policy"),
        Some(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    );
    assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    assert!(header(&h, "access-control-allow-origin").is_none());
    assert!(body.contains("<title>Rampart</title>"));
}

#[test]
fn index_has_no_inline_script_or_style() {
    let s = TestServer::start();
    let (_, _, body) = fetch(&s.url("/dashboard/"));
    let lower = body.to_ascii_lowercase();
    // Every <script> has a src and an empty body.
    let mut scripts = 0;
    for (i, _) in lower.match_indices("<script") {
        scripts += 1;
        let open_end = i + lower[i..].find('>').expect("script tag closes");
        assert!(lower[i..open_end].contains(" src="), "inline script at {i}");
        assert!(
            lower[open_end + 1..].starts_with("</script>"),
            "script body at {i}"
        );
    }
    assert_eq!(scripts, 1);
    assert!(!lower.contains("<style"), "inline <style> element");
    assert!(!lower.contains("style="), "style= attribute");
    for handler in [
        "onclick=",
        "onload=",
        "onerror=",
        "onsubmit=",
        "javascript:",
    ] {
        assert!(!lower.contains(handler), "inline handler {handler}");
    }
    // Nothing leaves the machine: no external origins referenced.
    assert!(!lower.contains("http://") && !lower.contains("https://"));
}

#[test]
fn assets_have_types_and_framing_headers() {
    let s = TestServer::start();
    for (path, ctype, needle) in [
        (
            "/dashboard/app.js",
            "text/javascript; charset=utf-8",
            "EventSource",
        ),
        (
            "/dashboard/app.css",
            "text/css; charset=utf-8",
            "prefers-color-scheme",
        ),
    ] {
        let (st, h, body) = fetch(&s.url(path));
        assert_eq!(st, 200, "{path}");
        assert_eq!(header(&h, "content-type"), Some(ctype), "{path}");
        assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
        assert!(body.contains(needle), "{path}");
        for external in ["http://", "https://", "@import"] {
            assert!(!body.contains(external), "{path} references {external}");
        }
    }
}

#[test]
fn script_never_parses_html_from_data() {
    let s = TestServer::start();
    let (_, _, js) = fetch(&s.url("/dashboard/app.js"));
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(sink), "app.js uses {sink}");
    }
    // The token lives in sessionStorage, not localStorage.
    assert!(js.contains("sessionStorage.setItem(TOKEN_KEY"));
    assert!(!js.contains("localStorage.setItem(TOKEN_KEY"));
}

#[test]
fn unknown_dashboard_paths_are_json_404_and_host_check_applies() {
    let s = TestServer::start();
    let (st, _, body) = fetch(&s.url("/dashboard/nope.js"));
    assert_eq!(st, 404);
    assert!(body.contains("not found"));
    let (st, _) = send_text(
        "GET",
        &s.url("/dashboard/"),
        None,
        None,
        &[("Host", "evil.example")],
    );
    assert_eq!(st, 403);
}
