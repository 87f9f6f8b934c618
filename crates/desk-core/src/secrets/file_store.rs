//! Secrets in one encrypted file, for servers without a keyring (docs/architecture.md,
//! invariant 4). XChaCha20-Poly1305 over the whole set, with a key the service manager
//! holds (a systemd credential or an owner-only key file) or one derived from a
//! passphrase with Argon2id. There is no plaintext mode.
//!
//! Layout: the header (magic, key kind, Argon2 parameters and salt, a key check), then a
//! random nonce and the ciphertext of a JSON object `{key: value}`. The header is the
//! associated data, so changing any byte of it fails authentication.
//!
//! A wrong key, a damaged file or no key are errors that leave the file as it was: it is
//! only ever replaced whole (temporary file, fsync, rename), and only after it was read
//! and decrypted with the same key.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

use super::{Secret, SecretError, SecretKey, SecretStore};

/// The secrets file's name in the data folder.
pub const SECRETS_FILE_NAME: &str = "secrets.enc";
/// The systemd credential name the key is read from (`LoadCredential[Encrypted]=`).
pub const CREDENTIAL_NAME: &str = "weixin-desk.key";

const MAGIC: &[u8; 8] = b"WXDSEC\x00\x01";
const KIND_RAW: u8 = 1;
const KIND_PASSPHRASE: u8 = 2;
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 16;
const NONCE_LEN: usize = 24;
/// magic, kind, m/t/p (3 × u32), salt, check.
const HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN + CHECK_LEN;
const CHECK_CONTEXT: &[u8] = b"weixin-desk secrets key check";

/// Where the file's key comes from.
pub enum FileKey {
    /// 32 bytes from the service manager or a key file.
    Raw(Zeroizing<[u8; 32]>),
    /// A passphrase, stretched with Argon2id and the file's salt.
    Passphrase(Secret),
}

impl FileKey {
    /// The key systemd hands the service (`$CREDENTIALS_DIRECTORY/weixin-desk.key`), if
    /// it runs under one that does.
    pub fn from_credentials_directory() -> Result<Option<FileKey>, SecretError> {
        let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
            return Ok(None);
        };
        let path = Path::new(&dir).join(CREDENTIAL_NAME);
        if !path.exists() {
            return Ok(None);
        }
        // systemd makes the credential readable by the service alone.
        read_key_bytes(&path).map(Some)
    }

    /// The key in `path`, which must be a regular file that only its owner (this user)
    /// can read or write.
    pub fn from_key_file(path: &Path) -> Result<FileKey, SecretError> {
        let shown = path.display().to_string();
        let meta =
            std::fs::metadata(path).map_err(|e| SecretError::NoKey(format!("{shown}: {e}")))?;
        if !meta.is_file() {
            return Err(SecretError::NoKey(format!("{shown} is not a file")));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.mode() & 0o077 != 0 {
                return Err(SecretError::KeyFileNotPrivate(format!(
                    "{shown} has mode {:o}; it must be readable by its owner only (chmod 600)",
                    meta.mode() & 0o777
                )));
            }
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            if meta.uid() != me {
                return Err(SecretError::KeyFileNotPrivate(format!(
                    "{shown} belongs to another user"
                )));
            }
        }
        read_key_bytes(path)
    }

    /// A new random key, written to `path` (created owner-only, never overwritten).
    pub fn create_key_file(path: &Path) -> Result<(), SecretError> {
        let key: Zeroizing<[u8; 32]> = Zeroizing::new(rand::random());
        let mut text = Zeroizing::new(hex_encode(key.as_ref()));
        text.push('\n');
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("cannot create", parent, e))?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(|e| io_error("cannot create the key file", path, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("cannot write the key file", path, e))
    }
}

/// A key is 32 raw bytes or 64 hex digits (a trailing newline is fine).
fn read_key_bytes(path: &Path) -> Result<FileKey, SecretError> {
    let shown = path.display().to_string();
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|e| SecretError::NoKey(format!("{shown}: {e}")))?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() == 32 {
        key.copy_from_slice(&bytes);
        return Ok(FileKey::Raw(key));
    }
    let text = std::str::from_utf8(&bytes).unwrap_or("").trim();
    if text.len() == 64 && hex_decode(text, key.as_mut()) {
        return Ok(FileKey::Raw(key));
    }
    Err(SecretError::NoKey(format!(
        "{shown} does not hold a key (32 bytes, or 64 hex digits)"
    )))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str, out: &mut [u8]) -> bool {
    let digits = text.as_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = std::str::from_utf8(&digits[2 * i..2 * i + 2]).unwrap_or("zz");
        match u8::from_str_radix(pair, 16) {
            Ok(v) => *byte = v,
            Err(_) => return false,
        }
    }
    true
}

/// The parts of the header that decide the key.
#[derive(Clone, Copy)]
struct Header {
    kind: u8,
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    salt: [u8; SALT_LEN],
}

impl Header {
    fn new(key: &FileKey) -> Header {
        let params = argon2::Params::default();
        Header {
            kind: match key {
                FileKey::Raw(_) => KIND_RAW,
                FileKey::Passphrase(_) => KIND_PASSPHRASE,
            },
            m_cost: params.m_cost(),
            t_cost: params.t_cost(),
            p_cost: params.p_cost(),
            salt: rand::random(),
        }
    }

    fn encode(&self, check: &[u8; CHECK_LEN]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.push(self.kind);
        for n in [self.m_cost, self.t_cost, self.p_cost] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(check);
        out
    }

    fn decode(bytes: &[u8]) -> Result<(Header, [u8; CHECK_LEN]), String> {
        if bytes.len() < HEADER_LEN + NONCE_LEN + 16 {
            return Err("it is too short".into());
        }
        if &bytes[..8] != MAGIC {
            return Err("it is not a Weixin Desk secrets file".into());
        }
        let kind = bytes[8];
        if kind != KIND_RAW && kind != KIND_PASSPHRASE {
            return Err(format!("unknown key kind {kind}"));
        }
        let n = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        let header = Header {
            kind,
            m_cost: n(9),
            t_cost: n(13),
            p_cost: n(17),
            salt: bytes[21..21 + SALT_LEN].try_into().unwrap_or([0; SALT_LEN]),
        };
        let check = bytes[21 + SALT_LEN..HEADER_LEN]
            .try_into()
            .unwrap_or([0; CHECK_LEN]);
        Ok((header, check))
    }

    /// The encryption key for `key` under this header.
    fn derive(&self, key: &FileKey, path: &Path) -> Result<Zeroizing<[u8; 32]>, SecretError> {
        match (key, self.kind) {
            (FileKey::Raw(raw), KIND_RAW) => Ok(raw.clone()),
            (FileKey::Passphrase(phrase), KIND_PASSPHRASE) => {
                let params = argon2::Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32))
                    .map_err(|e| corrupt(path, &format!("bad Argon2 parameters ({e})")))?;
                let argon = argon2::Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params,
                );
                let mut out = Zeroizing::new([0u8; 32]);
                argon
                    .hash_password_into(phrase.expose().as_bytes(), &self.salt, out.as_mut())
                    .map_err(|e| corrupt(path, &format!("Argon2 failed ({e})")))?;
                Ok(out)
            }
            (FileKey::Raw(_), _) => Err(SecretError::WrongKey(format!(
                "{} is locked with a passphrase, not a key file",
                path.display()
            ))),
            (FileKey::Passphrase(_), _) => Err(SecretError::WrongKey(format!(
                "{} is locked with a key (a key file or a service credential), not a passphrase",
                path.display()
            ))),
        }
    }
}

/// A fingerprint of the key: the tag of an empty message under a fixed nonce. It tells
/// a wrong key from a damaged file, and reveals nothing a ciphertext does not.
fn key_check(cipher: &XChaCha20Poly1305) -> [u8; CHECK_LEN] {
    let tag = cipher
        .encrypt(
            &XNonce::default(),
            Payload {
                msg: &[],
                aad: CHECK_CONTEXT,
            },
        )
        .unwrap_or_default();
    tag.try_into().unwrap_or([0; CHECK_LEN])
}

fn corrupt(path: &Path, why: &str) -> SecretError {
    SecretError::Corrupt(format!("{}: {why}", path.display()))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> SecretError {
    SecretError::Backend(format!("{what} {}: {e}", path.display()))
}

/// The decrypted set, wiped from memory when dropped.
#[derive(Default)]
struct Secrets(BTreeMap<String, String>);

impl Drop for Secrets {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

/// The encrypted secrets file. Every read goes to the file, so a secret another process
/// stored (`ai provider --key-stdin` next to a running `run`) is seen at once.
pub struct FileStore {
    path: PathBuf,
    header: Header,
    cipher: XChaCha20Poly1305,
}

impl FileStore {
    /// Opens `path` with `key`: an existing file must decrypt with it (else an error, and
    /// the file is left alone); a missing one is created on the first write.
    pub fn open(path: impl Into<PathBuf>, key: FileKey) -> Result<FileStore, SecretError> {
        let path = path.into();
        let header = match std::fs::read(&path) {
            Ok(bytes) => {
                Header::decode(&bytes)
                    .map_err(|why| corrupt(&path, &why))?
                    .0
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Header::new(&key),
            Err(e) => return Err(io_error("cannot read", &path, e)),
        };
        let derived = header.derive(&key, &path)?;
        let cipher = XChaCha20Poly1305::new(derived.as_ref().into());
        let store = FileStore {
            path,
            header,
            cipher,
        };
        // Proves the key (and the whole file) now, not at the first secret.
        store.read_all()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every secret's key, for moving them to another store.
    pub fn keys(&self) -> Result<Vec<String>, SecretError> {
        Ok(self.read_all()?.0.keys().cloned().collect())
    }

    fn read_all(&self) -> Result<Secrets, SecretError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Secrets::default()),
            Err(e) => return Err(io_error("cannot read", &self.path, e)),
        };
        let (header, check) = Header::decode(&bytes).map_err(|why| corrupt(&self.path, &why))?;
        if header.salt != self.header.salt || header.kind != self.header.kind {
            return Err(SecretError::WrongKey(format!(
                "{} was replaced with a file locked by another key",
                self.path.display()
            )));
        }
        if check != key_check(&self.cipher) {
            return Err(SecretError::WrongKey(format!(
                "{} cannot be opened with this key or passphrase",
                self.path.display()
            )));
        }
        let nonce = XNonce::from_slice(&bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    nonce,
                    Payload {
                        msg: &bytes[HEADER_LEN + NONCE_LEN..],
                        aad: &bytes[..HEADER_LEN],
                    },
                )
                .map_err(|_| {
                    corrupt(
                        &self.path,
                        "it does not authenticate (damaged or changed; the key is right)",
                    )
                })?,
        );
        let secrets = serde_json::from_slice(&plain)
            .map_err(|_| corrupt(&self.path, "its contents are not a set of secrets"))?;
        Ok(Secrets(secrets))
    }

    /// Reads, changes and writes back the whole set, under a lock shared with other
    /// processes on the same file.
    fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), SecretError> {
        let lock_path = self.path.with_extension("lock");
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let lock = options
            .open(&lock_path)
            .map_err(|e| io_error("cannot open the lock file", &lock_path, e))?;
        lock.lock()
            .map_err(|e| io_error("cannot lock", &lock_path, e))?;
        let mut secrets = self.read_all()?;
        change(&mut secrets.0);
        self.write_all(&secrets)
    }

    fn write_all(&self, secrets: &Secrets) -> Result<(), SecretError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(&secrets.0).map_err(|e| SecretError::Backend(e.to_string()))?,
        );
        let header = self.header.encode(&key_check(&self.cipher));
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce_bytes),
                Payload {
                    msg: &plain,
                    aad: &header,
                },
            )
            .map_err(|_| SecretError::Backend("encryption failed".into()))?;
        let mut bytes = header;
        bytes.extend_from_slice(&nonce_bytes);
        bytes.extend_from_slice(&sealed);
        write_atomically(&self.path, &bytes)
    }
}

/// Temporary file beside the target (owner-only), fsync, rename, fsync of the folder: a
/// crash leaves the old file or the new one, never half of either.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error("cannot write", path, e)
    })
}

impl SecretStore for FileStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretError> {
        Ok(self
            .read_all()?
            .0
            .get(key.as_str())
            .map(|v| Secret::new(v.clone())))
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretError> {
        self.update(|all| {
            if let Some(mut old) = all.insert(key.as_str().to_owned(), value.expose().to_owned()) {
                old.zeroize();
            }
        })
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretError> {
        if !self.read_all()?.0.contains_key(key.as_str()) {
            return Ok(());
        }
        self.update(|all| {
            if let Some(mut old) = all.remove(key.as_str()) {
                old.zeroize();
            }
        })
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(byte: u8) -> FileKey {
        FileKey::Raw(Zeroizing::new([byte; 32]))
    }

    #[test]
    fn round_trips_across_opens_without_plaintext() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SECRETS_FILE_NAME);
        let store = FileStore::open(&path, raw(7)).unwrap();
        assert!(!path.exists(), "nothing is written before the first secret");
        store
            .set(&SecretKey::bot_token("a"), &Secret::new("tok-hunter2"))
            .unwrap();
        store
            .set(
                &SecretKey::ai_api_key("default"),
                &Secret::new("sk-hunter3"),
            )
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("hunter"), "plaintext in the file");
        assert!(!text.contains("bot-token"), "key names in the file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = FileStore::open(&path, raw(7)).unwrap();
        let got = again.get(&SecretKey::bot_token("a")).unwrap().unwrap();
        assert_eq!(got.expose(), "tok-hunter2");
        again.delete(&SecretKey::bot_token("a")).unwrap();
        assert_eq!(store.get(&SecretKey::bot_token("a")).unwrap(), None);
        assert_eq!(again.keys().unwrap(), vec!["ai/default/api-key"]);
    }

    #[test]
    fn a_wrong_key_or_damage_is_an_error_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SECRETS_FILE_NAME);
        let store = FileStore::open(&path, raw(1)).unwrap();
        store
            .set(&SecretKey::bot_token("a"), &Secret::new("t"))
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = FileStore::open(&path, raw(2)).unwrap_err();
        assert!(matches!(err, SecretError::WrongKey(_)), "{err:?}");
        let err = FileStore::open(&path, FileKey::Passphrase(Secret::new("pw"))).unwrap_err();
        assert!(matches!(err, SecretError::WrongKey(_)), "{err:?}");
        // One flipped bit of ciphertext: the key is right, the file is not.
        let mut damaged = before.clone();
        *damaged.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        let err = FileStore::open(&path, raw(1)).unwrap_err();
        assert!(matches!(err, SecretError::Corrupt(_)), "{err:?}");
        // A store opened earlier refuses to write over it.
        let err = store
            .set(&SecretKey::bot_token("b"), &Secret::new("u"))
            .unwrap_err();
        assert!(matches!(err, SecretError::Corrupt(_)), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), damaged);
        std::fs::write(
            &path,
            b"not a secrets file at all, but long enough to parse......",
        )
        .unwrap();
        let err = FileStore::open(&path, raw(1)).unwrap_err();
        assert!(matches!(err, SecretError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn a_passphrase_unlocks_through_argon2id() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SECRETS_FILE_NAME);
        let phrase = || FileKey::Passphrase(Secret::new("correct horse"));
        FileStore::open(&path, phrase())
            .unwrap()
            .set(&SecretKey::bot_token("a"), &Secret::new("t"))
            .unwrap();
        let got = FileStore::open(&path, phrase()).unwrap();
        assert_eq!(
            got.get(&SecretKey::bot_token("a"))
                .unwrap()
                .unwrap()
                .expose(),
            "t"
        );
        let err = FileStore::open(&path, FileKey::Passphrase(Secret::new("wrong"))).unwrap_err();
        assert!(matches!(err, SecretError::WrongKey(_)), "{err:?}");
    }

    #[test]
    fn key_files_must_be_private_and_well_formed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k/secrets.key");
        FileKey::create_key_file(&path).unwrap();
        assert!(matches!(FileKey::from_key_file(&path), Ok(FileKey::Raw(_))));
        assert!(
            FileKey::create_key_file(&path).is_err(),
            "never overwritten"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            let err = FileKey::from_key_file(&path).err().unwrap();
            assert!(matches!(err, SecretError::KeyFileNotPrivate(_)), "{err:?}");
        }
        let short = tmp.path().join("short.key");
        std::fs::write(&short, b"abc").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = FileKey::from_key_file(&short).err().unwrap();
        assert!(matches!(err, SecretError::NoKey(_)), "{err:?}");
        let err = FileKey::from_key_file(&tmp.path().join("absent"))
            .err()
            .unwrap();
        assert!(matches!(err, SecretError::NoKey(_)), "{err:?}");
    }
}
