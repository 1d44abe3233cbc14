//! A minimal W3C WebDriver client over `ureq` for the dashboard tests: starts `chromedriver` on a
//! free loopback port, opens one headless Chromium session, and offers the handful of commands
//! the tests need. Every wait is bounded.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Key W3C WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Default bound for waits.
pub const WAIT: Duration = Duration::from_secs(15);

/// A chromedriver process with one open browser session; both end on drop.
pub struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn find_binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    names.iter().find_map(|n| on_path(n))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Driver {
    /// Starts chromedriver and a headless browser; `None` (after printing why) when Chromium or
    /// chromedriver is not installed, unless `RAMPART_REQUIRE_BROWSER` is set, which panics.
    pub fn start() -> Option<Driver> {
        let driver = find_binary("RAMPART_CHROMEDRIVER", &["chromedriver"]);
        let browser = find_binary(
            "RAMPART_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let (Some(driver), Some(browser)) = (driver, browser) else {
            let msg = "dashboard browser tests skipped: chromium and chromedriver not found \
                       (apt-get install chromium chromium-driver, or set RAMPART_CHROMIUM and \
                       RAMPART_CHROMEDRIVER)";
            if std::env::var_os("RAMPART_REQUIRE_BROWSER").is_some() {
                panic!("{msg}");
            }
            eprintln!("SKIP: {msg}");
            return None;
        };
        let port = free_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let profile = tempfile::tempdir().expect("profile dir");
        let mut d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            _profile: profile,
        };
        d.wait_ready();
        d.open_session(&browser);
        Some(d)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(v) = self.raw("GET", "/status", None)
                && v["value"]["ready"] == true
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn open_session(&mut self, browser: &Path) {
        let profile = self._profile.path().display().to_string();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": browser.display().to_string(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1280,900",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    format!("--user-data-dir={profile}"),
                ],
            },
        }}});
        let v = self
            .raw("POST", "/session", Some(caps))
            .expect("new session");
        self.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Content-Type", "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let resp = self.agent.run(req).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp
            .into_body()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if status >= 400 {
            return Err(format!("{method} {path} -> {status}: {}", v["value"]));
        }
        Ok(v)
    }

    /// A session command; returns the `value` member.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let v = self.raw(method, &format!("/session/{}{path}", self.session), body)?;
        Ok(v["value"].clone())
    }

    /// Navigates to `url`.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})))
            .expect("navigate");
    }

    /// Runs `script` (a function body) in the page with `args`.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The first element matching `css`, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .ok()?;
        v[ELEMENT_KEY].as_str().map(str::to_string)
    }

    /// Waits for `css` to exist, then returns its reference.
    pub fn wait_find(&self, css: &str) -> String {
        self.wait_for(&format!("element {css}"), WAIT, || self.find(css))
    }

    /// Clicks the element matching `css` (waiting for it to exist and be displayed).
    pub fn click(&self, css: &str) {
        let id = self.wait_for(&format!("visible {css}"), WAIT, || {
            let id = self.find(css)?;
            let shown = self.cmd("GET", &format!("/element/{id}/displayed"), None);
            (shown.ok()? == true).then_some(id)
        });
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})))
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the element matching `css` after clearing it.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})))
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Rendered text of the element matching `css` (empty when absent).
    pub fn text(&self, css: &str) -> String {
        self.find(css)
            .and_then(|id| self.cmd("GET", &format!("/element/{id}/text"), None).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Polls `f` every 100 ms until it yields a value; panics naming `what` after `limit`.
    pub fn wait_for<T>(&self, what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() >= deadline {
                let logs = self.console();
                panic!("timed out after {limit:?} waiting for {what}; browser console: {logs:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `script` returns `true`.
    pub fn wait_true(&self, what: &str, script: &str) {
        self.wait_for(what, WAIT, || {
            (self.exec(script, json!([])) == Value::Bool(true)).then_some(())
        });
    }

    /// Emulates `prefers-color-scheme` (`"dark"` or `"light"`) through the DevTools protocol.
    pub fn color_scheme(&self, scheme: &str) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": scheme}],
            }})),
        )
        .expect("emulate colour scheme");
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", "/screenshot", None).expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Browser console messages since the last call (levels and texts).
    pub fn console(&self) -> Vec<String> {
        self.cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| format!("{}: {}", e["level"], e["message"]))
            .collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.raw("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
