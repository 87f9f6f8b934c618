use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weixin-desk-cli"))
}

#[test]
fn info_reports_the_data_dir_it_created() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = cli()
        .args(["--data-dir", dir.to_str().unwrap(), "info", "--json"])
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["data_dir"], dir.to_str().unwrap());
    assert_eq!(info["locale"], "zh-CN");
    assert!(info["schema_version"].as_i64().unwrap() >= 1);
    assert!(dir.join("weixin-desk.sqlite3").is_file());
}

#[test]
fn an_unusable_data_dir_fails_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let out = cli()
        .args(["--data-dir", file.join("d").to_str().unwrap(), "info"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot use the data directory"), "{err}");
}
