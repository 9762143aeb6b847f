//! Dataset references: `@repo/name`, `@repo/name@version`, `@repo/name@cid`, `repo/name`,
//! and bare `name` / `name@version` (which mean the `local` repository).

use std::fmt;

use crate::error::{Error, Result};

/// The repository every index has.
pub const LOCAL: &str = "local";

/// A parsed dataset reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetRef {
    /// Repository name (`local` unless given).
    pub repo: String,
    /// Dataset name.
    pub name: String,
    /// What follows the second `@`: a version number, a CID, or (for indexes written by
    /// Python atdata 0.7) a label version. `None` means the newest version.
    pub selector: Option<String>,
}

impl DatasetRef {
    /// Parses a reference. Dataset names cannot contain `/` or `@`, so the text splits
    /// unambiguously.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "bad dataset reference {text:?}: {why} (expected name, @repo/name, \
                 @repo/name@version or @repo/name@cid)"
            ))
        };
        let trimmed = text.trim();
        let (repo, rest) = match trimmed.strip_prefix('@') {
            Some(r) => r
                .split_once('/')
                .ok_or_else(|| bad("no '/' after the repository"))?,
            None => match trimmed.split_once('/') {
                Some((repo, rest)) => (repo, rest),
                None => (LOCAL, trimmed),
            },
        };
        let (name, selector) = match rest.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        if repo.is_empty() || repo.contains('@') {
            return Err(bad("empty or malformed repository"));
        }
        if name.is_empty() {
            return Err(bad("empty dataset name"));
        }
        if name.contains('/') {
            return Err(bad("dataset names cannot contain '/'"));
        }
        match selector {
            Some(s) if s.is_empty() || s.contains('@') || s.contains('/') => {
                Err(bad("empty or malformed version"))
            }
            _ => Ok(DatasetRef {
                repo: repo.to_string(),
                name: name.to_string(),
                selector: selector.map(str::to_string),
            }),
        }
    }

    /// The reference to the newest version of `name` in `repo`.
    pub fn latest(repo: &str, name: &str) -> Self {
        DatasetRef {
            repo: repo.to_string(),
            name: name.to_string(),
            selector: None,
        }
    }

    /// This reference without its version (the newest version of the same name).
    pub fn unpinned(&self) -> Self {
        DatasetRef::latest(&self.repo, &self.name)
    }
}

impl fmt::Display for DatasetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}/{}", self.repo, self.name)?;
        if let Some(s) = &self.selector {
            write!(f, "@{s}")?;
        }
        Ok(())
    }
}

/// Whether a selector looks like a CID (CIDv1 in base32: `b` then lower-case base32).
pub fn looks_like_cid(selector: &str) -> bool {
    selector.len() > 40
        && selector.starts_with('b')
        && selector
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// Longest dataset name, in bytes (one folder name of a local store).
pub const MAX_NAME_BYTES: usize = 255;

/// The one rule for dataset names, whatever way a dataset comes in (`write`, `insert` with or
/// without copy, bulk commits, Python, the CLI) and whatever store holds it, so that every name
/// in an index can be referenced and can name a store folder. A name is refused
/// ([`Error::InvalidArgument`]) when it:
///
/// - is empty, `.` or `..`, or starts with `.` (hidden names are the store's own, `.staging`);
/// - contains `/` or `\` (a path separator, which would also split a `@repo/name` reference),
///   or `@` (which separates the version in references);
/// - contains NUL or another control character, or starts or ends with whitespace;
/// - is longer than [`MAX_NAME_BYTES`] bytes.
///
/// Stores may refuse more ([`DataStore::check_name`](crate::store::DataStore::check_name)).
pub fn check_dataset_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("would escape the store root")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator ('/' or '\\'), which would leave its folder")
    } else if name.contains('@') {
        Some("contains '@', which separates the version in references")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.trim() != name {
        Some("starts or ends with whitespace")
    } else if name.starts_with('.') {
        Some("starts with '.', which is reserved for the store's own files")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(format!(
            "dataset name {:?} {p}",
            shown(name)
        ))),
        None => Ok(()),
    }
}

/// A name as an error shows it: long names are cut so one bad argument cannot make a
/// megabyte-long message.
fn shown(name: &str) -> String {
    const SHOWN: usize = 80;
    match name.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}...", name.get(..i).unwrap_or_default()),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(repo: &str, name: &str, sel: Option<&str>) -> DatasetRef {
        DatasetRef {
            repo: repo.into(),
            name: name.into(),
            selector: sel.map(Into::into),
        }
    }

    #[test]
    fn forms() {
        let cid = "bafyreid4bbr6l53yy67eda4l5b46kfjtqmwamby7v2t3hxqd6ek2nskbdy";
        for (text, want) in [
            ("docs-v1", r("local", "docs-v1", None)),
            ("docs-v1@2", r("local", "docs-v1", Some("2"))),
            ("@local/docs-v1", r("local", "docs-v1", None)),
            ("@local/docs-v1@3", r("local", "docs-v1", Some("3"))),
            ("@lab/x.y", r("lab", "x.y", None)),
            ("lab/x@1", r("lab", "x", Some("1"))),
            (" @local/d ", r("local", "d", None)),
        ] {
            assert_eq!(DatasetRef::parse(text).unwrap(), want, "{text}");
        }
        let pinned = DatasetRef::parse(&format!("@local/d@{cid}")).unwrap();
        assert_eq!(pinned.selector.as_deref(), Some(cid));
        assert!(looks_like_cid(cid));
        assert!(!looks_like_cid("12"));
        assert!(!looks_like_cid("1.0.0"));
        assert_eq!(pinned.to_string(), format!("@local/d@{cid}"));
        assert_eq!(pinned.unpinned().to_string(), "@local/d");
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "@",
            "@local",
            "@local/",
            "@/d",
            "@local/d@",
            "@local/d@1@2",
            "a/b/c",
            "@l/a/b",
        ] {
            let e = DatasetRef::parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("bad dataset reference"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn one_name_rule_refuses_names_that_escape_or_cannot_be_referenced() {
        for bad in [
            "", ".", "..", "../x", "a/b", "/abs", "a\\b", "a\0b", ".staging", ".hidden", "a\nb",
            "a@b", " a", "a ", "a\t",
        ] {
            let e = check_dataset_name(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad:?}: {e}");
        }
        let long = "x".repeat(10_000);
        let e = check_dataset_name(&long).unwrap_err().to_string();
        assert!(e.contains("longer than 255") && e.len() < 300, "{e}");
        check_dataset_name(&"x".repeat(255)).unwrap();
        for good in [
            "docs-v1",
            "embeddings_v1",
            "a.b",
            "数据",
            "x..y",
            "a?",
            "b*",
            "c[1]",
            "{x,y}",
        ] {
            check_dataset_name(good).unwrap();
        }
    }
}
