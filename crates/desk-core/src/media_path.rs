//! Where downloaded media goes: `media/<account>/<yyyy-mm>/<sanitised name>` under the
//! data directory. File names come from the network (`file_item.file_name`) and are
//! hostile until proven otherwise (docs/architecture.md, invariant 5).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::{CoreError, DataDir};

/// Longest sanitised name, in bytes. Most file systems allow 255; the rest is room for a
/// ` (n)` collision suffix.
pub const MAX_NAME_BYTES: usize = 200;

/// Longest extension kept apart when a long name is shortened, in bytes.
const MAX_EXTENSION_BYTES: usize = 16;

/// How many ` (n)` variants are tried before giving up.
const MAX_COLLISIONS: u32 = 10_000;

/// A file name safe to create on Linux, macOS and Windows: the last path component only,
/// no control or invisible formatting characters, no characters Windows forbids, no
/// leading dots (hidden files, `..`), no trailing dots or spaces, not a reserved device
/// name, at most [`MAX_NAME_BYTES`] bytes (cut on a character boundary, extension kept),
/// never empty.
pub fn sanitize_file_name(untrusted: &str) -> String {
    let last_component = untrusted.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last_component
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            other => other,
        })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let mut name = if trimmed.is_empty() {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    };
    if is_reserved_on_windows(&name) {
        name.insert(0, '_');
    }
    shorten(&name, MAX_NAME_BYTES)
}

/// The media file's path relative to the data directory, before collisions are resolved.
pub fn media_path(account_id: &str, time_ms: i64, untrusted_name: &str) -> PathBuf {
    media_dir(account_id, time_ms).join(sanitize_file_name(untrusted_name))
}

fn media_dir(account_id: &str, time_ms: i64) -> PathBuf {
    let (year, month) = year_month_utc(time_ms);
    Path::new("media")
        .join(sanitize_file_name(account_id))
        .join(format!("{year:04}-{month:02}"))
}

impl DataDir {
    /// Creates a new, empty, owner-only media file for `untrusted_name` and returns its
    /// path relative to the data directory (what the database stores) with the open file.
    /// An existing file is never reused: the name gets ` (2)`, ` (3)` … instead.
    pub fn create_media_file(
        &self,
        account_id: &str,
        time_ms: i64,
        untrusted_name: &str,
    ) -> Result<(PathBuf, File), CoreError> {
        let relative_dir = media_dir(account_id, time_ms);
        let dir = self.root().join(&relative_dir);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| CoreError::DataDir { path, source }
        };
        create_private_dirs(self.root(), &relative_dir).map_err(io_err(&dir))?;
        let name = sanitize_file_name(untrusted_name);
        for n in 1..=MAX_COLLISIONS {
            let candidate = numbered(&name, n);
            let path = dir.join(&candidate);
            match open_new(&path) {
                Ok(file) => return Ok((relative_dir.join(candidate), file)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Err(io_err(&dir.join(&name))(std::io::Error::new(
            ErrorKind::AlreadyExists,
            "too many files with this name",
        )))
    }
}

impl DataDir {
    /// Opens (creating or truncating) the owner-only file `name` in the media folder of
    /// `account_id` for `time_ms`, under exactly that name: a job's temporary file, which
    /// each retry reuses instead of leaving one more behind. `name` must be made by the
    /// caller, not taken from the network.
    pub fn open_media_temporary(
        &self,
        account_id: &str,
        time_ms: i64,
        name: &str,
    ) -> Result<(PathBuf, File), CoreError> {
        let relative_dir = media_dir(account_id, time_ms);
        let path = self.root().join(&relative_dir).join(name);
        let io_err = |source| CoreError::DataDir {
            path: path.clone(),
            source,
        };
        create_private_dirs(self.root(), &relative_dir).map_err(io_err)?;
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(io_err)?;
        Ok((relative_dir.join(name), file))
    }

    /// Deletes the temporary files a killed run left in the media folder (downloads in
    /// progress `*.download`, partial files and thumbnails `*.part`) and returns how
    /// many. Run it before any download starts.
    pub fn sweep_media_temporaries(&self) -> usize {
        fn sweep(dir: &Path, removed: &mut usize) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if kind.is_dir() {
                    sweep(&path, removed);
                } else if kind.is_file()
                    && is_temporary(&entry.file_name().to_string_lossy())
                    && std::fs::remove_file(&path).is_ok()
                {
                    *removed += 1;
                }
            }
        }
        let mut removed = 0;
        sweep(&self.root().join("media"), &mut removed);
        removed
    }
}

/// A name only this app's temporary files have. Network names are sanitised, so they
/// never start with a dot: the engine's own temporary names do. Thumbnails in progress
/// end `.thumb.jpg.part`; earlier versions left `<kind>-<id>[ (n)].download[.part]`.
fn is_temporary(name: &str) -> bool {
    if name.starts_with('.') {
        return name.ends_with(".download") || name.ends_with(".part");
    }
    if name.ends_with(".thumb.jpg.part") {
        return true;
    }
    let name = name.strip_suffix(".part").unwrap_or(name);
    let Some(stem) = name.strip_suffix(".download") else {
        return false;
    };
    let stem = match stem.strip_suffix(')').and_then(|s| s.rsplit_once(" (")) {
        Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => stem,
        _ => stem,
    };
    let Some((kind, id)) = stem.split_once('-') else {
        return false;
    };
    matches!(kind, "image" | "video" | "file" | "voice")
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
}

/// `name` for the first, then `stem (n).ext`.
fn numbered(name: &str, n: u32) -> String {
    if n == 1 {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    format!("{stem} ({n}){extension}")
}

/// Splits `report.pdf` into (`report`, `.pdf`); a name without a usable extension keeps
/// everything in the stem.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES => name.split_at(dot),
        _ => (name, ""),
    }
}

/// Cuts `name` to `max` bytes on a character boundary, keeping a short extension.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let budget = max.saturating_sub(extension.len());
    let mut end = budget.min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    let cut = stem[..end].trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    format!("{cut}{extension}")
}

/// Bidirectional overrides and zero-width characters, which can make `evil.exe` display
/// as `exe.pdf` or hide parts of a name.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// CON, PRN, AUX, NUL, COM1–9 and LPT1–9, with or without an extension, any case.
fn is_reserved_on_windows(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit()
            && upper.as_bytes()[3] != b'0')
}

fn open_new(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates each missing directory of `relative` under `root`, owner-only.
fn create_private_dirs(root: &Path, relative: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(root.join(relative))
}

/// The UTC year and month of a Unix time in milliseconds (Howard Hinnant's
/// days-to-civil algorithm, so no date crate is needed for one folder name).
fn year_month_utc(time_ms: i64) -> (i64, u32) {
    let days = time_ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32)
}

/// A file's type from its name's extension, `application/octet-stream` otherwise.
pub fn mime_for_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_recognised_and_swept_and_kept_names_are_not() {
        for name in [
            ".file-7.download",
            ".image-12.download",
            "photo.png.thumb.jpg.part",
            "file-7.download",
            "image-3 (2).download",
            "video-9.download.part",
        ] {
            assert!(is_temporary(name), "{name}");
        }
        for name in [
            "report.pdf",
            "movie.part",
            "notes.download",
            "file-x.download",
            "photo.png.thumb.jpg",
        ] {
            assert!(!is_temporary(name), "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path()).unwrap();
        let (rel, _) = data
            .open_media_temporary("acc", 0, ".file-1.download")
            .unwrap();
        let (again, _) = data
            .open_media_temporary("acc", 0, ".file-1.download")
            .unwrap();
        assert_eq!(rel, again, "the same name each time");
        let (kept, _) = data.create_media_file("acc", 0, "movie.part").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.root().join(&rel))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(data.sweep_media_temporaries(), 1);
        assert!(!data.root().join(rel).exists());
        assert!(data.root().join(kept).exists());
    }

    #[test]
    fn hostile_names_become_harmless() {
        let cases = [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\Windows\\system.ini", "system.ini"),
            ("/absolute/path.txt", "path.txt"),
            ("..", "file"),
            ("...", "file"),
            (".bashrc", "bashrc"),
            ("  . hidden.txt", "hidden.txt"),
            ("", "file"),
            ("dir/", "file"),
            ("a\0b\nc\u{7f}.txt", "abc.txt"),
            ("inv\u{202E}fdp.exe", "invfdp.exe"),
            ("zero\u{200B}width.png", "zerowidth.png"),
            ("what?<are>:you*doing|\".doc", "what__are__you_doing__.doc"),
            ("trailing. . ", "trailing"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Lpt1.log", "_Lpt1.log"),
            ("COM0.txt", "COM0.txt"),
            ("CONSOLE.txt", "CONSOLE.txt"),
            ("报告 2024.xlsx", "报告 2024.xlsx"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_file_name(input), expected, "{input:?}");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "文".repeat(100)); // 300 bytes of stem
        let cut = sanitize_file_name(&long);
        assert!(cut.len() <= MAX_NAME_BYTES, "{}", cut.len());
        assert!(cut.ends_with(".pdf"));
        assert_eq!(cut.len(), 3 * 65 + 4, "65 whole characters fit before .pdf");

        let no_ext = "x".repeat(1000);
        assert_eq!(sanitize_file_name(&no_ext).len(), MAX_NAME_BYTES);
        // An absurd "extension" is not preserved at the cost of the name.
        let fake_ext = format!("a.{}", "b".repeat(500));
        assert_eq!(sanitize_file_name(&fake_ext).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn paths_are_filed_by_account_and_utc_month() {
        // 2024-02-29T23:59:59.999Z and a moment later.
        assert_eq!(
            media_path("b1-im-bot", 1_709_251_199_999, "a.png"),
            Path::new("media/b1-im-bot/2024-02/a.png")
        );
        assert_eq!(
            media_path("b1-im-bot", 1_709_251_200_000, "a.png"),
            Path::new("media/b1-im-bot/2024-03/a.png")
        );
        assert_eq!(year_month_utc(0), (1970, 1));
        assert_eq!(year_month_utc(-1), (1969, 12));
        assert_eq!(year_month_utc(4_102_444_800_000), (2100, 1));
        assert_eq!(
            media_path("../evil", 0, "x"),
            Path::new("media/evil/1970-01/x")
        );
    }

    #[test]
    fn collisions_get_numbered_and_files_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::at(tmp.path()).unwrap();
        let t = 1_709_251_200_000;
        let names: Vec<PathBuf> = [
            "report.pdf",
            "../report.pdf",
            "report.pdf",
            "README",
            "README",
        ]
        .into_iter()
        .map(|n| data.create_media_file("acc", t, n).unwrap().0)
        .collect();
        let dir = Path::new("media/acc/2024-03");
        assert_eq!(
            names,
            [
                dir.join("report.pdf"),
                dir.join("report (2).pdf"),
                dir.join("report (3).pdf"),
                dir.join("README"),
                dir.join("README (2)"),
            ]
        );
        for name in &names {
            assert!(data.root().join(name).is_file());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&data.root().join(&names[0])), 0o600);
            assert_eq!(mode(&data.root().join(dir)), 0o700);
            assert_eq!(mode(&data.root().join("media/acc")), 0o700);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_name_sanitises_to_one_safe_component(name in "\\PC{0,300}|[./\\\\ \u{0}-\u{1f}\u{202e}\u{200b}:aC]{0,40}") {
            let safe = sanitize_file_name(&name);
            proptest::prop_assert!(!safe.is_empty());
            proptest::prop_assert!(safe.len() <= MAX_NAME_BYTES);
            proptest::prop_assert!(!safe.starts_with('.'));
            proptest::prop_assert!(!safe.contains(['/', '\\']));
            proptest::prop_assert!(!safe.chars().any(|c| c.is_control() || is_invisible_format(c)));
            proptest::prop_assert!(!is_reserved_on_windows(&safe));
            // Sanitising is idempotent: a safe name stays as it is.
            proptest::prop_assert_eq!(sanitize_file_name(&safe), safe.clone());
            let path = media_path("acc", 0, &name);
            proptest::prop_assert_eq!(path.components().count(), 4);
        }
    }

    #[test]
    fn a_long_name_still_numbers_within_limits() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::at(tmp.path()).unwrap();
        let long = format!("{}.txt", "y".repeat(400));
        data.create_media_file("acc", 0, &long).unwrap();
        let (second, _) = data.create_media_file("acc", 0, &long).unwrap();
        let name = second.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(" (2).txt") && name.len() <= 255, "{name}");
    }
}
