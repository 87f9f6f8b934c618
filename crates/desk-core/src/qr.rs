//! The login QR code, drawn on this machine from the login URL (no service sees it) by
//! the `qrcode` crate's own renderers: Unicode half blocks for the terminal, SVG for the
//! window.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// The code as text lines of Unicode half blocks (two module rows per line, dark modules
/// as ink, with the quiet zone scanners need), or `None` if `text` is too long for a QR
/// code. Low error correction keeps it small on a terminal.
pub fn terminal(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::L).ok()?;
    Some(
        code.render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Dark)
            .light_color(unicode::Dense1x2::Light)
            .quiet_zone(true)
            .build(),
    )
}

/// The code as an SVG element, one unit per module and the quiet zone included, black on
/// white; the window scales it. `None` if `text` is too long for a QR code.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M).ok()?;
    let document = code
        .render::<svg::Color<'_>>()
        .module_dimensions(1, 1)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .quiet_zone(true)
        .build();
    // The renderer writes a standalone document; the window embeds the element only.
    let element = document.find("<svg").map(|at| document[at..].to_owned());
    debug_assert!(
        element.is_some(),
        "the renderer always writes an <svg> element"
    );
    element
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://liteapp.weixin.qq.com/q/7GiQu1?qrcode=4f1d8c2e9a7b&bot_type=3";

    /// Decodes a module grid (true = dark) with an independent QR decoder, drawn at
    /// several pixels per module as a camera would see it.
    fn decode(grid: &[Vec<bool>]) -> String {
        const SCALE: usize = 4;
        let side = grid.len();
        assert!(
            grid.iter().all(|row| row.len() == side),
            "the code is square"
        );
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side * SCALE, side * SCALE, |x, y| {
                if grid[y / SCALE][x / SCALE] {
                    0
                } else {
                    255
                }
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the picture");
        grids[0].decode().expect("the QR code decodes").1
    }

    /// The modules the terminal lines draw: each character is an upper and a lower one.
    fn terminal_modules(text: &str) -> Vec<Vec<bool>> {
        let lines: Vec<&str> = text.lines().collect();
        let width = lines[0].chars().count();
        let mut grid = vec![Vec::new(); lines.len() * 2];
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line.chars().count(), width, "line {i}");
            for c in line.chars() {
                let (upper, lower) = match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected character {other:?}"),
                };
                grid[2 * i].push(upper);
                grid[2 * i + 1].push(lower);
            }
        }
        // An odd number of module rows leaves the last line's lower half empty.
        grid.truncate(width);
        grid
    }

    /// The modules the SVG paints: its path is a list of `M{x} {y}h1v1H{x}V{y}` squares
    /// on a white `viewBox` of one unit per module.
    fn svg_modules(svg: &str) -> Vec<Vec<bool>> {
        let view_box = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|w| w.parse::<usize>().ok())
            .expect("a viewBox");
        let path = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        let mut grid = vec![vec![false; view_box]; view_box];
        for square in path.expect("a path").split('M').filter(|s| !s.is_empty()) {
            let (x, rest) = square.split_once(' ').expect("x y");
            let (y, size) = rest.split_once('h').expect("a width");
            assert!(size.starts_with("1v1H"), "{square}");
            grid[y.parse::<usize>().unwrap()][x.parse::<usize>().unwrap()] = true;
        }
        grid
    }

    #[test]
    fn the_terminal_code_decodes_back_to_the_login_url() {
        let text = terminal(URL).unwrap();
        let grid = terminal_modules(&text);
        // The quiet zone: four light module rows and columns on every side.
        assert!(grid[..4].iter().all(|row| row.iter().all(|m| !m)));
        assert!(grid.iter().all(|row| row[..4].iter().all(|m| !m)));
        assert_eq!(decode(&grid), URL);
    }

    #[test]
    fn the_window_svg_decodes_back_to_the_login_url() {
        let picture = svg(URL).unwrap();
        assert!(picture.starts_with("<svg ") && picture.ends_with("</svg>"));
        assert!(!picture.contains(URL), "the URL is drawn, never written");
        assert_eq!(decode(&svg_modules(&picture)), URL);
        let other = svg(&URL.replace('4', "5")).unwrap();
        assert_ne!(svg_modules(&picture), svg_modules(&other));
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_refused() {
        let long = "x".repeat(8000);
        assert!(terminal(&long).is_none());
        assert!(svg(&long).is_none());
    }
}
