//! Hostile files, built here in memory: each is refused before calamine parses it, with
//! an error naming the part at fault, and quickly.

use std::io::{Read, Write};
use std::time::Instant;

use gradsheet_book::{Book, BookError};
use rust_xlsxwriter::{Formula, Workbook};

/// A small workbook as rust_xlsxwriter writes it.
fn workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write(0, 0, 2.0).unwrap();
    ws.write(0, 1, Formula::new("=A1*3").set_result("6"))
        .unwrap();
    wb.save_to_buffer().unwrap()
}

/// `xlsx` repacked: the part named `replace.0` (if any) replaced by `replace.1`, and
/// `extra` parts added, all deflated.
fn repack(xlsx: &[u8], replace: Option<(&str, &[u8])>, extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut from = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..from.len() {
        let mut f = from.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if let Some((n, b)) = replace {
            if n == name {
                bytes = b.to_vec();
            }
        }
        w.start_file(name, o).unwrap();
        w.write_all(&bytes).unwrap();
    }
    for (name, bytes) in extra {
        w.start_file(*name, o).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn refused(bytes: &[u8]) -> BookError {
    let t = Instant::now();
    let e = Book::open(bytes).err().expect("a hostile file is refused");
    eprintln!("refused in {:?}: {e}", t.elapsed());
    e
}

#[test]
fn the_repacked_workbook_still_opens() {
    let book = Book::open(&repack(&workbook(), None, &[])).unwrap();
    assert_eq!(book.gradient("Sheet1!B1").unwrap().value, 6.0);
}

#[test]
fn an_encrypted_workbook_or_an_xls_is_named() {
    // What Excel saves with a password: an OLE compound file, as an old .xls is.
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.resize(4096, 0);
    let e = refused(&ole);
    assert!(matches!(e, BookError::Read(_)));
    assert!(
        e.to_string()
            .starts_with("the file is encrypted or an old .xls"),
        "{e}"
    );
}

#[test]
fn a_part_that_inflates_a_thousand_times_is_a_bomb() {
    // 8 MB of zeros pack to about 8 KB.
    let bomb = repack(
        &workbook(),
        None,
        &[("xl/media/image1.png", vec![0u8; 8 * 1024 * 1024])],
    );
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let e = refused(&bomb);
    assert!(matches!(e, BookError::TooLarge(_)));
    let e = e.to_string();
    assert!(
        e.starts_with("the part xl/media/image1.png unpacks 1"),
        "{e}"
    );
    assert!(e.contains("times (8 MB from "), "{e}");
    assert!(e.contains("a decompression bomb"), "{e}");
}

#[test]
fn a_part_longer_than_its_directory_says_is_refused() {
    let mut z = repack(
        &workbook(),
        None,
        &[("xl/media/blob.bin", vec![7u8; 100_000])],
    );
    // Declare 1,000 bytes in the part's local header and in the central directory.
    let name = b"xl/media/blob.bin";
    let at: Vec<usize> = z
        .windows(name.len())
        .enumerate()
        .filter(|(_, w)| w == name)
        .map(|(i, _)| i)
        .collect();
    let mut patched = 0;
    for i in at {
        if i >= 30 && z[i - 30..i - 26] == *b"PK\x03\x04" {
            z[i - 30 + 22..i - 30 + 26].copy_from_slice(&1000u32.to_le_bytes());
            patched += 1;
        }
        if i >= 46 && z[i - 46..i - 42] == *b"PK\x01\x02" {
            z[i - 46 + 24..i - 46 + 28].copy_from_slice(&1000u32.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
    let e = refused(&z).to_string();
    assert!(e.contains("the part xl/media/blob.bin "), "{e}");
}

/// A sheet whose one cell is 3⁹ "lol"s if its entities are expanded (and 10⁹ with a
/// few more levels; nine keep the unguarded parse below quick either way).
fn billion_laughs() -> Vec<u8> {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE worksheet [\n<!ENTITY lol0 \"lol\">\n",
    );
    for i in 1..10 {
        let p = format!("&lol{};", i - 1);
        x.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", p.repeat(10)));
    }
    x.push_str(
        "]>\n<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
         <sheetData><row r=\"1\"><c r=\"A1\" t=\"str\"><v>&lol9;</v></c></row></sheetData></worksheet>",
    );
    repack(
        &workbook(),
        Some(("xl/worksheets/sheet1.xml", x.as_bytes())),
        &[],
    )
}

#[test]
fn a_billion_laughs_sheet_is_refused() {
    let e = refused(&billion_laughs());
    assert!(matches!(e, BookError::Read(_)));
    assert!(
        e.to_string().starts_with(
            "the part xl/worksheets/sheet1.xml declares a DOCTYPE with ENTITY declarations"
        ),
        "{e}"
    );
}

/// Without the check, calamine's parser (quick-xml) does not expand the entities either:
/// the cell is an error about an unknown entity, not a billion characters.
#[test]
fn calamine_alone_never_expands_entities() {
    let bytes = billion_laughs();
    let t = Instant::now();
    let mut x: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(&bytes[..])).unwrap();
    let mut r = x.worksheet_cells_reader("Sheet1").unwrap();
    let mut longest = 0;
    let mut failed = None;
    loop {
        match r.next_cell_with_formula() {
            Ok(Some(c)) => longest = longest.max(format!("{:?}", c.value).len()),
            Ok(None) => break,
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    eprintln!(
        "calamine on the billion laughs: {:?}, longest cell {longest}, {failed:?}",
        t.elapsed()
    );
    assert!(
        longest < 100,
        "an entity was expanded: {longest} characters"
    );
    assert!(failed.unwrap_or_default().contains("lol9"));
}
