//! The workbook page in Chromium, at desktop and phone sizes: a learner's workbook is
//! uploaded, its typed derivative columns are coloured by verdict (the wrong one marked),
//! a click on a cell shows its exact derivatives, typing an input recalculates the
//! sheet, Run shows the loop's epochs with the book's own numbers, and nothing scrolls
//! sideways on a phone (the grid scrolls inside its box).

use std::path::Path;

use gradsheet_book::Book;

use crate::book_api::learner_workbook;
use crate::browser::{attr, page, text, Page};
use crate::webdriver::Session;

#[test]
fn workbook_page_end_to_end() {
    let Some(Page {
        s,
        base,
        shots,
        lock: _lock,
    }) = page()
    else {
        return;
    };
    let bytes = learner_workbook();
    desktop(&s, &base, &shots, &bytes);
    phone(&s, &base, &shots, &bytes);
    fast_ai(&s, &base, &shots);
}

/// Gives the page's file input the workbook, as choosing it in the file dialog does.
fn choose(s: &Session, bytes: &[u8]) {
    choose_as(s, bytes, "mine.xlsx", 2);
}

/// [`choose`] a workbook named `name` with `sheets` sheets.
fn choose_as(s: &Session, bytes: &[u8], name: &str, sheets: usize) {
    let list: Vec<String> = bytes.iter().map(|b| b.to_string()).collect();
    s.wait(
        "the page's file input",
        "return !!document.querySelector('#book-file')",
    );
    s.js(&format!(
        "const b = new Uint8Array([{}]); const dt = new DataTransfer(); \
         dt.items.add(new File([b], '{name}')); const i = document.querySelector('#book-file'); \
         i.files = dt.files; i.dispatchEvent(new Event('change')); return true;",
        list.join(",")
    ));
    s.wait(
        "the workbook's sheets",
        &format!(
            "return document.querySelectorAll('#book-tabs button').length === {sheets} \
             && document.querySelector('#book-summary').textContent.includes('{name}')"
        ),
    );
}

fn desktop(s: &Session, base: &str, shots: &Path, bytes: &[u8]) {
    s.goto(&format!("{base}#book"));
    choose(s, bytes);
    let summary = text(s, "#book-summary");
    assert!(
        summary.contains("189 formula cells — 189 recalculate to Excel's values, 0 differ"),
        "{summary}"
    );
    // The typed columns, coloured by verdict with the note at their head.
    let head = |col: &str| {
        let css = format!("#book-grid th.book-verdict[data-col='{col}']");
        (
            text(s, &css),
            attr(s, &css, "class"),
            attr(s, &css, "title"),
        )
    };
    let (t, class, _) = head("E");
    assert_eq!(t, "exact");
    assert!(class.contains("v-exact"), "{class}");
    let (t, class, _) = head("F");
    assert_eq!(t, "forward diff. h = 0.01");
    assert!(class.contains("v-diff"), "{class}");
    let (t, class, title) = head("G");
    assert_eq!(t, "wrong");
    assert!(class.contains("v-wrong"), "{class}");
    assert!(title.contains("0.5 times ∂D2/∂C2"), "{title}");
    assert!(attr(s, "#book-grid td[data-cell='G3']", "class").contains("v-wrong"));
    assert!(text(s, "#book-columns").contains("wrong"));
    s.screenshot(&shots.join("book-01-verdicts.png"));

    // A click on the error cell: its formula in the bar, its exact derivatives.
    s.click("#book-grid td[data-cell='D2']");
    s.wait(
        "the cell's derivatives",
        "return document.querySelectorAll('#book-derivs tbody tr').length === 3",
    );
    assert_eq!(text(s, "#book-formula"), "=(C2*A2-B2)^2");
    let derivs = s.js(
        "return [...document.querySelectorAll('#book-derivs tbody tr')].map((r) => r.textContent)",
    );
    // ∂e/∂x, ∂e/∂y, ∂e/∂a of e = (a·x − y)² at a = 2, x = 1, y = 3.
    assert_eq!(
        derivs,
        serde_json::json!(["typed!A2-4", "typed!B22", "typed!C2-2"]),
        "{derivs}"
    );
    s.screenshot(&shots.join("book-02-derivative.png"));
    // The arrow keys move the selection as in Excel: right of D2 is the exact column.
    s.type_into("#book-grid td[data-cell='D2']", "\u{E014}");
    s.wait(
        "E2 selected",
        "return document.querySelector('#book-formula').textContent === '=2*(C2*A2-B2)*A2'",
    );
    assert_eq!(
        s.js("return document.activeElement.dataset.cell"),
        serde_json::json!("E2")
    );
    s.type_into("#book-grid td[data-cell='E2']", "\u{E015}");
    s.wait(
        "E3 selected",
        "return document.querySelector('#book-addr').textContent === 'E3'",
    );

    // An input typed on the sgd sheet: every cell recalculated.
    s.click("#book-tabs button[data-sheet='sgd']");
    s.click("#book-grid td[data-cell='B1']");
    s.wait(
        "the input's box",
        "return !!document.querySelector('#book-edit')",
    );
    s.clear("#book-edit");
    s.type_into("#book-edit", "1.5\u{E007}");
    s.wait(
        "the recalculated prediction",
        "return document.querySelector(\"#book-grid td[data-cell='E5']\").textContent === '2.5'",
    );
    let book = Book::open(bytes).unwrap();
    let want = book.value_with("sgd!F35", &[("sgd!B1", 1.5)]).unwrap();
    let got = text(s, "#book-grid td[data-cell='F35']");
    assert_eq!(got, js_fmt(want), "the summed error after the change");

    // Run: five epochs of the loop, the book's own numbers.
    s.clear("#book-epochs");
    s.type_into("#book-epochs", "5");
    s.type_into("#book-copies", "C34=B1\nD34=B2");
    s.type_into("#book-watch", "F35");
    s.click("#book-run");
    s.wait(
        "the run's table",
        "return document.querySelectorAll('#book-run-table tbody tr').length === 5",
    );
    let last = s.js(
        "return [...document.querySelectorAll('#book-run-table tbody tr:last-child td')].map((d) => d.title || d.textContent)",
    );
    let mut want = Vec::new();
    let copies = [
        ("sgd!C34".to_string(), "sgd!B1".to_string()),
        ("sgd!D34".to_string(), "sgd!B2".to_string()),
    ];
    book.run(&copies, &["sgd!F35".to_string()], 5, |e| {
        if e.epoch == 5 {
            want = e.copied.iter().chain(&e.watched).map(|(_, v)| *v).collect();
        }
    })
    .unwrap();
    let got: Vec<f64> = last.as_array().unwrap()[1..]
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, want, "{last}");
    s.screenshot(&shots.join("book-03-run.png"));

    // A sheet with a cell at A1 and one at XFD1048576: the grid draws the two used rows
    // and columns, not seventeen billion squares.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write(0, 0, 1.0).unwrap();
    ws.write(1_048_575, 16_383, 2.0).unwrap();
    choose_as(s, &wb.save_to_buffer().unwrap(), "far.xlsx", 1);
    let squares = s.js("return document.querySelectorAll('#book-grid tbody td').length");
    assert_eq!(squares, serde_json::json!(4), "{squares}");
    assert_eq!(text(s, "#book-grid td[data-cell='XFD1048576']"), "2");
}

/// A number as the page's `fmt` shows it for these magnitudes: 7 significant digits,
/// trailing zeros dropped.
fn js_fmt(v: f64) -> String {
    let digits = 7 - 1 - v.abs().log10().floor() as i32;
    let s = format!("{:.*}", digits.max(0) as usize, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn phone(s: &Session, base: &str, shots: &Path, bytes: &[u8]) {
    s.phone(390, 844);
    // A fresh page (the query makes it a new document).
    s.goto(&format!("{base}?phone#book"));
    choose(s, bytes);
    s.click("#book-tabs button[data-sheet='sgd']");
    let widths =
        s.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the page scrolls sideways on a phone: {widths}"
    );
    // The grid is wider than the phone and scrolls inside its box.
    let grid = s.js(
        "const w = document.querySelector('#book-grid-wrap'); return [w.scrollWidth, w.clientWidth]",
    );
    assert!(grid[0].as_u64() > grid[1].as_u64(), "{grid}");
    s.click("#book-grid td[data-cell='F35']");
    s.wait(
        "the summed error's derivatives",
        "return document.querySelectorAll('#book-derivs tbody tr').length > 3",
    );
    let widths =
        s.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the derivatives' card scrolls the page sideways: {widths}"
    );
    s.screenshot(&shots.join("book-04-phone.png"));
    s.desktop();
}

/// fast.ai's graddesc.xlsm and titanic.xlsx on the page (skipped loudly without them,
/// mandatory in CI): graddesc's basic sheet with its forward-difference columns marked and
/// basic!F33's derivatives; the time from choosing each file to its grid drawn, logged.
fn fast_ai(s: &Session, base: &str, shots: &Path) {
    for name in ["graddesc-2018.xlsm", "titanic.xlsx"] {
        let Some(p) = gradsheet_testkit::shared(&format!("workbooks/{name}")) else {
            return;
        };
        let bytes = std::fs::read(p).unwrap();
        let n = Book::open(&bytes).unwrap().workbook().sheets.len();
        s.goto(&format!("{base}?{name}#book"));
        let t = std::time::Instant::now();
        choose_as(s, &bytes, name, n);
        eprintln!(
            "workbook page: {name} chosen to its first sheet drawn in {:.0} ms (test build; the upload included)",
            t.elapsed().as_secs_f64() * 1000.0
        );
        if name.starts_with("graddesc") {
            s.click("#book-tabs button[data-sheet='basic']");
            let h = attr(s, "#book-grid th.book-verdict[data-col='H']", "class");
            assert!(h.contains("v-diff"), "{h}");
            assert_eq!(
                text(s, "#book-grid th.book-verdict[data-col='H']"),
                "forward diff. h = 0.01"
            );
            s.click("#book-grid td[data-cell='F33']");
            s.wait(
                "basic!F33's derivatives",
                "return document.querySelectorAll('#book-derivs tbody tr').length > 2",
            );
            let head = text(s, "#book-cell h2");
            assert!(head.starts_with("basic!F33 = 103.9932"), "{head}");
            let derivs = text(s, "#book-derivs");
            assert!(
                derivs.contains("basic!C1") && derivs.contains("basic!C2"),
                "{derivs}"
            );
            s.screenshot(&shots.join("book-05-graddesc.png"));
            // The written-back workbook is a link away.
            let href = attr(s, "#book-checked", "href");
            assert!(href.ends_with("/checked.xlsx"), "{href}");
            // Run without copies plays the sheet's own macro, after its Reset, and the
            // sheet's rows are explained above the epochs.
            let hint = text(s, "#book-run-hint");
            assert!(
                hint.starts_with(
                    "Leave the copies empty and Run plays this sheet's own macro, basic."
                ),
                "{hint}"
            );
            s.clear("#book-copies");
            s.clear("#book-epochs");
            s.type_into("#book-epochs", "3");
            s.click("#book-reset");
            s.click("#book-run");
            s.wait(
                "the macro's run",
                "return document.querySelectorAll('#book-run-table tbody tr').length === 3",
            );
            let banner = text(s, "#book-explain p strong");
            assert!(
                banner.starts_with("No row is too steep for the learning rate (basic!F1 = 1e-4): the steepest, row 21 (A21 = 99, B21 = 228)"),
                "{banner}"
            );
            s.js("document.querySelector('#book-run-card').scrollIntoView(); return true;");
            s.screenshot(&shots.join("book-06-graddesc-run.png"));
        }
    }
}
