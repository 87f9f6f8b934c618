//! SIGKILL during a download: `weixin-desk-cli run` fetches a large inbound file from
//! the emulator's CDN over a slow link and is killed mid-download three times. The next
//! start sweeps what the killed runs left and downloads again: exactly one file, whole
//! (the announced bytes), owner-only, and no temporary file anywhere.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use desk_core::Store;
use ilink_sim::{InboundMedia, KeyForm, Knobs, MediaKind};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const PEER: &str = "alice@im.wechat";
const FILE_BYTES: usize = 6 << 20;
/// Slow enough that every run is stopped well inside the download.
const CDN_BYTES_PER_SEC: u64 = 1 << 20;

struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => found.extend(files_under(&path)),
            Ok(kind) if kind.is_file() => found.push(path),
            _ => {}
        }
    }
    found
}

fn is_temporary(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.ends_with(".part") || name.ends_with(".download")
}

fn signal(child: &mut Child, sig: libc::c_int) {
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

#[test]
fn sigkill_during_a_download_three_times_leaves_one_whole_owner_only_file() {
    let rt = common::runtime();
    let sim = common::start_sim(&rt, 500);
    sim.set_knobs(Knobs {
        cdn_download_bytes_per_sec: Some(CDN_BYTES_PER_SEC),
        ..sim.knobs()
    });
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cli = || {
        let mut cmd = common::cli_command(&data, &sim.base_url(), "memory");
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    };
    let bot = sim.create_bot();
    sim.add_peer(&bot.bot_id, PEER).unwrap();
    let mut add = cli()
        .args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(bot.token.as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success());
    let account = ilink::account_id::normalize(&bot.bot_id);

    let mut content = vec![0; FILE_BYTES];
    StdRng::seed_from_u64(7).fill_bytes(&mut content);
    sim.inject_media(
        &bot.bot_id,
        PEER,
        InboundMedia {
            kind: MediaKind::File {
                name: "big.bin".into(),
            },
            bytes: content.clone(),
            key_form: KeyForm::HexBase64,
            full_url: false,
        },
    )
    .unwrap();

    let spawn_run = || {
        let mut child = cli()
            .args(["run", "--account", &account, "--token-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(bot.token.as_bytes())
            .unwrap();
        Killed(Some(child))
    };
    let media = data.join("media");
    for round in 0..3 {
        let mut run = spawn_run();
        // Killed once the download is well under way (a quarter MiB in).
        let deadline = Instant::now() + common::WAIT;
        loop {
            let started = files_under(&media)
                .iter()
                .any(|f| is_temporary(f) && f.metadata().is_ok_and(|m| m.len() >= 256 << 10));
            if started {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no download started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let child = run.0.as_mut().unwrap();
        signal(child, libc::SIGKILL);
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "round {round}: killed, not exited"
        );
        run.0 = None;
        // A run reuses its job's own temporary: kills do not pile up copies.
        let left: Vec<_> = files_under(&media);
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        assert!(is_temporary(&left[0]), "round {round}: {left:?}");
        assert!(
            (left[0].metadata().unwrap().len() as usize) < FILE_BYTES,
            "round {round}: stopped mid-download"
        );
    }

    // The next start, left alone until the file is in.
    let mut run = spawn_run();
    let deadline = Instant::now() + Duration::from_secs(120);
    let message = loop {
        let store = Store::open(&data.join("weixin-desk.sqlite3")).unwrap();
        let page = store.conversation_page(&account, PEER, None, 10).unwrap();
        let file = page.messages.into_iter().find(|m| m.item_kind == "file");
        if let Some(m) = file.filter(|m| m.media_state != "pending") {
            break m;
        }
        assert!(Instant::now() < deadline, "the download never finished");
        drop(store);
        std::thread::sleep(Duration::from_millis(100));
    };
    let child = run.0.as_mut().unwrap();
    signal(child, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    run.0 = None;

    assert_eq!(message.media_state, "ready", "{message:?}");
    let files = files_under(&media);
    assert_eq!(files.len(), 1, "one file and nothing else: {files:?}");
    let saved = &files[0];
    assert!(!is_temporary(saved), "{saved:?}");
    assert_eq!(
        data.join(message.media_path.as_deref().unwrap()),
        *saved,
        "the log names the file"
    );
    assert!(
        std::fs::read(saved).unwrap() == content,
        "the announced bytes, whole"
    );
    let mode = saved.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner-only, not {mode:o}");
    let leftovers: Vec<_> = files_under(&data)
        .into_iter()
        .filter(|f| is_temporary(f))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
