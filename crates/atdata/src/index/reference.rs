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

/// Checks a dataset name for use in references: not empty, no `@`, `/`, whitespace at the
/// ends, NUL or control characters. (Stores add their own rules, see
/// [`check_dataset_name`](crate::store::check_dataset_name).)
pub fn check_ref_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.contains('@') {
        Some("contains '@', which separates the version in references")
    } else if name.contains('/') {
        Some("contains '/', which separates the repository in references")
    } else if name.trim() != name {
        Some("starts or ends with whitespace")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(format!("dataset name {name:?} {p}"))),
        None => Ok(()),
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
    fn names() {
        check_ref_name("docs-v1").unwrap();
        for bad in ["", "a@b", "a/b", " a", "a\n"] {
            assert!(check_ref_name(bad).is_err(), "{bad:?}");
        }
    }
}
