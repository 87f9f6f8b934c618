//! Launching the app under tauri-driver with a fresh home per test, and small helpers.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use thirtyfour::prelude::*;
use thirtyfour::Capabilities;

pub const APP_BINARY: &str = env!("CARGO_BIN_EXE_weixin-desk");

/// One WebDriver session at a time: WebKitWebDriver and single-instance both need it.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the end-to-end environment was asked for; prints a skip notice otherwise.
pub fn enabled(test: &str) -> bool {
    let on = std::env::var("WEIXIN_DESK_E2E").as_deref() == Ok("1");
    if !on {
        eprintln!(
            "skipped {test}: set WEIXIN_DESK_E2E=1 (./dev test does) to run the real-window tests"
        );
    }
    on
}

/// A private home for one test: data, config and temp folders the app is pointed at.
pub struct Home {
    _root: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    pub tmp: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        let root = tempfile::tempdir().expect("temp dir");
        let sub = |name: &str| {
            let path = root.path().join(name);
            std::fs::create_dir_all(&path).expect("create test dir");
            path
        };
        let (data, config, tmp) = (sub("data"), sub("config"), sub("tmp"));
        Home {
            _root: root,
            data,
            config,
            tmp,
        }
    }

    /// The environment the app runs with: this home, and the given system language.
    pub fn env(&self, lang: &str) -> Vec<(&'static str, String)> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("XDG_DATA_HOME", path(&self.data)),
            ("XDG_CONFIG_HOME", path(&self.config)),
            ("TMPDIR", path(&self.tmp)),
            ("LANG", lang.to_owned()),
            ("LC_ALL", lang.to_owned()),
            ("LANGUAGE", String::new()),
            ("NO_AT_BRIDGE", "1".to_owned()),
        ]
    }
}

/// A running app with a WebDriver session on it. Tests must use a multi-threaded tokio
/// runtime: if a test fails before `quit`, thirtyfour ends the session synchronously.
pub struct App {
    pub driver: WebDriver,
    tauri_driver: Child,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

/// Extra environment and arguments for the app under test.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub env: Vec<(&'static str, String)>,
    pub args: Vec<String>,
}

impl Launch {
    /// Points the app at a test-owned emulator (`WEIXIN_DESK_SIM`).
    pub fn sim(base_url: &str) -> Launch {
        Launch {
            env: vec![("WEIXIN_DESK_SIM", base_url.to_owned())],
            args: Vec::new(),
        }
    }

    pub fn args(args: &[&str]) -> Launch {
        Launch {
            env: Vec::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }
}

impl App {
    pub async fn launch(home: &Home, lang: &str) -> App {
        App::launch_with(home, lang, Launch::default()).await
    }

    pub async fn launch_with(home: &Home, lang: &str, launch: Launch) -> App {
        let serial = SERIAL.lock().await;
        // On a loaded machine the first WebDriver handshake can fail; each retry starts
        // from a clean process group so no stale app instance is left to hand over to.
        let mut last_error = String::new();
        for _attempt in 0..3 {
            match start_session(home, lang, &launch).await {
                Ok((driver, tauri_driver)) => {
                    let app = App {
                        driver,
                        tauri_driver,
                        _serial: serial,
                    };
                    app.wait_ready().await;
                    return app;
                }
                Err(err) => last_error = err,
            }
        }
        panic!("no WebDriver session after 3 attempts: {last_error}");
    }

    /// Waits until the UI has loaded its data from the backend.
    pub async fn wait_ready(&self) {
        self.driver
            .query(By::Css("[data-testid='app-frame'][data-ready='true']"))
            .wait(Duration::from_secs(30), Duration::from_millis(100))
            .first()
            .await
            .expect("the first screen did not become ready");
    }

    /// The element's text as written (`textContent`, not the CSS-transformed rendering).
    pub async fn text_of(&self, testid: &str) -> String {
        self.element(testid)
            .await
            .prop("textContent")
            .await
            .expect("read text")
            .unwrap_or_default()
    }

    /// Waits up to `limit` for an element matching `css`.
    pub async fn find_css(&self, css: &str, limit: Duration) -> WebElement {
        self.driver
            .query(By::Css(css.to_owned()))
            .wait(limit, Duration::from_millis(100))
            .first()
            .await
            .unwrap_or_else(|err| panic!("no element {css}: {err}"))
    }

    /// Every element matching `css`, now.
    pub async fn all_css(&self, css: &str) -> Vec<WebElement> {
        self.driver
            .find_all(By::Css(css.to_owned()))
            .await
            .unwrap_or_default()
    }

    /// Waits until `script` (a function body returning a value) returns `expected`.
    pub async fn wait_script(&self, script: &str, expected: serde_json::Value, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let value = self
                .driver
                .execute(script, vec![])
                .await
                .map(|r| r.json().clone())
                .unwrap_or(serde_json::Value::Null);
            if value == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "script {script:?} returned {value}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until the element's text contains `part`.
    pub async fn wait_text_contains(&self, testid: &str, part: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text_of(testid).await;
            if text.contains(part) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{testid} reads {text:?}, expected it to contain {part:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn element(&self, testid: &str) -> WebElement {
        self.driver
            .query(By::Css(format!("[data-testid='{testid}']")))
            .wait(Duration::from_secs(10), Duration::from_millis(100))
            .first()
            .await
            .unwrap_or_else(|err| panic!("no element {testid}: {err}"))
    }

    /// Waits until the element's text is `expected`.
    pub async fn wait_text(&self, testid: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text_of(testid).await;
            if text.trim() == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{testid} reads {text:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `target/e2e-shots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-shots");
        std::fs::create_dir_all(&dir).expect("create screenshot dir");
        // WebKit paints after the DOM changes; wait for two frames (or a second) so the
        // picture shows the state the test just checked.
        let _ = self
            .driver
            .execute_async(
                "const done = arguments[arguments.length - 1]; document.body.getBoundingClientRect(); requestAnimationFrame(() => requestAnimationFrame(() => done(true))); setTimeout(() => done(false), 1000);",
                vec![],
            )
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        // What the display shows, grabbed from X: the app draws in software, and
        // WebKit's own snapshot (WebDriver's screenshot) never answers in that mode.
        let rect = self.driver.get_window_rect().await.expect("window rect");
        let (x, y) = (rect.x.max(0), rect.y.max(0));
        let path = dir.join(format!("{name}.png"));
        let grabbed = Command::new("gst-launch-1.0")
            .arg("-q")
            .arg("ximagesrc")
            .arg(format!("startx={x}"))
            .arg(format!("starty={y}"))
            .arg(format!("endx={}", x + rect.width - 1))
            .arg(format!("endy={}", y + rect.height - 1))
            .args([
                "use-damage=false",
                "show-pointer=false",
                "num-buffers=1",
                "!",
                "videoconvert",
                "!",
                "pngenc",
                "!",
                "filesink",
            ])
            .arg(format!("location={}", path.display()))
            .status()
            .expect("run gst-launch-1.0 (./dev installs gstreamer1.0-tools)");
        assert!(grabbed.success(), "grabbing the screen for {name} failed");
    }

    /// Stops the app, WebKitWebDriver and tauri-driver. The app hides on close instead of
    /// exiting, so WebDriver's own session teardown would wait forever: the process group
    /// goes first, and the session is then released against a closed port (fails fast).
    pub async fn quit(mut self) {
        kill_group(&mut self.tauri_driver);
        let _ = self.driver.clone().quit().await;
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // Also runs after a failed assertion, so no app outlives its test.
        kill_group(&mut self.tauri_driver);
    }
}

async fn start_session(
    home: &Home,
    lang: &str,
    launch: &Launch,
) -> Result<(WebDriver, Child), String> {
    let (port, native_port) = (free_port(), free_port());
    let mut tauri_driver = Command::new(tauri_driver_path())
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .envs(home.env(lang))
        .envs(launch.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot start tauri-driver (./dev test installs it): {err}"))?;
    let session = async {
        wait_for_port(port, Duration::from_secs(30))?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({ "application": APP_BINARY, "args": launch.args }),
        );
        WebDriver::new(format!("http://127.0.0.1:{port}"), Capabilities::from(caps))
            .await
            .map_err(|err| err.to_string())
    };
    match session.await {
        Ok(driver) => Ok((driver, tauri_driver)),
        Err(err) => {
            kill_group(&mut tauri_driver);
            Err(err)
        }
    }
}

fn tauri_driver_path() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return path.into();
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_default();
    let installed = cargo_home.join("bin/tauri-driver");
    if installed.exists() {
        installed
    } else {
        "tauri-driver".into()
    }
}

pub fn kill_group(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // tauri-driver, WebKitWebDriver and the app share one process group (pgid = child pid).
    let Ok(group) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    signal_group(group, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Whatever is left of the group (the app, WebKit helpers) goes too.
    signal_group(group, libc::SIGKILL);
    let _ = child.wait();
}

fn signal_group(group: libc::pid_t, signal: libc::c_int) {
    // SAFETY: killpg only sends a signal; `group` is a group this harness created.
    unsafe {
        libc::killpg(group, signal);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_for_port(port: u16, limit: Duration) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("nothing listening on {addr} after {limit:?}"))
}

/// Polls `check` until it is true or `limit` passes.
pub async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
