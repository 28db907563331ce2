//! Running the binary and reading what it said: shared by every module of the harness.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `gradsheet` with `args` and waits for it.
pub fn gradsheet(args: &[&str]) -> Output {
    command().args(args).output().expect("the binary runs")
}

/// The binary, given course22's numbers (which gradsheet does not ship) from the shared
/// folder when it is there.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gradsheet"));
    if let Some(dir) = course22() {
        c.env("GRADSHEET_COURSE22", dir);
    }
    c
}

/// The folder of course22's golden grids, looked for (and its absence reported) once.
pub fn course22() -> Option<&'static Path> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(gradsheet_testkit::course22).as_deref()
}

/// Runs `gradsheet`: (exit code, stdout, stderr), with -1 for a death by signal.
pub fn outcome(args: &[&str]) -> (i32, String, String) {
    let o = gradsheet(args);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// What the process printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the process printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stdout of a run that must succeed.
pub fn ok(args: &[&str]) -> String {
    let o = gradsheet(args);
    assert!(
        o.status.success(),
        "gradsheet {args:?} failed: {}",
        stderr(&o)
    );
    stdout(&o)
}

/// The stderr of a run that must be refused as a usage error (exit code 2).
pub fn usage_error(args: &[&str]) -> String {
    let o = gradsheet(args);
    assert_eq!(o.status.code(), Some(2), "gradsheet {args:?}");
    stderr(&o)
}

/// `dir/name` as an argument.
pub fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// Runs the binary, sends it a real SIGINT (Ctrl-C) after 1.5 s — time to start and
/// install the handler, then to be deep in its run — and waits for it.
pub fn interrupted(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_gradsheet"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait_with_output().unwrap()
}
