//! The atdata home: which index and which store are used when none was set.
//!
//! This is the one place that reads `$ATDATA_HOME`. The CLI (when `--index` or `--store` is
//! not given), the Python package (`atdata.get_default_index()`, `load_dataset("@local/x")`
//! without an index), [`Index::open_default`](crate::Index::open_default),
//! [`default_index`](crate::index::default_index) and
//! [`LocalDiskStore::at_default_root`](crate::LocalDiskStore::at_default_root) all ask
//! [`default_paths`], so that every tool sees the same datasets, and the same ones Python
//! atdata 0.7 wrote.
//!
//! The rule: the home is `$ATDATA_HOME` when it is set and not empty, else `.atdata` in the
//! user's home directory (`$HOME`, else `%USERPROFILE%`); the index is the SQLite file
//! `index.db` in it and the store the folder `data` beside it. An empty variable counts as
//! unset, as shells make it easy to export one by mistake.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable naming the atdata home.
pub const HOME_ENV: &str = "ATDATA_HOME";

/// The index file's name inside the home.
pub const INDEX_FILE: &str = "index.db";

/// The store folder's name inside the home.
pub const STORE_DIR: &str = "data";

/// Where the default index and store are (see the module docs for the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPaths {
    /// The atdata home directory.
    pub home: PathBuf,
    /// The SQLite index file: `{home}/index.db`.
    pub index: PathBuf,
    /// The data store root: `{home}/data`.
    pub store: PathBuf,
}

impl DefaultPaths {
    /// The index and store of the home `home`.
    pub fn under(home: impl AsRef<Path>) -> Self {
        let home = home.as_ref().to_path_buf();
        DefaultPaths {
            index: home.join(INDEX_FILE),
            store: home.join(STORE_DIR),
            home,
        }
    }

    /// The rule over an environment given as a lookup, so tests need not change the process
    /// environment.
    fn resolve(env: impl Fn(&str) -> Option<OsString>) -> Result<Self> {
        let set = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(home) = set(HOME_ENV) {
            return Ok(Self::under(PathBuf::from(home)));
        }
        let user = set("HOME").or_else(|| set("USERPROFILE")).ok_or_else(|| {
            Error::invalid(format!(
                "cannot find the atdata home: set {HOME_ENV} (or HOME), or name the index and \
                 store explicitly"
            ))
        })?;
        Ok(Self::under(PathBuf::from(user).join(".atdata")))
    }
}

/// Where the index and the store are when none was set: `$ATDATA_HOME/index.db` and
/// `$ATDATA_HOME/data`, with `~/.atdata` for an unset or empty `$ATDATA_HOME`. Only
/// computes paths: nothing is created or opened.
pub fn default_paths() -> Result<DefaultPaths> {
    DefaultPaths::resolve(|k| std::env::var_os(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn atdata_home_when_set() {
        let p =
            DefaultPaths::resolve(env(&[("ATDATA_HOME", "/srv/at"), ("HOME", "/home/u")])).unwrap();
        assert_eq!(p.home, Path::new("/srv/at"));
        assert_eq!(p.index, Path::new("/srv/at/index.db"));
        assert_eq!(p.store, Path::new("/srv/at/data"));
    }

    #[test]
    fn dot_atdata_in_the_user_home_when_unset() {
        let p = DefaultPaths::resolve(env(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(p, DefaultPaths::under("/home/u/.atdata"));
        assert_eq!(p.index, Path::new("/home/u/.atdata/index.db"));
        assert_eq!(p.store, Path::new("/home/u/.atdata/data"));
        let p = DefaultPaths::resolve(env(&[("USERPROFILE", "C:/Users/u")])).unwrap();
        assert_eq!(p.home, Path::new("C:/Users/u/.atdata"));
    }

    #[test]
    fn an_empty_atdata_home_counts_as_unset() {
        let p = DefaultPaths::resolve(env(&[("ATDATA_HOME", ""), ("HOME", "/home/u")])).unwrap();
        assert_eq!(p.home, Path::new("/home/u/.atdata"));
        let p = DefaultPaths::resolve(env(&[("HOME", ""), ("USERPROFILE", "/p")])).unwrap();
        assert_eq!(p.home, Path::new("/p/.atdata"));
    }

    #[test]
    fn no_home_at_all_is_an_error_saying_what_to_set() {
        let e = DefaultPaths::resolve(env(&[("ATDATA_HOME", ""), ("HOME", "")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ATDATA_HOME"), "{e}");
    }
}
