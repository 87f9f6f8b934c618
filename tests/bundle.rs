//! Checks the Debian package `./dev test` builds: the binary, a desktop entry and icons.

use std::process::Command;

fn dpkg(args: &[&str]) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .output()
        .expect("run dpkg-deb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn deb_installs_binary_desktop_entry_and_icon() {
    let deb = match std::env::var("WEIXIN_DESK_DEB") {
        Ok(path) if !path.is_empty() => path,
        _ => {
            eprintln!("skipped: set WEIXIN_DESK_DEB to a built .deb (./dev test does)");
            return;
        }
    };
    let contents = dpkg(&["-c", &deb]);
    // dpkg-deb lists paths with or without a leading "./", depending on the builder.
    let has = |path: &str| {
        contents
            .lines()
            .any(|l| l.ends_with(&format!(" {path}")) || l.ends_with(&format!(" ./{path}")))
    };
    for expected in [
        "usr/bin/weixin-desk",
        "usr/share/applications/Weixin Desk.desktop",
        "usr/share/icons/hicolor/128x128/apps/weixin-desk.png",
    ] {
        assert!(has(expected), "{expected} missing from:\n{contents}");
    }

    let info = dpkg(&["-f", &deb, "Package", "Version", "Depends"]);
    assert!(info.contains("Package: weixin-desk"), "{info}");
    assert!(
        info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );
    assert!(info.contains("libwebkit2gtk-4.1"), "{info}");
    assert!(
        info.contains("fonts-noto-cjk"),
        "Chinese needs a CJK font: {info}"
    );

    let desktop = extract(&deb, "usr/share/applications/Weixin Desk.desktop");
    assert!(desktop.contains("Exec=weixin-desk"), "{desktop}");
    assert!(desktop.contains("Icon=weixin-desk"), "{desktop}");
    assert!(desktop.contains("Name=Weixin Desk"), "{desktop}");
    assert!(desktop.contains("Name[zh_CN]=微信机器人桌面"), "{desktop}");
    assert!(
        desktop.contains("Categories=Network;InstantMessaging;Chat;"),
        "{desktop}"
    );
}

fn extract(deb: &str, member: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb")
        .args(["-x", deb, dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(dir.path().join(member)).unwrap()
}
