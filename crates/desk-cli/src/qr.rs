//! A QR code drawn with Unicode half blocks: two module rows per text line, dark modules
//! as ink, with the four-module quiet zone scanners need.

use qrcodegen::{QrCode, QrCodeEcc};

const QUIET_ZONE: i32 = 4;

/// The lines that draw `text` as a QR code, or `None` if it is too long to encode.
pub fn render(text: &str) -> Option<Vec<String>> {
    let code = QrCode::encode_text(text, QrCodeEcc::Low).ok()?;
    let size = code.size();
    let dark =
        |x: i32, y: i32| (0..size).contains(&x) && (0..size).contains(&y) && code.get_module(x, y);
    let range = -QUIET_ZONE..size + QUIET_ZONE;
    let lines = range
        .clone()
        .step_by(2)
        .map(|y| {
            range
                .clone()
                .map(|x| match (dark(x, y), dark(x, y + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                })
                .collect()
        })
        .collect();
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_two_module_rows_per_line_with_a_quiet_zone() {
        let text = "https://liteapp.weixin.qq.com/q/7GiQu1?qrcode=abc&bot_type=3";
        let code = QrCode::encode_text(text, QrCodeEcc::Low).unwrap();
        let lines = render(text).unwrap();
        let width = (code.size() + 2 * QUIET_ZONE) as usize;
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == width));
        // Quiet zone: the first two lines are blank.
        assert!(lines[..2].iter().all(|l| l.trim().is_empty()));
        // The top-left finder pattern: its first row is 7 dark modules, so line 2 (module
        // rows 0 and 1) starts with 4 blanks and 7 upper-or-full blocks.
        let row: Vec<char> = lines[2].chars().collect();
        assert!(row[..4].iter().all(|c| *c == ' '));
        assert!(
            row[4..11].iter().all(|c| matches!(c, '▀' | '█')),
            "{}",
            lines[2]
        );
        // Every module is drawn as what the code says.
        for y in 0..code.size() {
            for x in 0..code.size() {
                let line: Vec<char> = lines[((y + QUIET_ZONE) / 2) as usize].chars().collect();
                let c = line[(x + QUIET_ZONE) as usize];
                let upper = (y + QUIET_ZONE) % 2 == 0;
                let drawn = match c {
                    '█' => true,
                    '▀' => upper,
                    '▄' => !upper,
                    _ => false,
                };
                assert_eq!(drawn, code.get_module(x, y), "module ({x}, {y})");
            }
        }
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_refused() {
        assert!(render(&"x".repeat(8000)).is_none());
    }
}
