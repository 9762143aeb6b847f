//! Schema references: `atdata://local/schema/{Name}@{version}`.

use std::fmt;

use crate::error::{Error, Result};

/// A parsed schema reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaRef {
    /// Repository authority (`local`).
    pub authority: String,
    /// Schema name.
    pub name: String,
    /// Schema version.
    pub version: String,
}

impl SchemaRef {
    /// A reference into the local repository.
    pub fn local(name: &str, version: &str) -> Self {
        SchemaRef {
            authority: "local".to_string(),
            name: name.to_string(),
            version: version.to_string(),
        }
    }

    /// Parses `atdata://{authority}/schema/{name}@{version}`; a missing `@version` means `1.0.0`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "bad schema reference '{text}': expected atdata://local/schema/Name@1.0.0"
            ))
        };
        let rest = text.strip_prefix("atdata://").ok_or_else(bad)?;
        let (authority, rest) = rest.split_once('/').ok_or_else(bad)?;
        let rest = rest.strip_prefix("schema/").ok_or_else(bad)?;
        let (name, version) = match rest.rsplit_once('@') {
            Some((n, v)) => (n, v),
            None => (rest, "1.0.0"),
        };
        if name.is_empty() || version.is_empty() || authority.is_empty() {
            return Err(bad());
        }
        Ok(SchemaRef {
            authority: authority.to_string(),
            name: name.to_string(),
            version: version.to_string(),
        })
    }
}

impl fmt::Display for SchemaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "atdata://{}/schema/{}@{}",
            self.authority, self.name, self.version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = SchemaRef::parse("atdata://local/schema/TextSample@1.0.0").unwrap();
        assert_eq!(r, SchemaRef::local("TextSample", "1.0.0"));
        assert_eq!(r.to_string(), "atdata://local/schema/TextSample@1.0.0");
        assert!(SchemaRef::parse("http://x").is_err());
        assert!(SchemaRef::parse("atdata://local/lens/X@1").is_err());
    }
}
