//! Pictures the app makes itself (a pasted clipboard image becomes a PNG file).

use std::io::Cursor;

/// Encodes straight RGBA pixels as PNG.
pub fn png_from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>, String> {
    let pixels = image::RgbaImage::from_raw(width, height, rgba.to_vec()).ok_or_else(|| {
        format!(
            "{} bytes are not a {width}×{height} RGBA picture",
            rgba.len()
        )
    })?;
    let mut out = Cursor::new(Vec::new());
    pixels
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgba_becomes_a_png_that_reads_back_and_a_wrong_size_is_refused() {
        let rgba: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
        let png = png_from_rgba(2, 3, &rgba).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!((back.width(), back.height()), (2, 3));
        assert_eq!(back.into_raw(), rgba);
        assert!(png_from_rgba(5, 5, &rgba).is_err());
    }
}
