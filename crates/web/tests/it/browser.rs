//! The app in a real browser: load the graddesc lab, move a slider and see the numbers and
//! the charts change, type a broken formula and see the caret, download a file.
//!
//! One browser session runs every step in order (a second Chromium would only slow a
//! 2-core machine down). Screenshots go to `target/screenshots/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::http::server;
use crate::webdriver::{Browser, Session};

pub fn screenshots() -> PathBuf {
    // CARGO_TARGET_DIR when set, else the workspace's target/.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

/// Waits for a download to appear and to be complete, and reads it.
pub fn wait_for_file(path: &std::path::Path) -> Vec<u8> {
    let t0 = Instant::now();
    loop {
        // Chromium writes into a `.crdownload` file and renames it when done.
        if path.exists() {
            if let Ok(b) = std::fs::read(path) {
                if !b.is_empty() {
                    return b;
                }
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no download {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn text(s: &Session, css: &str) -> String {
    let v = s.js(&format!(
        "const e = document.querySelector({css:?}); return e ? e.textContent : null;"
    ));
    v.as_str().unwrap_or_default().to_string()
}

pub fn attr(s: &Session, css: &str, name: &str) -> String {
    let v = s.js(&format!(
        "const e = document.querySelector({css:?}); return e ? e.getAttribute({name:?}) : null;"
    ));
    v.as_str().unwrap_or_default().to_string()
}

/// What a browser test needs: a session on the app (`base` is its address) and the
/// screenshots folder, holding the lock that keeps heavy tests apart; `None` when no
/// browser is installed (the test then skips, or fails under `CI=true`: see `Browser::find`).
pub struct Page {
    pub s: Session,
    pub base: String,
    pub shots: PathBuf,
    /// Bound for the whole test (as `lock: _lock`), so that it holds the lock throughout.
    pub lock: std::sync::MutexGuard<'static, ()>,
}

pub fn page() -> Option<Page> {
    let browser = Browser::find()?;
    let heavy = crate::http::HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    Some(Page {
        base: format!("http://{}/", server()),
        shots: screenshots(),
        s: Session::start(&browser),
        lock: heavy,
    })
}

#[test]
fn browser_end_to_end() {
    let Some(Page {
        s,
        base,
        shots,
        lock: _lock,
    }) = page()
    else {
        return;
    };
    lab_loads(&s, &base, &shots);
    slider_moves_everything(&s, &shots);
    divergence_and_bad_input(&s, &base, &shots);
    workbook_mode(&s, &base, &shots);
    playground(&s, &base, &shots);
    downloads(&s, &base);
    other_pages(&s, &base, &shots);
    println!("screenshots in {}", shots.display());
}

/// The graddesc lab loads with the sheet's 29 rows of epoch 1.
fn lab_loads(s: &Session, base: &str, shots: &Path) {
    s.goto(&format!("{base}#lab"));
    s.wait(
        "the step table",
        "return document.querySelectorAll('#lab-table tbody tr').length === 29",
    );
    assert_eq!(
        text(s, "#lab-table tbody tr:first-child td:nth-child(3)"),
        "14",
        "row 4 holds x = 14"
    );
    assert_eq!(
        text(s, "#lab-table tbody tr:first-child td:nth-child(7)"),
        "15",
        "pred = 1*14+1"
    );
    assert!(
        attr(s, "#lab-chart-error path.series", "d").starts_with('M'),
        "the error chart has a line"
    );
    s.wait(
        "the error surface",
        "return document.querySelector('#lab-chart-path path.contours') !== null",
    );
    s.screenshot(&shots.join("01-lab.png"));
}

/// Moving the learning-rate slider with the keyboard changes the table and the charts.
fn slider_moves_everything(s: &Session, shots: &Path) {
    let cell = "#lab-table tbody tr:nth-child(3) td:nth-child(6)"; // a on row 6, after two updates
    let before_cell = text(s, cell);
    let before_line = attr(s, "#lab-chart-error path.series", "d");
    let before_path = attr(s, "#lab-chart-path path.run-path[data-name=epochs]", "d");
    let before_hash = s
        .js("return location.hash")
        .as_str()
        .unwrap_or_default()
        .to_string();
    s.type_into("#lab-lr", &"\u{E014}".repeat(15)); // ArrowRight: lr × 10^0.15
    s.wait(
        "the table to follow the slider",
        &format!("return document.querySelector({cell:?}).textContent !== {before_cell:?}"),
    );
    s.wait(
        "the error chart to be redrawn",
        &format!("return document.querySelector('#lab-chart-error path.series').getAttribute('d') !== {before_line:?}"),
    );
    let after_path = attr(s, "#lab-chart-path path.run-path[data-name=epochs]", "d");
    assert_ne!(
        before_path, after_path,
        "the path on the error surface moved"
    );
    let hash = s
        .js("return location.hash")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(hash, before_hash, "the URL keeps the new learning rate");
    assert!(hash.contains("lr=0.00014"), "lr in the URL: {hash}");
    // The round trip of a 29 × 100 run, as the page measured it.
    let ms: f64 = attr(s, "#timing", "data-ms").parse().unwrap_or(f64::NAN);
    println!("graddesc lab: 29 rows × 100 epochs, {ms} ms round trip (request, compute, redraw)");
    assert!(ms < 1000.0, "an update took {ms} ms");
    s.screenshot(&shots.join("02-lab-slider.png"));
}

/// A learning rate that explodes: the diagnosis appears, the bad row is marked.
fn divergence_and_bad_input(s: &Session, base: &str, shots: &Path) {
    s.goto(&format!(
        "{base}#lab?sheet=basic&opt=sgd&lr=0.001&epochs=20"
    ));
    s.wait(
        "the divergence banner",
        "return !document.getElementById('lab-diagnosis').hidden",
    );
    assert!(text(s, "#lab-diagnosis").contains("diverged"));
    s.wait(
        "the bad row",
        "return document.querySelector('#lab-table tr.badrow') !== null",
    );
    s.screenshot(&shots.join("03-lab-diverged.png"));

    // 4. A negative learning rate typed in: a message in place, no crash.
    s.clear("#lab-lr-num");
    s.type_into("#lab-lr-num", "-1\n");
    s.wait(
        "the lr error",
        "return document.getElementById('lab-msg').classList.contains('error')",
    );
    assert!(
        text(s, "#lab-msg").contains("learning rate"),
        "{}",
        text(s, "#lab-msg")
    );
}

/// Workbook mode: the momentum sheet replayed with its macros, in its own columns.
fn workbook_mode(s: &Session, base: &str, shots: &Path) {
    s.goto(&format!(
        "{base}#lab?sheet=momentum&opt=momentum&lr=0.0001&epochs=5&wb=1"
    ));
    s.wait(
        "the replayed sheet",
        "return document.querySelector('#lab-table thead') && document.querySelector('#lab-table thead').textContent.includes('=J4*$J$1+$K$1*F5')",
    );
    assert_eq!(text(s, "#lab-table td[data-cell=A4]"), "14");
    s.screenshot(&shots.join("03b-lab-workbook.png"));
}

/// The formula playground: a broken formula shows the caret under the fault.
fn playground(s: &Session, base: &str, shots: &Path) {
    s.goto(&format!("{base}#playground"));
    s.wait(
        "the derivatives",
        "return document.querySelectorAll('#pg-derivs .deriv').length === 4",
    );
    s.screenshot(&shots.join("04-playground.png"));
    s.clear("#pg-model");
    s.type_into("#pg-model", "c*MAX(a*x+b,0+d");
    let caret = s.wait(
        "the caret error",
        "const e = document.getElementById('pg-model-err'); return !e.hidden && e.textContent",
    );
    let caret = caret.as_str().unwrap_or_default();
    assert!(
        caret.contains("c*MAX(a*x+b,0+d"),
        "the formula is shown: {caret}"
    );
    assert!(caret.contains('^'), "with a caret: {caret}");
    assert!(caret.contains("never closed"), "and the message: {caret}");
    assert!(attr(s, "#pg-model", "class").contains("invalid"));
    s.screenshot(&shots.join("05-playground-error.png"));
    // Fixed, the error goes away and the new parameters appear.
    s.clear("#pg-model");
    s.type_into("#pg-model", "c*MAX(a*x+b,0)+d");
    s.wait(
        "the error to clear",
        "return document.getElementById('pg-model-err').hidden",
    );
    s.wait(
        "the derivatives again",
        "return document.querySelectorAll('#pg-derivs .deriv').length === 4",
    );
    // A derivative typed as the basic sheet does, by finite difference, is recognised.
    s.type_into(
        "#pg-claim",
        "((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
    );
    // The parameter picker lists c, a, b, d: pick a.
    s.js("const p = document.getElementById('pg-claim-param'); p.value = 'a'; p.dispatchEvent(new Event('change')); return 1;");
    let verdict = s.wait(
        "the verdict on the typed derivative",
        "const v = document.getElementById('pg-claim-verdict').textContent; return v.includes('forward difference') && v",
    );
    assert!(
        verdict.as_str().unwrap_or_default().contains("h = 0.01"),
        "{verdict}"
    );
    s.screenshot(&shots.join("05b-playground-check.png"));
}

/// Downloads: the lab's run as a workbook with live formulas, and as CSV.
fn downloads(s: &Session, base: &str) {
    s.goto(&format!(
        "{base}#lab?sheet=momentum&opt=momentum&lr=0.0001&b1=0.9&epochs=3"
    ));
    s.wait("the momentum table", "return document.querySelectorAll('#lab-table tbody tr').length === 29 && document.querySelector('#lab-table thead').textContent.includes('m_a')");
    s.click("#lab-dl-xlsx");
    let xlsx = wait_for_file(&s.downloads.join("gradsheet-run.xlsx"));
    assert!(xlsx.starts_with(b"PK\x03\x04"), "an xlsx is a zip file");
    assert!(
        xlsx.windows(19).any(|w| w == b"xl/worksheets/sheet"),
        "with worksheets"
    );
    s.click("#lab-dl-csv");
    let csv = String::from_utf8(wait_for_file(&s.downloads.join("gradsheet-trace.csv")))
        .expect("CSV is text");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("step,epoch,row,lr,x,y,b,a,pred,err,de/db,de/da,m_b,m_a,new b,new a")
    );
    assert_eq!(csv.lines().count(), 1 + 3 * 29);
    assert!(lines
        .next()
        .unwrap_or_default()
        .starts_with("1,1,1,0.0001,14,58,1,1,15,1849,"));
    s.wait(
        "the download message",
        "return document.getElementById('lab-msg').textContent.includes('downloaded')",
    );
}

/// The other pages draw.
fn other_pages(s: &Session, base: &str, shots: &Path) {
    s.goto(&format!("{base}#compare"));
    s.wait(
        "the comparison",
        "return document.querySelectorAll('#cmp-chart-error path.series').length >= 2",
    );
    s.screenshot(&shots.join("06-compare.png"));
    s.goto(&format!("{base}#stability"));
    s.wait(
        "the stability map",
        "return document.querySelectorAll('#st-chart rect.cell').length > 100",
    );
    s.screenshot(&shots.join("07-stability.png"));
}
