//! How the unread total shows outside the window's content: in the window title,
//! "(3) Weixin Desk", and as a red dot on the tray icon.

use tauri::image::Image;

/// The window title for `total` unread messages.
pub fn title(app_name: &str, total: i64) -> String {
    match total {
        ..=0 => app_name.to_owned(),
        1..=99 => format!("({total}) {app_name}"),
        _ => format!("(99+) {app_name}"),
    }
}

/// The icon with a red dot in its top-right corner, ringed in white so it reads on
/// dark and light panels alike, its edges smoothed. `rgba` is `width * height` RGBA pixels.
pub fn badged(rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    const RED: [f32; 3] = [229.0, 57.0, 53.0];
    const WHITE: [f32; 3] = [255.0, 255.0, 255.0];
    let mut out = rgba.to_vec();
    let size = width.min(height) as f32;
    let radius = size * 0.2;
    let ring = (size * 0.05).max(1.0);
    let (cx, cy) = (width as f32 - radius - ring, radius + ring);
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let distance = (dx * dx + dy * dy).sqrt();
            // How much of the pixel each disc covers (a one-pixel soft edge).
            let ring_cover = (radius + ring + 0.5 - distance).clamp(0.0, 1.0);
            let dot_cover = (radius + 0.5 - distance).clamp(0.0, 1.0);
            if ring_cover == 0.0 {
                continue;
            }
            let at = ((y * width + x) * 4) as usize;
            let pixel = &mut out[at..at + 4];
            for (c, channel) in pixel.iter_mut().take(3).enumerate() {
                let under = *channel as f32;
                let ringed = under + (WHITE[c] - under) * ring_cover;
                *channel = (ringed + (RED[c] - ringed) * dot_cover).round() as u8;
            }
            let alpha = pixel[3] as f32;
            pixel[3] = (alpha + (255.0 - alpha) * ring_cover).round() as u8;
        }
    }
    out
}

/// The tray icon for `total` unread messages: the app icon, badged when there are any.
pub fn tray_icon(icon: &Image<'_>, total: i64) -> Image<'static> {
    let rgba = if total > 0 {
        badged(icon.rgba(), icon.width(), icon.height())
    } else {
        icon.rgba().to_vec()
    };
    Image::new_owned(rgba, icon.width(), icon.height())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_carries_the_total() {
        assert_eq!(title("Weixin Desk", 0), "Weixin Desk");
        assert_eq!(title("Weixin Desk", 3), "(3) Weixin Desk");
        assert_eq!(title("Weixin Desk", 250), "(99+) Weixin Desk");
    }

    #[test]
    fn the_badge_is_a_red_dot_top_right_and_leaves_the_rest() {
        let (w, h) = (32u32, 32u32);
        let plain = vec![0x10u8; (w * h * 4) as usize];
        let badged = badged(&plain, w, h);
        let pixel = |x: u32, y: u32| &badged[((y * w + x) * 4) as usize..][..4];
        // The dot's centre is red, the opposite corner untouched.
        assert_eq!(pixel(w - 9, 8), [0xe5, 0x39, 0x35, 0xff]);
        assert_eq!(pixel(2, h - 2), [0x10, 0x10, 0x10, 0x10]);
        assert_ne!(badged, plain);
    }
}
