//! Peak resident memory (VmHWM) of uploading a 100 MiB file, each measured in a fresh
//! child process: this bench binary re-run in a child mode, and the Node script.

use std::io::{self, Read};
use std::path::Path;
use std::process::Command;

use ilink::client::{Client, ClientConfig};
use ilink::crypto;
use ilink::media::{checksum_file, upload_file, CdnConfig, OutboundKind};
use ilink::Secret;

use super::{node_script, peers, CHUNK};

/// The argument that puts the bench binary into a child mode.
const CHILD_FLAG: &str = "--peak-child";

/// Runs a child mode if the arguments ask for one; `Ok(true)` when it did.
pub fn child_main(args: &[String]) -> io::Result<bool> {
    let Some(at) = args.iter().position(|a| a == CHILD_FLAG) else {
        return Ok(false);
    };
    let mode = args.get(at + 1).map(String::as_str).unwrap_or_default();
    let file = args.get(at + 2).map(Path::new);
    match (mode, file) {
        ("idle", _) => {}
        ("pipeline", Some(file)) => pipeline(file)?,
        ("upload", Some(file)) => upload(file)?,
        _ => return Err(io::Error::other(format!("unknown child mode {mode:?}"))),
    }
    println!("VmHWM_KB={}", vm_hwm_kb()?);
    Ok(true)
}

/// The CPU path of an upload as `upload_file` runs it: its MD5 pass, then its
/// encryption pass with the chunks dropped where the connection would take them.
fn pipeline(file: &Path) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (rawsize, digest) = runtime
        .block_on(checksum_file(file, CHUNK))
        .map_err(io::Error::other)?;
    let key = crypto::random_key();
    runtime.block_on(super::for_ciphertext(file, &key, rawsize, |chunk| {
        std::hint::black_box(chunk);
        Ok(())
    }))?;
    std::hint::black_box(digest);
    Ok(())
}

/// The real `upload_file` against a loopback server in the same process that answers
/// `getuploadurl` and swallows the CDN upload (so the figure includes the server too).
fn upload(file: &Path) -> io::Result<()> {
    use axum::routing::post;
    use futures_util::StreamExt;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = axum::Router::new()
            .route(
                "/ilink/bot/getuploadurl",
                post(|| async { axum::Json(serde_json::json!({"ret": 0, "upload_param": "p"})) }),
            )
            .route(
                "/upload",
                post(|body: axum::body::Body| async move {
                    let mut stream = body.into_data_stream();
                    let mut received = 0usize;
                    while let Some(Ok(chunk)) = stream.next().await {
                        received += chunk.len();
                    }
                    std::hint::black_box(received);
                    [("x-encrypted-param", "download-param")]
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });

        let client = Client::new(
            ClientConfig {
                api_base: format!("http://{addr}"),
                use_system_proxy: false,
                ..ClientConfig::default()
            },
            Some(Secret::new("bench-token".to_owned())),
        )
        .map_err(io::Error::other)?;
        let cdn = CdnConfig {
            cdn_base: format!("http://{addr}"),
            ..CdnConfig::default()
        };
        let uploaded = upload_file(
            &client,
            &cdn,
            file,
            "peer@im.wechat",
            OutboundKind::File,
            None,
        )
        .await
        .map_err(io::Error::other)?;
        std::hint::black_box(uploaded);
        Ok(())
    })
}

fn vm_hwm_kb() -> io::Result<u64> {
    let mut status = String::new();
    std::fs::File::open("/proc/self/status")?.read_to_string(&mut status)?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmHWM in /proc/self/status"))
}

/// Runs this binary in `mode` and returns the child's VmHWM in kB.
fn ours(mode: &str, file: &Path) -> io::Result<u64> {
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .arg(mode)
        .arg(file)
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "child {mode} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM_KB="))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("child {mode} printed no VmHWM")))
}

/// Measures and prints the peak memory of uploading `file` (`size` bytes).
pub fn report(file: &Path, size: u64) -> io::Result<()> {
    println!();
    println!(
        "Peak resident memory (VmHWM) for a {} MiB upload, each in a fresh process:",
        size >> 20
    );
    let mib = |kb: u64| kb as f64 / 1024.0;
    let idle = ours("idle", file)?;
    println!(
        "  {:<58} {:>8.1} MiB",
        "ours: bench process doing nothing (baseline)",
        mib(idle)
    );
    let pipeline = ours("pipeline", file)?;
    println!(
        "  {:<58} {:>8.1} MiB",
        "ours: MD5 pass + encrypt pass, streamed",
        mib(pipeline)
    );
    let upload = ours("upload", file)?;
    println!(
        "  {:<58} {:>8.1} MiB",
        "ours: upload_file to a loopback sink (client + server)",
        mib(upload)
    );

    let Some(script) = node_script() else {
        println!("  node: not on PATH, skipped");
        return Ok(());
    };
    let node_idle = peers::node_idle_hwm_kb()?;
    println!(
        "  {:<58} {:>8.1} MiB",
        "node: process doing nothing (baseline)",
        mib(node_idle)
    );
    let node = peers::run_node(&script, file, &crypto::random_key())?;
    println!(
        "  {:<58} {:>8.1} MiB",
        "node: official way (read whole file, MD5, encrypt)",
        mib(node.vmhwm_kb)
    );
    println!(
        "  node / ours (upload_file): {:.1}x the peak memory; above baseline: {:.1} MiB vs {:.1} MiB",
        node.vmhwm_kb as f64 / upload as f64,
        mib(node.vmhwm_kb.saturating_sub(node_idle)),
        mib(upload.saturating_sub(idle)),
    );
    Ok(())
}
