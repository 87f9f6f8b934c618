//! The CLI on a server: no D-Bus session, secrets in the encrypted file, every account
//! in one `run`. Each child runs without a session bus, as on a server.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const PEER: &str = "alice@im.wechat";

/// A server-like CLI: no session bus, secrets in the file under `key`.
fn server_cli(h: &Harness, secrets: &str, key: Option<&Path>) -> Command {
    let mut cmd = h.cli_with_secrets(secrets);
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("WEIXIN_DESK_SECRETS_KEY_FILE");
    if let Some(key) = key {
        cmd.arg("--secrets-key-file").arg(key);
    }
    cmd
}

fn new_key(h: &Harness) -> PathBuf {
    let key = h.tmp.path().join("keys/weixin-desk.key");
    assert_ok(
        &server_cli(h, "file", None)
            .args(["secrets", "new-key"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    key
}

fn secrets_file(h: &Harness) -> PathBuf {
    h.data.join("secrets.enc")
}

/// Adds a sim bot as an account through the file store; returns (bot, account id).
fn add_bot(h: &Harness, key: &Path) -> (ilink_sim::BotInfo, String) {
    let bot = h.sim.create_bot();
    h.sim.add_peer(&bot.bot_id, PEER).unwrap();
    let out = with_stdin(
        server_cli(h, "file", Some(key)).args([
            "add-account",
            "--bot-id",
            &bot.bot_id,
            "--token-stdin",
        ]),
        &format!("{}\n", bot.token),
    );
    assert_ok(&out);
    let account = ilink::account_id::normalize(&bot.bot_id);
    (bot, account)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn after_a_qr_login_run_in_a_fresh_process_serves_the_account_with_nothing_typed() {
    let h = Harness::new();
    let key = new_key(&h);
    // `auto` finds no keyring here, takes the key file and says so once.
    let (mut login, _stdin, stdout, stderr) =
        spawn_piped(server_cli(&h, "auto", Some(&key)).arg("login"));
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.starts_with("waiting: scan"));
    let qr = h.sim.latest_qrcode().unwrap();
    h.sim.scan_qr(&qr).unwrap();
    let bot = h.sim.confirm_qr(&qr, None).unwrap().unwrap();
    h.sim.add_peer(&bot.bot_id, PEER).unwrap();
    let account = ilink::account_id::normalize(&bot.bot_id);
    wait_line(&stdout, &mut seen, |l| l.starts_with("logged in"));
    assert!(login.wait_exit().success(), "{}", seen.join("\n"));
    let notes: Vec<String> = stderr.try_iter().collect();
    let said = notes
        .iter()
        .filter(|l| l.contains("secrets are kept encrypted in"))
        .count();
    assert_eq!(said, 1, "{notes:?}");
    assert!(secrets_file(&h).exists());
    let mut printed = seen.join("\n") + &notes.join("\n");

    // A fresh process, stdin closed: the token comes from the file.
    let (mut run, _stdin, stdout, stderr) =
        spawn_piped(server_cli(&h, "auto", Some(&key)).arg("run"));
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| {
        l.contains(&account) && l.contains("status online")
    });
    h.sim
        .inject_text(&bot.bot_id, PEER, "hello server")
        .unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("hello server"));
    run.stop(libc::SIGTERM);
    seen.extend(stdout.try_iter());
    seen.extend(stderr.try_iter());
    printed.push_str(&seen.join("\n"));

    // The AI provider's key goes to the same file; a fresh process finds it there.
    let ai_key = "sk-server-secret-42";
    let out = with_stdin(
        server_cli(&h, "auto", Some(&key)).args([
            "ai",
            "provider",
            "--preset",
            "openai",
            "--key-stdin",
        ]),
        &format!("{ai_key}\n"),
    );
    printed.push_str(&text(assert_ok(&out)));
    let out = assert_ok(
        &server_cli(&h, "auto", Some(&key))
            .args(["ai", "status", "--json"])
            .output()
            .unwrap(),
    )
    .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["api_key_stored"], true, "{doc}");
    assert_eq!(doc["secrets_persistent"], true, "{doc}");

    // Neither the token, the AI key nor the file's key is in the data folder or in what
    // was printed.
    let key_text = std::fs::read_to_string(&key).unwrap().trim().to_owned();
    assert!(!printed.contains(&bot.token) && !printed.contains(&key_text));
    assert!(!printed.contains(ai_key));
    let mut files = Vec::new();
    files_under(&h.data, &mut files);
    assert!(files.len() > 1);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!contains(&bytes, &bot.token), "token in {}", file.display());
        assert!(!contains(&bytes, &key_text), "key in {}", file.display());
        assert!(!contains(&bytes, ai_key), "AI key in {}", file.display());
    }
}

#[test]
fn ten_accounts_run_in_one_process() {
    let h = Harness::new();
    let key = new_key(&h);
    let accounts: Vec<String> = (0..10).map(|_| add_bot(&h, &key).1).collect();
    let (mut run, _stdin, stdout, _stderr) =
        spawn_piped(server_cli(&h, "file", Some(&key)).arg("run"));
    let mut seen = Vec::new();
    for account in &accounts {
        if !seen
            .iter()
            .any(|l: &String| l.contains(account.as_str()) && l.contains("status online"))
        {
            wait_line(&stdout, &mut seen, |l| {
                l.contains(account.as_str()) && l.contains("status online")
            });
        }
    }
    run.stop(libc::SIGTERM);
}

#[test]
fn a_wrong_key_a_damaged_file_and_no_key_are_errors_that_change_nothing() {
    let h = Harness::new();
    let key = new_key(&h);
    add_bot(&h, &key);
    let file = secrets_file(&h);
    let before = std::fs::read(&file).unwrap();
    let attempt = |cmd: &mut Command| {
        let out = cmd.arg("run").output().unwrap();
        assert!(!out.status.success());
        text(&out)
    };

    let other = h.tmp.path().join("keys/other.key");
    assert_ok(
        &server_cli(&h, "file", None)
            .args(["secrets", "new-key"])
            .arg(&other)
            .output()
            .unwrap(),
    );
    let said = attempt(&mut server_cli(&h, "file", Some(&other)));
    assert!(said.contains("wrong key for the secrets file"), "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // No key at all: `file` and `auto` (the folder has a secrets file) both refuse.
    for mode in ["file", "auto"] {
        let said = attempt(&mut server_cli(&h, mode, None));
        assert!(
            said.contains("no key for the secrets file"),
            "{mode}: {said}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), before);
    }

    // A key file others can read is refused.
    let loose = h.tmp.path().join("keys/loose.key");
    std::fs::copy(&key, &loose).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let said = attempt(&mut server_cli(&h, "file", Some(&loose)));
    assert!(said.contains("not private"), "{said}");

    let mut damaged = before.clone();
    let middle = damaged.len() - 5;
    damaged[middle] ^= 0x40;
    std::fs::write(&file, &damaged).unwrap();
    let said = attempt(&mut server_cli(&h, "file", Some(&key)));
    assert!(said.contains("secrets file is damaged"), "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), damaged);
    // Adding an account does not write over it either.
    let out = with_stdin(
        server_cli(&h, "file", Some(&key)).args([
            "add-account",
            "--bot-id",
            "x@im.bot",
            "--token-stdin",
        ]),
        "tok\n",
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&file).unwrap(), damaged);
}

/// keyring → file → keyring with the real gnome-keyring. Runs only when
/// `WEIXIN_DESK_KEYRING_TEST=1` (`./dev test` provides the session).
#[test]
fn secrets_migrate_round_trip_with_a_keyring() {
    if std::env::var("WEIXIN_DESK_KEYRING_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: set WEIXIN_DESK_KEYRING_TEST=1 to test the real keyring");
        return;
    }
    let h = Harness::new();
    let key = h.tmp.path().join("keys/k");
    let cli = |secrets: &str| {
        let mut cmd = h.cli_with_secrets(secrets);
        cmd.arg("--secrets-key-file").arg(&key);
        cmd
    };
    assert_ok(
        &cli("file")
            .args(["secrets", "new-key"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    let bot = h.sim.create_bot();
    assert_ok(&with_stdin(
        cli("keyring").args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"]),
        &format!("{}\n", bot.token),
    ));
    let account = ilink::account_id::normalize(&bot.bot_id);
    let out = assert_ok(
        &cli("keyring")
            .args(["secrets", "migrate", "--to", "file"])
            .output()
            .unwrap(),
    )
    .clone();
    assert!(stdout(&out).contains("moved 1 secret(s)"), "{}", text(&out));
    assert!(secrets_file(&h).exists());
    // The keyring no longer has it: a run on the keyring alone cannot start the account.
    let (mut run, _stdin, stdout_lines, _e) = spawn_piped(cli("file").arg("run"));
    let mut seen = Vec::new();
    wait_line(&stdout_lines, &mut seen, |l| {
        l.contains(&account) && l.contains("status online")
    });
    run.stop(libc::SIGTERM);
    let out = assert_ok(
        &cli("keyring")
            .args(["secrets", "migrate", "--to", "keyring"])
            .output()
            .unwrap(),
    )
    .clone();
    assert!(stdout(&out).contains("moved 1 secret(s)"), "{}", text(&out));
    assert!(!secrets_file(&h).exists(), "the emptied file is removed");
    let (mut run, _stdin, stdout_lines, _e) = spawn_piped(cli("keyring").arg("run"));
    let mut seen = Vec::new();
    wait_line(&stdout_lines, &mut seen, |l| {
        l.contains(&account) && l.contains("status online")
    });
    run.stop(libc::SIGTERM);
    // Tidy the shared keyring.
    let out = cli("keyring")
        .args(["secrets", "migrate", "--to", "file"])
        .output()
        .unwrap();
    assert_ok(&out);
}

/// One GET on loopback: (status code, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

/// The value of the sample `name` whose labels include every pair of `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    find_sample(scrape, name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

/// Like [`sample`], `None` while the sample is not there yet (a labelled counter appears
/// with its first count).
fn find_sample(
    scrape: &prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let found = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
    Some(match found.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        prometheus_parse::Value::Histogram(ref buckets) => {
            buckets.iter().map(|b| b.count).fold(0.0, f64::max)
        }
        ref other => panic!("unexpected {other:?}"),
    })
}

fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let (code, body) = http_get(addr, "/metrics");
    assert_eq!(code, 200);
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).unwrap()
}

/// Polls (bounded) until `check` holds.
fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !check() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn health_and_metrics_follow_the_accounts_and_status_reads_them() {
    let h = Harness::new();
    let key = new_key(&h);
    let (bot, account) = add_bot(&h, &key);
    let (_other_bot, other) = add_bot(&h, &key);
    // Anything but loopback needs --listen-any.
    let out = server_cli(&h, "file", Some(&key))
        .args(["run", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("--listen-any"), "{}", text(&out));

    let (mut run, _stdin, run_out, stderr) =
        spawn_piped(server_cli(&h, "file", Some(&key)).args(["run", "--listen", "127.0.0.1:0"]));
    let mut seen = Vec::new();
    wait_line(&stderr, &mut seen, |l| {
        l.starts_with("health and metrics at http://")
    });
    let addr = seen.last().unwrap()["health and metrics at http://".len()..]
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let written = std::fs::read_to_string(h.data.join("weixin-desk-cli.listen")).unwrap();
    assert_eq!(written.trim(), addr);
    eventually("both online", || http_get(&addr, "/healthz").0 == 200);
    let (_, health) = http_get(&addr, "/healthz");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["healthy"], true);
    assert_eq!(health["accounts"].as_array().unwrap().len(), 2);

    h.sim.inject_text(&bot.bot_id, PEER, "count me").unwrap();
    let mut out_lines = Vec::new();
    wait_line(&run_out, &mut out_lines, |l| l.contains("count me"));
    eventually("the message is counted", || {
        find_sample(
            &scrape(&addr),
            "weixin_desk_messages_received_total",
            &[("kind", "text")],
        ) == Some(1.0)
    });
    let metrics = scrape(&addr);
    assert_eq!(
        sample(&metrics, "weixin_desk_accounts", &[("status", "online")]),
        2.0
    );
    assert_eq!(
        sample(
            &metrics,
            "weixin_desk_accounts",
            &[("status", "stale_token")]
        ),
        0.0
    );
    assert_eq!(
        sample(&metrics, "weixin_desk_outbox", &[("state", "queued")]),
        0.0
    );
    assert_eq!(
        sample(&metrics, "weixin_desk_receive_latency_seconds_count", &[]),
        1.0
    );
    // One message stored: nothing waits, and storing never had a backlog to hold polls.
    assert_eq!(sample(&metrics, "weixin_desk_inbound_waiting", &[]), 0.0);
    // The account's last batch held the one message: its next poll counts it as
    // expected until the server has held that poll for 100 ms.
    let expected = sample(&metrics, "weixin_desk_inbound_expected", &[]);
    assert!(expected == 0.0 || expected == 1.0, "expected {expected}");
    assert_eq!(
        sample(&metrics, "weixin_desk_polls_by_permit_total", &[]),
        0.0
    );

    // A reply queued next to the running service is counted once delivered.
    let out = server_cli(&h, "file", None)
        .args([
            "send",
            "--queue",
            "--account",
            &account,
            "--to",
            PEER,
            "counted",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    wait_line(&run_out, &mut out_lines, |l| l.contains("delivered"));
    eventually("the delivery is counted", || {
        find_sample(
            &scrape(&addr),
            "weixin_desk_messages_sent_total",
            &[("outcome", "delivered")],
        ) == Some(1.0)
    });
    let metrics = scrape(&addr);
    assert_eq!(
        sample(&metrics, "weixin_desk_outbox", &[("state", "delivered")]),
        1.0
    );
    assert_eq!(
        sample(&metrics, "weixin_desk_outbox", &[("state", "queued")]),
        0.0
    );

    let out = assert_ok(
        &server_cli(&h, "file", None)
            .args(["status", "--json"])
            .output()
            .unwrap(),
    )
    .clone();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["healthy"], true);
    assert_eq!(
        status["metrics"]["weixin_desk_accounts{status=\"online\"}"],
        2.0
    );

    // A stale token (errcode -14) makes the service unhealthy, and says which account.
    h.sim.revoke_token(&bot.bot_id).unwrap();
    eventually("503 on a stale token", || {
        http_get(&addr, "/healthz").0 == 503
    });
    let (_, health) = http_get(&addr, "/healthz");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    let of = |id: &str| {
        health["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account_id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(of(&account), "stale_token");
    assert_eq!(of(&other), "online");
    assert_eq!(
        sample(
            &scrape(&addr),
            "weixin_desk_poll_errors_total",
            &[("kind", "stale_token")]
        ),
        1.0
    );
    let out = server_cli(&h, "file", None).arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(stdout(&out).contains("NOT healthy"), "{}", text(&out));

    // Neither the token nor the key is in the service's environment.
    let environ = std::fs::read(format!("/proc/{}/environ", run.child().id())).unwrap();
    let key_text = std::fs::read_to_string(&key).unwrap().trim().to_owned();
    assert!(!contains(&environ, &bot.token) && !contains(&environ, &key_text));

    run.stop(libc::SIGTERM);
    assert!(
        !h.data.join("weixin-desk-cli.listen").exists(),
        "the address file goes with it"
    );
}

/// The README's "On a server" commands, in order.
fn readme_server_commands() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let section = readme.split("## On a server").nth(1).expect("the section");
    let block = section
        .split("```sh")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What `systemctl start` does with a unit, as far as this test needs: the key as a
/// credential in a private folder, a notify socket, a watchdog, then ExecStart.
struct AsSystemdWould {
    credentials: PathBuf,
    notify: std::os::unix::net::UnixDatagram,
    notify_path: PathBuf,
}

impl AsSystemdWould {
    fn new(dir: &Path, unit: &str) -> AsSystemdWould {
        let credentials = dir.join("credentials");
        std::fs::create_dir_all(&credentials).unwrap();
        let line = unit
            .lines()
            .find(|l| l.starts_with("LoadCredential="))
            .expect("a credential");
        let (name, source) = line["LoadCredential=".len()..].split_once(':').unwrap();
        assert_eq!(name, "weixin-desk.key");
        std::fs::copy(source, credentials.join(name)).unwrap();
        let notify_path = dir.join("notify.sock");
        let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
        notify.set_read_timeout(Some(WAIT)).unwrap();
        AsSystemdWould {
            credentials,
            notify,
            notify_path,
        }
    }

    fn exec_start(&self, unit: &str, env: &[(&str, PathBuf)]) -> Command {
        let line = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        let mut words = line["ExecStart=".len()..].split_whitespace();
        let mut cmd = Command::new(words.next().unwrap());
        cmd.args(words)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("CREDENTIALS_DIRECTORY", &self.credentials)
            .env("NOTIFY_SOCKET", &self.notify_path)
            .env("WATCHDOG_USEC", "2000000");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Waits (bounded) for a notification holding `what`.
    fn wait_for(&self, what: &str) {
        let mut buf = [0u8; 512];
        loop {
            let n = self.notify.recv(&mut buf).expect("a notification in time");
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == what)
            {
                return;
            }
        }
    }
}

#[test]
fn the_readme_commands_take_a_fresh_server_to_a_running_service() {
    let h = Harness::new();
    let commands = readme_server_commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    let home = h.tmp.path().join("home");
    let env = [
        ("HOME", home.clone()),
        ("XDG_CONFIG_HOME", home.join(".config")),
        ("XDG_DATA_HOME", home.join(".local/share")),
    ];
    let as_typed = |line: &str| {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("weixin-desk-cli"), "{line}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weixin-desk-cli"));
        // The one addition: the emulator instead of the real service.
        cmd.args(["--sim", &h.sim.base_url()])
            .args(words)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("WEIXIN_DESK_SECRETS_KEY_FILE")
            .env_remove("RUST_LOG");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd
    };

    // 1. service install --user
    let out = assert_ok(&as_typed(&commands[0]).output().unwrap()).clone();
    let unit_path = home.join(".config/systemd/user/weixin-desk-cli.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for option in [
        "Type=notify",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "WatchdogSec=",
        "LoadCredential=weixin-desk.key:",
        &format!(
            "ReadWritePaths={}",
            home.join(".local/share/weixin-desk").display()
        ),
    ] {
        assert!(unit.contains(option), "{option} in\n{unit}");
    }
    assert!(
        stdout(&out).contains("enable --now weixin-desk-cli"),
        "{}",
        text(&out)
    );
    verify_unit(&h, &unit_path);

    // 2. login
    let (mut login, _stdin, login_out, _e) = spawn_piped(&mut as_typed(&commands[1]));
    let mut seen = Vec::new();
    wait_line(&login_out, &mut seen, |l| l.starts_with("waiting: scan"));
    let qr = h.sim.latest_qrcode().unwrap();
    h.sim.scan_qr(&qr).unwrap();
    let bot = h.sim.confirm_qr(&qr, None).unwrap().unwrap();
    h.sim.add_peer(&bot.bot_id, PEER).unwrap();
    wait_line(&login_out, &mut seen, |l| l.starts_with("logged in"));
    assert!(login.wait_exit().success());
    let data = home.join(".local/share/weixin-desk");
    assert!(data.join("secrets.enc").exists());

    // 3. systemctl --user enable --now weixin-desk-cli: systemd is not running here, so
    // the test starts the unit's ExecStart as systemd would.
    assert_eq!(commands[2], "systemctl --user enable --now weixin-desk-cli");
    let systemd = AsSystemdWould::new(h.tmp.path(), &unit);
    // The unit listens on its fixed port; a test must not depend on it being free.
    let unit = unit.replace("--listen 127.0.0.1:9187", "--listen 127.0.0.1:0");
    let (mut service, _stdin, service_out, service_err) =
        spawn_piped(&mut systemd.exec_start(&unit, &env));
    systemd.wait_for("READY=1");
    systemd.wait_for("WATCHDOG=1");
    let mut notes = Vec::new();
    wait_line(&service_err, &mut notes, |l| {
        l.starts_with("health and metrics at")
    });
    let account = ilink::account_id::normalize(&bot.bot_id);
    let mut seen = Vec::new();
    wait_line(&service_out, &mut seen, |l| {
        l.contains(&account) && l.contains("status online")
    });
    h.sim.inject_text(&bot.bot_id, PEER, "are you up").unwrap();
    wait_line(&service_out, &mut seen, |l| l.contains("are you up"));
    let status = assert_ok(&as_typed("weixin-desk-cli status").output().unwrap()).clone();
    assert!(stdout(&status).contains("healthy"), "{}", text(&status));
    service.stop(libc::SIGTERM);
    systemd.wait_for("STOPPING=1");

    // Nothing secret in plaintext anywhere the service wrote or printed.
    let key_text = std::fs::read_to_string(home.join(".config/weixin-desk/secrets.key"))
        .unwrap()
        .trim()
        .to_owned();
    seen.extend(notes);
    let printed = seen.join("\n");
    assert!(!printed.contains(&bot.token) && !printed.contains(&key_text));
    let mut files = Vec::new();
    files_under(&data, &mut files);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!contains(&bytes, &bot.token), "token in {}", file.display());
        assert!(!contains(&bytes, &key_text), "key in {}", file.display());
    }

    // `service uninstall --user` removes the unit and keeps the data.
    assert_ok(
        &as_typed("weixin-desk-cli service uninstall --user")
            .output()
            .unwrap(),
    );
    assert!(!unit_path.exists());
    assert!(data.join("secrets.enc").exists());
}

/// `systemd-analyze --user verify` finds nothing to say about the unit, where the tool
/// is installed (`./dev` installs it).
fn verify_unit(h: &Harness, unit: &Path) {
    let runtime = h.tmp.path().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = match Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("systemd-analyze is needed (./dev installs systemd): {e}"),
    };
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).trim(), "", "systemd-analyze has remarks");
}

/// A child on a pseudo-terminal of its own (its controlling terminal, as a login shell
/// gives), so that it asks for a passphrase on /dev/tty.
struct OnTerminal {
    child: Guard,
    master: std::fs::File,
    output: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl OnTerminal {
    fn spawn(cmd: &mut Command) -> OnTerminal {
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        let (mut master, mut slave) = (0, 0);
        let made = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(made, 0, "openpty");
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = Guard(Some(cmd.spawn().unwrap()));
        let (tx, output) = std::sync::mpsc::channel();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        OnTerminal {
            child,
            master,
            output,
            seen: String::new(),
        }
    }

    /// Waits (bounded) until the terminal has shown `text` since the last wait.
    fn wait_for(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("never showed {text:?}; shown:\n{}", self.seen),
            }
        }
        let at = self.seen.find(text).unwrap() + text.len();
        self.seen.drain(..at);
    }

    fn type_line(&mut self, line: &str) {
        use std::io::Write;
        self.master
            .write_all(format!("{line}\r").as_bytes())
            .unwrap();
    }

    /// Ctrl-D: the end of what is typed on stdin.
    fn end_input(&mut self) {
        use std::io::Write;
        self.master.write_all(&[4]).unwrap();
    }

    fn exit_code(&mut self) -> Option<i32> {
        self.child.wait_exit().code()
    }
}

#[test]
fn a_passphrase_typed_on_the_terminal_locks_the_file() {
    let h = Harness::new();
    let bot = h.sim.create_bot();
    h.sim.add_peer(&bot.bot_id, PEER).unwrap();
    let account = ilink::account_id::normalize(&bot.bot_id);
    let mut add = OnTerminal::spawn(server_cli(&h, "file", None).args([
        "add-account",
        "--bot-id",
        &bot.bot_id,
        "--token-stdin",
    ]));
    add.type_line(&bot.token);
    add.end_input();
    add.wait_for("passphrase for the secrets file: ");
    add.type_line("correct horse battery");
    add.wait_for("the same passphrase again: ");
    add.type_line("correct horse battery");
    add.wait_for("saved");
    assert_eq!(add.exit_code(), Some(0));
    let file = secrets_file(&h);
    let before = std::fs::read(&file).unwrap();

    // A wrong passphrase: an error, and the file as it was.
    let mut run = OnTerminal::spawn(server_cli(&h, "auto", None).arg("run"));
    run.wait_for("passphrase for the secrets file: ");
    run.type_line("wrong horse");
    run.wait_for("wrong key for the secrets file");
    assert_eq!(run.exit_code(), Some(1));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // The right one, asked once (the file exists): the account runs.
    let mut run = OnTerminal::spawn(server_cli(&h, "auto", None).arg("run"));
    run.wait_for("passphrase for the secrets file: ");
    run.type_line("correct horse battery");
    run.wait_for(&format!("{account} status online"));
    let pid = run.child.child().id() as libc::pid_t;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(run.exit_code(), Some(0));
}
