//! One rule for every test that needs something the repository does not hold: a tool
//! (LibreOffice, Chromium and chromedriver) or material outside it (fast.ai's workbooks
//! and the golden values that may not be copied in, under `../shared` beside the
//! repository).
//!
//! The rule, stated in README.md ("Building and testing"):
//!
//! - when the tool or the material is there, the test runs and must pass;
//! - when it is missing and `CI` is set (to anything but empty, `0` or `false`), the test
//!   fails, naming what is missing and how to install it: CI never passes by skipping;
//! - otherwise the test skips loudly: a `SKIPPED` line on the terminal, past the test
//!   harness's capture of output, so that a run that skipped never looks like one that
//!   checked.
//!
//! Also the strategies more than one crate's property tests draw from
//! ([`with_ieee_edges`]).
//!
//! Dev-dependency only: nothing here is part of gradsheet.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether the tests run in CI: `CI` set to anything but empty, `0` or `false` (GitHub
/// Actions, GitLab and most others set `CI=true`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| ci_value(&v))
}

fn ci_value(v: &str) -> bool {
    let v = v.trim();
    !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
}

/// Reports that `what` is missing: fails the test in CI, else writes a `SKIPPED` line
/// to the terminal and returns, for the caller to skip.
///
/// # Panics
///
/// In CI, always: a missing requirement is a failure there.
pub fn missing(what: &str, hint: &str) {
    assert!(
        !ci(),
        "CI is set and {what} is missing ({hint}); without CI the test would skip"
    );
    // Straight to the process's stderr: `eprintln!` inside a test is captured and shown
    // only when the test fails, and a skip must be seen when it passes.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED ({}): {what} is missing ({hint})",
        std::thread::current().name().unwrap_or("a test")
    );
}

/// The first of `names` found as an executable file on `PATH`, or `None` after
/// [`missing`] (which fails the test in CI). `hint` says how to install it.
pub fn tool(names: &[&str], hint: &str) -> Option<PathBuf> {
    let found = find_tool(names);
    if found.is_none() {
        missing(&names.join(" or "), hint);
    }
    found
}

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    })
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// The repository's root (where the workspace's Cargo.toml is).
pub fn repo_root() -> PathBuf {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

/// The folder of material outside the repository: `$GRADSHEET_SHARED` when set, else
/// `shared` beside the repository (`../shared` from its root).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("GRADSHEET_SHARED") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let root = repo_root();
            root.parent().unwrap_or(&root).join("shared")
        }
    }
}

/// `rel` inside [`shared_dir`], or `None` after [`missing`] (which fails the test in CI)
/// when it is not there.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = shared_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    missing(
        &format!("{} (material from outside the repository)", p.display()),
        "place fast.ai's workbooks and golden values in ../shared beside the repository, \
         or set GRADSHEET_SHARED to their folder",
    );
    None
}

/// The folder of course22's golden grids (fast.ai's course22 workbooks, which gradsheet
/// does not ship: `gradsheet_labs::material`), as `GRADSHEET_COURSE22` takes it, or
/// `None` after [`missing`] when it is not there.
pub fn course22() -> Option<PathBuf> {
    shared("golden/grid")
}

/// Numbers for a property test of arithmetic that must hold for every double: mostly
/// `ordinary` ones, and zeros of both signs, both infinities and NaN, each drawn often
/// enough to meet the others (a run's records, a fold's comparisons).
pub fn with_ieee_edges(
    ordinary: impl proptest::strategy::Strategy<Value = f64>,
) -> impl proptest::strategy::Strategy<Value = f64> {
    use proptest::prelude::*;
    prop_oneof![
        6 => ordinary,
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        for v in ["true", "1", "yes", "TRUE"] {
            assert!(ci_value(v), "{v}");
        }
        for v in ["", " ", "0", "false", "False"] {
            assert!(!ci_value(v), "{v}");
        }
    }

    #[test]
    fn the_root_holds_the_workspace() {
        let toml = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
        assert!(toml.contains("[workspace]"));
    }

    #[test]
    fn a_shell_is_found_and_a_made_up_tool_is_not() {
        assert!(find_tool(&["gradsheet-no-such-tool", "sh"]).is_some());
        assert!(find_tool(&["gradsheet-no-such-tool"]).is_none());
    }
}
