//! A small W3C WebDriver client over reqwest, for the console's browser tests: starts the
//! distribution's chromedriver (Debian `chromium-driver`) on a free loopback port, opens a
//! headless Chromium session with a fresh profile, and offers the few commands the tests
//! use. A missing Chromium or driver FAILS the test with the install command: these tests
//! are never skipped.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Flags for Chromium as root in a container with no network (without the background
/// networking ones it keeps trying to reach Google).
const CHROMIUM_FLAGS: [&str; 11] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1200",
    "--lang=en-US",
];

/// `CHROMIUM` / `CHROMEDRIVER` override the Debian paths.
fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: the console's browser tests need Chromium and its driver \
         (Debian: apt-get install -y chromium chromium-driver, as .ci/run does; or set {var})",
        path.display()
    );
    path
}

/// Where the tests keep their screenshots: `<target dir>/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

pub struct Browser {
    client: reqwest::Client,
    session: String,
    driver: Option<Child>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Self {
        image_pipeline::backends::install_tls_provider();
        let chromium = tool("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = crate::lifecycle::free_port();
        let driver = spawn_in_own_group(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let profile = tempfile::tempdir().unwrap();
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait_until_ready(&client, &base).await;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let answer = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap();
        let answer: Value = answer.json().await.unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver opened no session: {answer}"))
            .to_owned();
        Self {
            client,
            session: format!("{base}/session/{session}"),
            driver: Some(driver),
            _profile: profile,
        }
    }

    /// One command; its `value` (a WebDriver error fails the test with its message).
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {answer}");
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element `css` selects (the test fails if there is none).
    pub async fn find(&self, css: &str) -> String {
        let body = json!({"using": "css selector", "value": css});
        let found = self
            .command(reqwest::Method::POST, "/element", Some(body))
            .await;
        let id = found[ELEMENT_KEY].as_str();
        id.unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Types `text` into an element (for a file input: the files' paths, one per line).
    pub async fn send_keys(&self, element: &str, text: &str) {
        let path = format!("/element/{element}/value");
        self.command(reqwest::Method::POST, &path, Some(json!({"text": text})))
            .await;
    }

    pub async fn click(&self, element: &str) {
        let path = format!("/element/{element}/click");
        self.command(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    /// Runs `script` (a function body) in the page; what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.command(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let png = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// The browser console's entries since the last call (chromedriver's log endpoint).
    pub async fn console_log(&self) -> Vec<Value> {
        let body = json!({"type": "browser"});
        let log = self
            .command(reqwest::Method::POST, "/se/log", Some(body))
            .await;
        log.as_array().cloned().unwrap_or_default()
    }

    /// Fails the test if the page logged an error (a `SEVERE` console entry).
    pub async fn assert_no_errors(&self) {
        let errors: Vec<Value> = self
            .console_log()
            .await
            .into_iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .collect();
        assert!(errors.is_empty(), "the browser logged errors: {errors:?}");
    }

    /// Polls `script` until it returns `true`; `Err` (saying what) after `timeout`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.execute(script).await == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("{what}: not within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Ends the session (closes Chromium) and stops the driver.
    pub async fn quit(mut self) {
        let _ = self.client.delete(&self.session).send().await;
        if let Some(driver) = self.driver.take() {
            kill_group(driver);
        }
    }
}

impl Drop for Browser {
    /// A failed test still leaves no Chromium behind: the driver's process group goes.
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            kill_group(driver);
        }
    }
}

/// Starts `command` as the leader of a new process group (Chromium joins it).
fn spawn_in_own_group(command: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    command.process_group(0).spawn().unwrap()
}

/// Kills the process group this test started (the driver and its Chromium), by its id.
fn kill_group(mut child: Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

async fn wait_until_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/status")).send().await {
            let status: Value = response.json().await.unwrap_or_default();
            if status["value"]["ready"] == true {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not become ready on {base}");
}
