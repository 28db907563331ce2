//! `gradsheet serve --book FILE`: the web app starts with the workbook open, the page's
//! `GET /api/book` answering it; a file that is not a workbook stops the command before
//! it listens, naming the file and the fault.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use rust_xlsxwriter::{Formula, Workbook};

use crate::common::{path, usage_error};

fn workbook(dir: &std::path::Path) -> String {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("my model").unwrap();
    ws.write(0, 0, 3.0).unwrap();
    ws.write(0, 1, Formula::new("=A1^2").set_result("9"))
        .unwrap();
    let p = path(dir, "mine.xlsx");
    wb.save(&p).unwrap();
    p
}

#[test]
fn serve_opens_the_workbook_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let file = workbook(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradsheet"))
        .args(["serve", "--port", "0", "--book", &file])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    let mut line = String::new();
    while !line.contains("press Ctrl-C") {
        line.clear();
        assert!(out.read_line(&mut line).expect("read") > 0, "{lines:?}");
        lines.push(line.clone());
    }
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("gradsheet is running at http://"))
        .expect("the URL")
        .trim()
        .trim_end_matches('/')
        .to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("mine.xlsx is open at") && l.ends_with("#book\n")),
        "{lines:?}"
    );
    let mut s = std::net::TcpStream::connect(&url).unwrap();
    write!(
        s,
        "GET /api/book HTTP/1.1\r\nHost: {url}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    child.kill().expect("stop the server");
    child.wait().expect("the server ends");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"name\":\"mine.xlsx\""), "{answer}");
    assert!(answer.contains("\"formula\":\"=A1^2\""), "{answer}");
}

#[test]
fn serve_refuses_a_file_that_is_not_a_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "notes.xlsx");
    std::fs::write(&file, "not a workbook").unwrap();
    let err = usage_error(&["serve", "--port", "0", "--book", &file]);
    assert!(
        err.contains("notes.xlsx: not an .xlsx, .xlsm or .ods workbook"),
        "{err}"
    );
}
