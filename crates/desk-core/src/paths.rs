//! Where the engine keeps its files. The directory is private to its owner (0700) because
//! the database holds other people's messages and the long-poll cursor embeds a token.

use std::path::{Path, PathBuf};

use crate::CoreError;

/// Folder name under the platform data directory (`$XDG_DATA_HOME` on Linux).
pub const APP_DIR_NAME: &str = "weixin-desk";

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The per-user default: `$XDG_DATA_HOME/weixin-desk` (or the platform's equivalent).
    pub fn default_for_user() -> Result<DataDir, CoreError> {
        let base = dirs::data_dir().ok_or(CoreError::NoDataDir)?;
        DataDir::at(base.join(APP_DIR_NAME))
    }

    /// Uses (and creates, owner-only) the given directory.
    pub fn at(root: impl Into<PathBuf>) -> Result<DataDir, CoreError> {
        let root = root.into();
        create_private_dir(&root)?;
        Ok(DataDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("weixin-desk.sqlite3")
    }
}

fn create_private_dir(path: &Path) -> Result<(), CoreError> {
    let io_err = |source| CoreError::DataDir {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(path).map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(io_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_nested_owner_only_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(tmp.path().join("a/b")).unwrap();
        assert!(dir.root().is_dir());
        assert_eq!(dir.database(), tmp.path().join("a/b/weixin-desk.sqlite3"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.root()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn a_file_in_the_way_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("taken");
        std::fs::write(&blocker, b"x").unwrap();
        let err = DataDir::at(blocker.join("sub")).unwrap_err();
        assert!(matches!(err, CoreError::DataDir { .. }), "{err:?}");
        assert!(err.to_string().contains("taken"));
    }
}
