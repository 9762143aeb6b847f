//! The one way into the core: release the GIL, run, take the GIL back, convert the error.

use pyo3::prelude::*;

use crate::exceptions::to_pyerr;

/// Runs `f` with the GIL released (so other Python threads run meanwhile), then checks for a
/// pending Ctrl-C and converts a core error into its Python exception.
pub fn run_core<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: Send + FnOnce() -> atdata::Result<T>,
{
    let out = py.detach(f);
    py.check_signals()?;
    out.map_err(|e| to_pyerr(py, e))
}

/// Converts a core result without releasing the GIL (for cheap calls).
pub fn core<T>(py: Python<'_>, r: atdata::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_pyerr(py, e))
}

/// `path` with a leading `~` (alone or followed by `/`) replaced by the user's home directory,
/// as atdata 0.7's users write store roots and index paths (`LocalDiskStore(root="~/data")`),
/// which 0.7 took literally (making a folder named `~`). `~user` and a `~` anywhere else stay
/// as written, and so does everything when `HOME` is unset or empty.
pub fn user_path(path: std::path::PathBuf) -> std::path::PathBuf {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return path;
    };
    match path.strip_prefix("~") {
        Ok(rest) => std::path::PathBuf::from(home).join(rest),
        Err(_) => path,
    }
}

#[cfg(test)]
mod tests {
    use super::user_path;
    use std::path::PathBuf;

    #[test]
    fn a_leading_tilde_is_the_home_directory_and_nothing_else_is() {
        let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
            return;
        };
        let home = PathBuf::from(home);
        assert_eq!(user_path("~".into()), home);
        assert_eq!(user_path("~/data/x.db".into()), home.join("data/x.db"));
        for kept in ["~bob/x", "a/~/b", "/abs/~", "rel", "~x"] {
            assert_eq!(user_path(kept.into()), PathBuf::from(kept), "{kept}");
        }
    }
}
