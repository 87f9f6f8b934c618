//! Picture thumbnails, made once when a picture is downloaded or sent, so the
//! conversation log loads a few kilobytes per picture and only the viewer loads the
//! full file. A thumbnail sits beside its picture as `<name>.thumb.jpg`; a video's
//! poster, made from the picture the server sends with it, sits beside the video the
//! same way.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::ImageReader;

/// The longest side of a thumbnail, in pixels (twice the log's widest picture, for
/// high-density screens).
pub const MAX_SIDE: u32 = 480;

/// Pictures larger than this many pixels are not decoded (a decompression bomb).
const MAX_PIXELS: u64 = 100_000_000;

/// Where `picture`'s thumbnail is (or would be).
pub fn thumbnail_path(picture: &Path) -> PathBuf {
    let mut name = picture.file_name().unwrap_or_default().to_os_string();
    name.push(".thumb.jpg");
    picture.with_file_name(name)
}

/// Why no thumbnail was made.
#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error("cannot read the picture: {0}")]
    Read(#[from] std::io::Error),
    #[error("not a picture this app can decode: {0}")]
    Decode(#[from] image::ImageError),
    #[error("the picture is too large to decode ({0} pixels)")]
    TooLarge(u64),
}

/// Makes `picture`'s thumbnail (owner-only, written to a temporary name then renamed)
/// and returns its path. Blocking: run it off the async workers. A picture already
/// small enough is still re-encoded, so the log never decodes an odd format.
pub fn make_thumbnail(picture: &Path) -> Result<PathBuf, ThumbnailError> {
    let target = thumbnail_path(picture);
    make_thumbnail_at(picture, &target).map(|()| target)
}

/// Makes a thumbnail of `picture` at `target`: for a video, its poster from the
/// picture the server sent with it (untrusted, so decoded and re-encoded here).
pub fn make_thumbnail_at(picture: &Path, target: &Path) -> Result<(), ThumbnailError> {
    let reader = ImageReader::open(picture)?.with_guessed_format()?;
    let (w, h) = reader.into_dimensions()?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(ThumbnailError::TooLarge(pixels));
    }
    let image = ImageReader::open(picture)?
        .with_guessed_format()?
        .decode()?;
    let small = if w.max(h) > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle)
    } else {
        image
    };
    let tmp = target.with_extension("jpg.part");
    let written = (|| -> Result<(), ThumbnailError> {
        let file = owner_only_file(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        small
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 80))?;
        use std::io::Write;
        out.flush()?;
        std::fs::rename(&tmp, target)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn owner_only_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
        let path = dir.join(name);
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        img.save(&path).unwrap();
        path
    }

    #[test]
    fn a_large_picture_gets_a_small_owner_only_jpeg_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let src = picture(dir.path(), "photo.png", 2000, 1000);
        let thumb = make_thumbnail(&src).unwrap();
        assert_eq!(thumb, dir.path().join("photo.png.thumb.jpg"));
        assert_eq!(thumb, thumbnail_path(&src));
        let made = image::open(&thumb).unwrap();
        assert_eq!((made.width(), made.height()), (480, 240));
        assert!(std::fs::metadata(&thumb).unwrap().len() < std::fs::metadata(&src).unwrap().len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&thumb).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.path().join("photo.png.thumb.jpg.part").exists());
    }

    #[test]
    fn a_small_picture_keeps_its_size_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = picture(dir.path(), "icon.png", 40, 30);
        let made = image::open(make_thumbnail(&src).unwrap()).unwrap();
        assert_eq!((made.width(), made.height()), (40, 30));
        let junk = dir.path().join("junk.jpg");
        std::fs::write(&junk, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
        assert!(make_thumbnail(&junk).is_err());
        assert!(!thumbnail_path(&junk).exists());
    }
}
