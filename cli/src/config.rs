//! The credentials file that `importctl login` writes and later commands read: an
//! application's client id and secret with the API's URL, so that they need not be given on
//! every command. It is `$IMPORTS_CONFIG`, else `$XDG_CONFIG_HOME/importctl/credentials.json`,
//! else `~/.config/importctl/credentials.json`; written with mode 0600 in a directory made
//! with 0700, as it holds a secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// What `login` keeps.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// The API's root URL the credentials were checked against.
    pub api_url: String,
    /// Where tokens are asked for, when not the API's URL (`--auth-url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// The PEM file of CA certificates given to `login` (`--ca-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: String,
}

/// Never the secret, even in a debug print.
impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("api_url", &self.api_url)
            .field("auth_url", &self.auth_url)
            .field("ca_file", &self.ca_file)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn non_empty(v: Option<std::ffi::OsString>) -> Option<PathBuf> {
    v.filter(|s| !s.is_empty()).map(PathBuf::from)
}

/// Where the credentials file is: `explicit` (`--config`, `IMPORTS_CONFIG`), else under
/// `XDG_CONFIG_HOME`, else under `~/.config`.
pub fn path(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(p.to_path_buf());
    }
    let base = non_empty(std::env::var_os("XDG_CONFIG_HOME"))
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty(std::env::var_os("HOME")).map(|h| h.join(".config")))
        .ok_or_else(|| {
            anyhow!("cannot tell where the credentials file goes: set IMPORTS_CONFIG or HOME")
        })?;
    Ok(base.join("importctl").join("credentials.json"))
}

/// Reads the credentials file; `None` when there is none. A file that cannot be read or is
/// not what `login` writes is an error naming it.
pub fn read(path: &Path) -> Result<Option<Kept>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!("cannot read the credentials file {}: {e}", path.display()),
    };
    let kept: Kept = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "the credentials file {} is not valid ({e}): run importctl login again, or importctl logout",
            path.display()
        )
    })?;
    if kept.client_id.trim().is_empty()
        || kept.client_secret.trim().is_empty()
        || kept.api_url.trim().is_empty()
    {
        bail!(
            "the credentials file {} is not valid (an empty api_url, client_id or client_secret): run importctl login again, or importctl logout",
            path.display()
        );
    }
    Ok(Some(kept))
}

/// Writes the credentials file, readable by its owner only: a file of its own beside it is
/// written and renamed over it, so a reader never sees half of one and an older file's
/// looser mode is not kept.
pub fn write(path: &Path, kept: &Kept) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let mut temporary = name.to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = dir.join(temporary);
    let result = write_new(&temporary, kept)
        .and_then(|()| std::fs::rename(&temporary, path).map_err(anyhow::Error::from));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write the credentials file {}", path.display()))
}

fn write_new(path: &Path, kept: &Kept) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let mut text = serde_json::to_string_pretty(kept)?;
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Removes the credentials file; false when there was none.
pub fn remove(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => bail!("cannot remove the credentials file {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> Kept {
        Kept {
            api_url: "http://127.0.0.1:8080".into(),
            auth_url: None,
            ca_file: None,
            client_id: "id".into(),
            client_secret: "s3cret".into(),
        }
    }

    #[test]
    fn the_file_is_written_for_its_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!("importctl-config-{}", std::process::id()));
        let path = dir.join("a").join("credentials.json");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, &kept()).unwrap();
        assert_eq!(read(&path).unwrap(), Some(kept()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        assert!(!format!("{:?}", kept()).contains("s3cret"));
        std::fs::write(&path, "{\"api_url\": 1").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!(
            "the credentials file {} is not valid",
            path.display()
        )));
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_explicit_path_wins() {
        assert_eq!(
            path(Some(Path::new("/x/c.json"))).unwrap(),
            PathBuf::from("/x/c.json")
        );
    }
}
