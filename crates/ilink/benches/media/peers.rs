//! The same work done by other implementations, as child processes: the `openssl` CLI
//! and the Node script that mirrors the official client.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ilink::crypto::AesKey;

/// True if `program --version`-style probing with `args` runs.
pub fn available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs a command to completion and returns its wall time and stdout.
fn timed(command: &mut Command) -> io::Result<(Duration, String)> {
    let start = Instant::now();
    let output = command.output()?;
    let took = start.elapsed();
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok((took, String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// `openssl dgst -md5 FILE`: wall time (process included) and the hex digest.
pub fn openssl_md5(file: &Path) -> io::Result<(Duration, String)> {
    let (took, out) = timed(Command::new("openssl").args(["dgst", "-md5"]).arg(file))?;
    let digest = out.rsplit(' ').next().unwrap_or_default().trim().to_owned();
    Ok((took, digest))
}

/// `openssl enc -aes-128-ecb -K KEY -nosalt -in FILE -out OUT`: wall time.
pub fn openssl_encrypt(file: &Path, out: &Path, key: &AesKey) -> io::Result<Duration> {
    let (took, _) = timed(
        Command::new("openssl")
            .args(["enc", "-aes-128-ecb", "-nosalt", "-K", &hex::encode(key)])
            .arg("-in")
            .arg(file)
            .arg("-out")
            .arg(out),
    )?;
    Ok(took)
}

/// One core's throughput for `algorithm` (`["md5"]`, `["-evp", "aes-128-ecb"]`) by
/// `openssl speed` on 16 KiB buffers for one second, in bytes per second of CPU time
/// (its default), so other work on the machine does not lower it.
pub fn openssl_speed(algorithm: &[&str]) -> io::Result<f64> {
    let (_, out) = timed(
        Command::new("openssl")
            .args(["speed", "-seconds", "1", "-bytes", "16384"])
            .args(algorithm),
    )?;
    // The last line: `<name>  <thousands of bytes per second>k`.
    out.lines()
        .last()
        .and_then(|line| line.split_whitespace().last())
        .and_then(|v| v.strip_suffix('k'))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|thousands| thousands * 1000.0)
        .ok_or_else(|| io::Error::other(format!("cannot read `openssl speed` output: {out}")))
}

/// What `media_node.js` reports.
pub struct NodeRun {
    /// Wall time of the whole process, start-up included.
    pub wall: Duration,
    /// `fs.readFileSync` of the whole file.
    pub read: Duration,
    /// `createHash('md5')` over the buffer.
    pub md5: Duration,
    /// `createCipheriv('aes-128-ecb')` update + final.
    pub encrypt: Duration,
    /// Hex MD5 of the plaintext.
    pub md5_hex: String,
    /// Hex MD5 of the ciphertext.
    pub ct_md5_hex: String,
    /// Peak resident memory, kB.
    pub vmhwm_kb: u64,
}

/// Runs `node media_node.js FILE KEY`.
pub fn run_node(script: &Path, file: &Path, key: &AesKey) -> io::Result<NodeRun> {
    let (wall, out) = timed(
        Command::new("node")
            .arg(script)
            .arg(file)
            .arg(hex::encode(key)),
    )?;
    let json: serde_json::Value = serde_json::from_str(out.trim()).map_err(io::Error::other)?;
    let ms = |field: &str| Duration::from_secs_f64(json[field].as_f64().unwrap_or(0.0) / 1000.0);
    let text = |field: &str| json[field].as_str().unwrap_or_default().to_owned();
    Ok(NodeRun {
        wall,
        read: ms("read_ms"),
        md5: ms("md5_ms"),
        encrypt: ms("enc_ms"),
        md5_hex: text("md5"),
        ct_md5_hex: text("ct_md5"),
        vmhwm_kb: json["vmhwm_kb"].as_u64().unwrap_or(0),
    })
}

/// VmHWM of a Node process that does nothing.
pub fn node_idle_hwm_kb() -> io::Result<u64> {
    let (_, out) = timed(Command::new("node").args([
        "-e",
        "const s=require('fs').readFileSync('/proc/self/status','utf8');\
         console.log(/VmHWM:\\s*(\\d+)/.exec(s)[1])",
    ]))?;
    out.trim().parse().map_err(io::Error::other)
}
