//! The five things a learner from the fast.ai forum came to do, done in Chromium as a
//! person does them, on a desktop and on a 390-pixel phone, asserting what the person
//! sees: (a) check a forward-difference formula for ∂e/∂a, (b) find where momentum's
//! first −18.33 comes from, (c) see why `c*(a*x+b)+d` explodes at lr 1e-4 and fix it,
//! (d) add a ReLU and see what happens, (e) download the run and share it. Then the run
//! played, a row opened, a chart hovered, a stability cell opened. Screenshots go to
//! `target/screenshots/learner-*.png`.

use crate::browser::{attr, page, text, wait_for_file, Page};
use crate::webdriver::Session;

/// The sizes the tasks are done at: a desktop window and a phone (emulated).
const SIZES: [(&str, Option<(u32, u32)>); 2] = [("desktop", None), ("phone", Some((390, 844)))];

#[test]
fn the_five_tasks_of_a_learner_on_a_desktop_and_a_phone() {
    let Some(Page {
        s,
        base,
        shots,
        lock: _lock,
    }) = page()
    else {
        return;
    };
    for (size, phone) in SIZES {
        match phone {
            Some((w, h)) => s.phone(w, h),
            None => s.desktop(),
        }
        let shot = |name: &str| s.screenshot(&shots.join(format!("learner-{size}-{name}.png")));
        check_a_typed_derivative(&s, &base, &shot);
        momentums_first_value(&s, &base, &shot);
        an_exploding_run_and_its_remedy(&s, &base, &shot);
        a_relu_that_dies(&s, &base, &shot);
        download_and_share(&s, &base, &shot);
        every_page_fits(&s, &base, size, phone.is_some(), &shot);
    }
    s.desktop();
    let shot = |name: &str| s.screenshot(&shots.join(format!("learner-desktop-{name}.png")));
    watch_it_train(&s, &base, &shot);
    println!("screenshots in {}", shots.display());
}

/// No page is wider than the screen (a table or a chart scrolls inside its own box).
fn no_sideways_scroll(s: &Session, what: &str) {
    let v =
        s.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    let (sw, cw) = (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0));
    assert!(
        sw <= cw + 0.5,
        "{what} scrolls sideways: {sw} px wide on a {cw}-px screen"
    );
}

/// Scrolls an element to the top of the screen (under the header), for a screenshot of
/// what a person looks at.
fn show(s: &Session, css: &str) {
    s.js(&format!(
        "const e = document.querySelector({css:?}); if (e) {{ e.scrollIntoView({{block: 'start'}}); }} return 1;"
    ));
    std::thread::sleep(std::time::Duration::from_millis(150));
}

/// Clicks an element by script (a sticky header may cover it where WebDriver would click),
/// once it is there: a page redrawing after a navigation replaces its rows.
fn press(s: &Session, css: &str) {
    s.wait(
        &format!("{css} to press"),
        &format!("return document.querySelector({css:?}) !== null"),
    );
    let found = s.js(&format!(
        "const e = document.querySelector({css:?}); if (!e) return false; e.scrollIntoView({{block: 'center'}}); e.click(); return true;"
    ));
    assert_eq!(found, serde_json::json!(true), "nothing to press at {css}");
}

/// Clicks an element as a person does (a download needs a real click: Chromium lets a
/// page start a second download only from one), scrolled into the middle of the screen.
fn click(s: &Session, css: &str) {
    let found = s.js(&format!(
        "const e = document.querySelector({css:?}); if (!e) return false; e.scrollIntoView({{block: 'center'}}); return true;"
    ));
    assert_eq!(found, serde_json::json!(true), "nothing to click at {css}");
    s.click(css);
}

/// (a) A forward difference typed for ∂e/∂a is told to be an approximation (its own
/// colour), with its error; the same formula missing its /0.01 is told it is wrong.
fn check_a_typed_derivative(s: &Session, base: &str, shot: &dyn Fn(&str)) {
    s.goto(&format!(
        "{base}#playground?model=c*(a*x%2Bb)%2Bd&opt=sgd&lr=0.0001"
    ));
    s.wait(
        "the derivatives",
        "return document.querySelectorAll('#pg-derivs .deriv').length === 4",
    );
    // The checker sits with the derivatives it checks.
    assert!(
        s.js("return document.getElementById('pg-claim').closest('.card').contains(document.getElementById('pg-derivs'))")
            == serde_json::json!(true),
        "the typed derivative's box is in the derivatives' card"
    );
    s.js("const p = document.getElementById('pg-claim-param'); p.value = 'a'; p.dispatchEvent(new Event('change')); return 1;");
    s.type_into(
        "#pg-claim",
        "((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01",
    );
    s.wait(
        "the verdict",
        "return document.getElementById('pg-claim-verdict').classList.contains('approximation')",
    );
    let v = text(s, "#pg-claim-verdict");
    assert!(v.contains("forward difference"), "{v}");
    assert!(v.contains("0.01"), "{v}");
    show(s, "#pg-derivs");
    shot("a-approximation");
    // Missing its /0.01: not the derivative.
    s.clear("#pg-claim");
    s.type_into("#pg-claim", "(((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2");
    s.wait(
        "the verdict on the formula without /0.01",
        "return document.getElementById('pg-claim-verdict').classList.contains('wrong')",
    );
    show(s, "#pg-derivs");
    shot("a-wrong");
    // The URL holds the typed formula: reloading gives the same verdict.
    let url = s
        .js("return location.href")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(url.contains("claim="), "{url}");
    s.goto("about:blank");
    s.goto(&url);
    s.wait(
        "the typed formula after a reload",
        "return document.getElementById('pg-claim').value.includes('(((a+0.01)') && document.getElementById('pg-claim-verdict').classList.contains('wrong')",
    );
}

/// (b) From the momentum sheet, one click shows the sheet as Reset leaves it, with
/// −18.33 and 98.25 in J3:K3 and the remark that explains them beside them.
fn momentums_first_value(s: &Session, base: &str, shot: &dyn Fn(&str)) {
    s.goto(&format!("{base}#lab?sheet=momentum"));
    s.wait(
        "the momentum table",
        "return document.querySelectorAll('#lab-table tbody tr[data-step]').length === 29",
    );
    // In the clean run, the last row of epoch 1 holds the same numbers, marked.
    assert_eq!(
        s.js("return document.querySelectorAll('#lab-table td.noted').length"),
        serde_json::json!(2)
    );
    press(s, "#lab-sheet-note button");
    s.wait(
        "the sheet after Reset",
        "return document.querySelector('#lab-table td[data-cell=J3]') !== null",
    );
    assert_eq!(
        text(s, "#lab-table td[data-cell=J3]").trim_start_matches("carried state"),
        "-18.33393"
    );
    assert!(attr(s, "#lab-table td[data-cell=J3]", "class").contains("noted"));
    let remark = text(s, "#lab-table tr.remark-row");
    assert!(remark.contains("-18.33 and 98.25 (J3:K3)"), "{remark}");
    assert!(
        remark.contains("K1 = 1-β = 0.1)"),
        "the remark's numbers read as a person reads them: {remark}"
    );
    assert!(text(s, "#lab-view-label").contains("Reset"));
    show(s, "#lab-table-title");
    shot("b-after-reset");
}

/// (c) `c*(a*x+b)+d` at lr 1e-4 explodes: the banner opens with plain words, and a
/// remedy button applies a verified learning rate and re-runs, which then completes.
fn an_exploding_run_and_its_remedy(s: &Session, base: &str, shot: &dyn Fn(&str)) {
    s.goto(&format!(
        "{base}#playground?model=c*(a*x%2Bb)%2Bd&opt=sgd&lr=0.0001&epochs=30"
    ));
    let first = s.wait(
        "the diagnosis",
        "const b = document.getElementById('pg-diagnosis'); return !b.hidden && b.dataset.kind === 'diverged' && b.querySelector('p.plain').textContent",
    );
    let first = first.as_str().unwrap_or_default().to_string();
    assert!(
        first.contains("x = 99") && first.contains("overshoot"),
        "the banner opens with what happened, in words: {first}"
    );
    assert!(
        !first.contains("λ"),
        "no Hessian in the first sentence: {first}"
    );
    show(s, "#pg-diagnosis");
    shot("c-diverged");
    press(s, "#pg-diagnosis button.remedy");
    s.wait(
        "the remedy re-run",
        "const b = document.getElementById('pg-diagnosis'); return b.hidden || b.dataset.kind === 'collapse'",
    );
    let lr = s
        .js("return location.hash")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !lr.contains("lr=0.0001&"),
        "the remedy changed the learning rate: {lr}"
    );
    show(s, "#pg-summary");
    shot("c-remedied");
}

/// (d) With a ReLU, SGD at 1e-4 ends worse than it started, the unit off on every row:
/// the page says so although the run did not diverge.
fn a_relu_that_dies(s: &Session, base: &str, shot: &dyn Fn(&str)) {
    s.goto(&format!(
        "{base}#playground?model=c*MAX(a*x%2Bb,0)%2Bd&opt=sgd&lr=0.0001&epochs=30"
    ));
    let first = s.wait(
        "the diagnosis of a run that did not diverge",
        "const b = document.getElementById('pg-diagnosis'); return !b.hidden && b.dataset.kind === 'dead_unit' && b.querySelector('p.plain').textContent",
    );
    let first = first.as_str().unwrap_or_default();
    assert!(
        first.starts_with("The unit max(a·x + b, 0) is off on every row"),
        "{first}"
    );
    assert!(first.contains("only d still learns"), "{first}");
    assert!(
        first.contains("ended worse than it started: 5655 → 12116"),
        "{first}"
    );
    assert!(attr(s, "#pg-diagnosis", "class").contains("warn"));
    show(s, "#pg-diagnosis");
    shot("d-relu");
}

/// (e) The run downloads as a workbook and as CSV (exact values), and its link, opened
/// anew, gives the same page: initial values included.
fn download_and_share(s: &Session, base: &str, shot: &dyn Fn(&str)) {
    s.goto(&format!(
        "{base}#playground?model=c*MAX(a*x%2Bb,0)%2Bd&opt=adam&lr=0.05&epochs=30&init=c:2,a:0.5,b:-3,d:7"
    ));
    s.wait(
        "the run",
        "return document.querySelectorAll('#pg-table tbody tr[data-step]').length === 29",
    );
    // The initial values of the link are kept, on the page and in the URL.
    assert_eq!(
        s.js("return ['c','a','b','d'].map(p => document.getElementById('pg-init-' + p).value).join(',')"),
        serde_json::json!("2,0.5,-3,7")
    );
    let url = s
        .js("return location.href")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        url.contains("init=c%3A2%2Ca%3A0.5%2Cb%3A-3%2Cd%3A7"),
        "{url}"
    );
    let csv_path = s.downloads.join("gradsheet-trace.csv");
    let _ = std::fs::remove_file(&csv_path);
    click(s, "#pg-dl-csv");
    let csv = String::from_utf8(wait_for_file(&csv_path)).expect("CSV is text");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap_or_default()
            .contains(",2,0.5,-3,7,"),
        "{}",
        csv.lines().nth(1).unwrap_or_default()
    );
    let xlsx_path = s.downloads.join("gradsheet-run.xlsx");
    let _ = std::fs::remove_file(&xlsx_path);
    click(s, "#pg-dl-xlsx");
    assert!(wait_for_file(&xlsx_path).starts_with(b"PK\x03\x04"));
    shot("e-downloaded");
    // The link, opened anew, is the same page.
    s.goto("about:blank");
    s.goto(&url);
    s.wait(
        "the shared page",
        "return document.querySelectorAll('#pg-table tbody tr[data-step]').length === 29",
    );
    assert_eq!(
        s.js("return location.href").as_str().unwrap_or_default(),
        url
    );
    assert_eq!(
        s.js("return document.getElementById('pg-init-b').value"),
        serde_json::json!("-3")
    );
}

/// Every page at this size: no sideways scroll; on a phone the navigation is a menu.
fn every_page_fits(s: &Session, base: &str, size: &str, phone: bool, shot: &dyn Fn(&str)) {
    for (page, ready) in [
        (
            "lab",
            "document.querySelectorAll('#lab-table tbody tr').length === 29",
        ),
        (
            "playground",
            "document.querySelectorAll('#pg-derivs .deriv').length === 4",
        ),
        (
            "compare",
            "document.querySelectorAll('#cmp-chart-error path.series').length >= 2",
        ),
        (
            "stability",
            "document.querySelectorAll('#st-chart rect.cell').length > 100",
        ),
        (
            "labs",
            "document.querySelectorAll('#labs-figures svg').length > 0",
        ),
    ] {
        s.goto(&format!("{base}#{page}"));
        s.wait(
            &format!("the {page} page ({size})"),
            &format!("return {ready}"),
        );
        no_sideways_scroll(s, &format!("the {page} page ({size})"));
        // Text in the charts stays readable: their drawings are as wide as their boxes.
        let small = s.js(
            "return [...document.querySelectorAll('svg.chart')].filter(c => c.getBoundingClientRect().width > 0).map(c => c.getBoundingClientRect().width / c.viewBox.baseVal.width).filter(k => k < 0.9).length",
        );
        assert_eq!(
            small,
            serde_json::json!(0),
            "a chart of {page} is drawn smaller than its text"
        );
        shot(&format!("page-{page}"));
        if phone {
            show(s, &format!("#page-{page} .work"));
            shot(&format!("page-{page}-results"));
        }
    }
    let nav_shown =
        s.js("return getComputedStyle(document.getElementById('nav')).display !== 'none'");
    assert_eq!(
        nav_shown,
        serde_json::json!(!phone),
        "the navigation on a {size}"
    );
    if phone {
        press(s, "#menu");
        s.wait(
            "the menu",
            "return getComputedStyle(document.getElementById('nav')).display !== 'none'",
        );
        shot("menu");
        press(s, "#nav a[data-page=lab]");
        s.wait("the lab from the menu", "return location.hash.startsWith('#lab') && getComputedStyle(document.getElementById('nav')).display === 'none'");
    }
}

/// Play, pause and step; a row's formulas; a chart's exact values; a stability cell.
fn watch_it_train(s: &Session, base: &str, shot: &dyn Fn(&str)) {
    s.goto(&format!("{base}#lab"));
    s.wait(
        "the lab",
        "return document.querySelectorAll('#lab-table tbody tr[data-step]').length === 29",
    );
    // Stepping: to the start, then one row and one epoch forward.
    press(s, "#lab-player button[aria-label='to the start']");
    press(s, "#lab-player button[aria-label='forward one row']");
    s.wait(
        "the first step lit",
        "return document.querySelector('#lab-table tr.current[data-step=\"1\"]') !== null",
    );
    assert!(text(s, "#lab-player .where").starts_with("step 1 of 2900"));
    press(s, "#lab-player button[aria-label='forward one epoch']");
    s.wait(
        "step 30, in epoch 2's table",
        "return document.querySelector('#lab-table tr.current[data-step=\"30\"]') !== null",
    );
    assert!(
        s.js("return location.hash")
            .as_str()
            .unwrap_or_default()
            .contains("at=30"),
        "the URL keeps the position"
    );
    // Playing moves the cursor and grows the path.
    let before = attr(s, "#lab-chart-path path.run-path[data-name=steps]", "d").len();
    press(s, "#lab-player button.play");
    s.wait(
        "the run to play on",
        "return +((document.querySelector('#lab-table tr.current') || {}).dataset || {}).step > 33",
    );
    press(s, "#lab-player button.play");
    let after = attr(s, "#lab-chart-path path.run-path[data-name=steps]", "d").len();
    assert!(
        after > before,
        "the path grew ({before} → {after} characters)"
    );
    shot("play");
    // A row's formulas with its numbers.
    press(
        s,
        "#lab-player button[aria-label='to the end (the whole run)']",
    );
    s.goto(&format!("{base}#lab?sheet=basic&view=1"));
    s.wait(
        "the lab",
        "return document.querySelectorAll('#lab-table tbody tr[data-step]').length === 29",
    );
    press(s, "#lab-table tbody tr[data-step='1']");
    let detail = s.wait(
        "the formulas of step 1",
        "const d = document.querySelector('#lab-table .detail'); return d && d.textContent",
    );
    let detail = detail.as_str().unwrap_or_default();
    assert!(detail.contains("sheet row 4"), "{detail}");
    assert!(detail.contains("1 + 1·14"), "{detail}");
    assert!(detail.contains("(1 + 1·14 − 58)²"), "{detail}");
    shot("row-formulas");
    // Hovering the error chart gives exact values.
    s.hover("#lab-chart-error", 0, 0);
    let tip = s.wait(
        "the chart's tooltip",
        "const t = document.querySelector('#lab-chart-error').parentElement.querySelector('.tip'); return t && !t.hidden && t.textContent",
    );
    assert!(
        tip.as_str().unwrap_or_default().contains("epoch mean: "),
        "{tip}"
    );
    shot("hover");
    // A stability cell opens its run.
    s.goto(&format!("{base}#stability"));
    s.wait(
        "the map",
        "return document.querySelectorAll('#st-chart rect.cell').length > 100",
    );
    s.js("const r = document.querySelector(\"#st-chart rect.cell[data-i='10'][data-j='3']\").getBoundingClientRect(); \
          document.getElementById('st-chart').dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2})); return 1;");
    s.wait("the cell's run in the lab", "return location.hash.startsWith('#lab') && document.querySelectorAll('#lab-table tbody tr[data-step]').length === 29");
    let hash = s
        .js("return location.hash")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        hash.contains("opt=momentum") && hash.contains("b1="),
        "{hash}"
    );
}
