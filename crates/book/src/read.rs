//! Reading a workbook's cells from its bytes: every sheet's values (typed or as Excel
//! last saved them) and formulas, and the defined names.
//!
//! The reader streams cell by cell, so a file's memory is bounded by the cells that
//! exist (a 3 KB file with one cell at XFD1048576 is one cell), and refuses past
//! [`MAX_CELLS`] cells or a formula longer than Excel's 8,192 characters.
//!
//! A file is hostile until read (an upload to the web app, a download opened on the
//! command line): before calamine sees it, [`check_container`] reads the zip's directory
//! and streams every part once through a fixed buffer, refusing a decompression bomb
//! (more than [`MAX_UNPACKED`] bytes in all, a part that inflates more than
//! [`MAX_RATIO`] times, a part longer than its directory says), a part that declares a
//! DOCTYPE (an Office Open XML part never has one; its entities are how a billion-laughs
//! file grows), an encrypted part, and an encrypted workbook (which Excel saves as an OLE
//! compound file, as it saves an old .xls).

use std::io::Read as _;

use calamine::{DataRef, Reader, Xlsx};

use crate::BookError;

/// The most cells read from one workbook.
pub const MAX_CELLS: usize = 2_000_000;

/// The longest formula Excel writes, in characters.
pub const MAX_FORMULA_CHARS: usize = 8192;

/// The most bytes a workbook's parts may unpack to, in all (graddesc.xlsm unpacks to
/// about 1 MB, titanic.xlsx to a few).
pub const MAX_UNPACKED: u64 = 256 * 1024 * 1024;

/// The largest ratio of a part's unpacked size to its packed size, for a part that
/// unpacks past [`RATIO_FLOOR`] bytes. A sheet's XML packs 10 to 30 times; a bomb's
/// zeros pack a thousand times.
pub const MAX_RATIO: u64 = 200;

/// Parts smaller than this unpacked are not judged by their ratio (a small part of
/// repeated text packs well and is harmless).
pub const RATIO_FLOOR: u64 = 1024 * 1024;

/// The most parts read from a workbook's zip (an .xlsx has tens).
pub const MAX_PARTS: usize = 10_000;

/// The first bytes of an OLE compound file: an encrypted .xlsx, or an .xls.
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// How much of each XML part is searched for a DOCTYPE: it can stand only before the
/// root element, after the XML declaration.
const PROLOGUE: usize = 64 * 1024;

/// Checks a workbook's bytes before they are parsed (see the module's docs).
///
/// # Errors
///
/// [`BookError::Read`] for an encrypted file, an .xls, bytes that are not a zip, a part
/// that cannot be unpacked or declares a DOCTYPE; [`BookError::TooLarge`] for a
/// decompression bomb, naming the part.
pub fn check_container(bytes: &[u8]) -> Result<(), BookError> {
    check_container_within(bytes, MAX_UNPACKED)
}

/// [`check_container`] with `max_unpacked` bytes in all.
fn check_container_within(bytes: &[u8], max_unpacked: u64) -> Result<(), BookError> {
    if bytes.starts_with(&CFB_MAGIC) {
        return Err(BookError::Read(
            "the file is encrypted or an old .xls (an OLE compound file, not a zip): \
             gradsheet reads .xlsx and .xlsm; save it from Excel as an .xlsx without a password"
                .into(),
        ));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
        BookError::Read(format!(
            "not an .xlsx, .xlsm or .ods workbook (its zip cannot be read: {e})"
        ))
    })?;
    if zip.len() > MAX_PARTS {
        return Err(BookError::TooLarge(format!(
            "the zip has {} parts, more than the {MAX_PARTS} gradsheet reads",
            zip.len()
        )));
    }
    // The directory first: what each part says it is, before anything is unpacked.
    let mut declared = 0u64;
    let mut parts = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| BookError::Read(format!("the zip's part {i} cannot be read: {e}")))?;
        let name = f
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("part {i}"));
        if f.encrypted() {
            return Err(BookError::Read(format!(
                "the part {name} is encrypted: gradsheet reads workbooks without a password"
            )));
        }
        let (size, packed) = (f.size(), f.compressed_size());
        declared = declared.saturating_add(size);
        if declared > max_unpacked {
            return Err(BookError::TooLarge(format!(
                "the workbook unpacks to more than {} (at the part {name}, of {}): \
                 a decompression bomb, or more than gradsheet reads",
                bytes_text(max_unpacked),
                bytes_text(size)
            )));
        }
        if size > RATIO_FLOOR && size / packed.max(1) > MAX_RATIO {
            return Err(BookError::TooLarge(format!(
                "the part {name} unpacks {} times ({} from {}): a decompression bomb \
                 (a workbook's parts pack at most about {MAX_RATIO} times)",
                size / packed.max(1),
                bytes_text(size),
                bytes_text(packed)
            )));
        }
        parts.push((name, size));
    }
    let ods = parts.iter().any(|(n, _)| n == "mimetype") && crate::ods::is_ods(bytes);
    // Then every part unpacked through a fixed buffer, held to the size its directory
    // entry declared (the directory can lie), its prologue searched for a DOCTYPE.
    let mut buf = vec![0u8; 64 * 1024];
    let mut prologue = Vec::with_capacity(PROLOGUE);
    for (i, (name, size)) in parts.iter().enumerate() {
        let unreadable = |e: &dyn std::fmt::Display| {
            BookError::Read(format!("the part {name} cannot be unpacked: {e}"))
        };
        let mut f = zip.by_index(i).map_err(|e| unreadable(&e))?;
        let mut seen = 0u64;
        prologue.clear();
        loop {
            let n = f.read(&mut buf).map_err(|e| unreadable(&e))?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            if seen > *size {
                return Err(BookError::TooLarge(format!(
                    "the part {name} unpacks to more than the {} its zip directory declares: \
                     a decompression bomb",
                    bytes_text(*size)
                )));
            }
            let room = PROLOGUE - prologue.len();
            prologue.extend_from_slice(&buf[..n.min(room)]);
        }
        let lower = name.to_ascii_lowercase();
        if [".xml", ".rels", ".vml"].iter().any(|x| lower.ends_with(x)) {
            // LibreOffice writes a DTD reference atop an .ods's Basic and dialog
            // libraries, parts nothing here reads: there a DOCTYPE without entities is
            // let be.
            let unread = ods
                && !["content.xml", "styles.xml", "meta.xml", "settings.xml"]
                    .contains(&lower.as_str());
            doctype(name, &prologue, unread)?;
        }
    }
    Ok(())
}

/// A cell's value as saved: a number, text, a truth value, an error, or nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// Text.
    Text(String),
    /// TRUE or FALSE.
    Bool(bool),
    /// An error value (`#DIV/0!`, `#NUM!`, …).
    Error(String),
    /// No value.
    Empty,
}

/// One cell: where it is, what it holds, and its formula if it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Zero-based row.
    pub row: u32,
    /// Zero-based column.
    pub col: u32,
    /// The value typed, or the formula's value as Excel saved it.
    pub value: Value,
    /// The formula, without its `=`.
    pub formula: Option<String>,
}

/// A sheet: its name and cells, in the order the file holds them (row by row).
#[derive(Clone, Debug, PartialEq)]
pub struct Sheet {
    /// Its name.
    pub name: String,
    /// Its cells.
    pub cells: Vec<Cell>,
}

/// A workbook: its sheets and defined names (`name`, `refers to`).
#[derive(Clone, Debug, PartialEq)]
pub struct Workbook {
    /// The sheets, in order.
    pub sheets: Vec<Sheet>,
    /// The defined names and what each refers to (`basic!$F$1`, a constant, a formula).
    pub names: Vec<(String, String)>,
    /// Whether the file has VBA macros (an .xlsm).
    pub has_macros: bool,
    /// The significant digits its saved values keep: `None` for every bit (an .xlsx),
    /// 15 for an .ods (LibreOffice writes its values in 15 decimal digits).
    pub saved_digits: Option<u32>,
}

impl Workbook {
    /// Reads an .xlsx, .xlsm or .ods from its bytes.
    ///
    /// # Errors
    ///
    /// [`BookError::Read`] when the bytes are not a workbook, are encrypted, or a part
    /// declares a DOCTYPE; [`BookError::TooLarge`] for a decompression bomb (see
    /// [`check_container`]), past [`MAX_CELLS`] cells or a formula past
    /// [`MAX_FORMULA_CHARS`] characters.
    pub fn from_bytes(bytes: &[u8]) -> Result<Workbook, BookError> {
        check_container(bytes)?;
        if crate::ods::is_ods(bytes) {
            return crate::ods::read(bytes);
        }
        let mut x: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| BookError::Read(format!("not an .xlsx, .xlsm or .ods workbook: {e}")))?;
        let names: Vec<(String, String)> = x.defined_names().to_vec();
        let has_macros = x.vba_project().is_ok_and(|v| v.is_some());
        let mut sheets = Vec::new();
        let mut total = 0usize;
        for name in x.sheet_names() {
            let mut cells = Vec::new();
            let mut r = x
                .worksheet_cells_reader(&name)
                .map_err(|e| BookError::Read(format!("cannot read sheet '{name}': {e}")))?;
            while let Some(c) = r
                .next_cell_with_formula()
                .map_err(|e| BookError::Read(format!("cannot read sheet '{name}': {e}")))?
            {
                let value = value(&c.value);
                let formula = c.formula.filter(|f| !f.is_empty());
                if value == Value::Empty && formula.is_none() {
                    continue;
                }
                if let Some(f) = &formula {
                    if f.chars().count() > MAX_FORMULA_CHARS {
                        return Err(BookError::TooLarge(format!(
                            "'{name}'!{}: a formula of {} characters, past Excel's {MAX_FORMULA_CHARS}",
                            crate::cell_name(c.pos.0, c.pos.1),
                            f.chars().count()
                        )));
                    }
                }
                total += 1;
                if total > MAX_CELLS {
                    return Err(BookError::TooLarge(format!(
                        "more than {MAX_CELLS} cells (the most gradsheet reads from a workbook)"
                    )));
                }
                cells.push(Cell {
                    row: c.pos.0,
                    col: c.pos.1,
                    value,
                    formula,
                });
            }
            sheets.push(Sheet { name, cells });
        }
        Ok(Workbook {
            sheets,
            names,
            has_macros,
            saved_digits: None,
        })
    }
}

/// Refuses a part whose prologue declares a DOCTYPE, saying whether it declares entities.
fn doctype(name: &str, prologue: &[u8], plain_allowed: bool) -> Result<(), BookError> {
    let Some(at) = find(prologue, b"<!DOCTYPE") else {
        return Ok(());
    };
    let entities = find(&prologue[at..], b"<!ENTITY").is_some();
    if plain_allowed && !entities {
        return Ok(());
    }
    Err(BookError::Read(format!(
        "the part {name} declares a DOCTYPE{}: a workbook's XML never has one, and \
         gradsheet refuses it rather than expand its entities (a billion-laughs file)",
        if entities {
            " with ENTITY declarations"
        } else {
            ""
        }
    )))
}

/// Where `needle` first occurs in `hay`, ASCII case ignored.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// `256 MB`, `1.5 KB`, `12 bytes`.
fn bytes_text(n: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    let x = n as f64;
    if x >= MB {
        format!("{} MB", (x / MB * 10.0).round() / 10.0)
    } else if x >= 1024.0 {
        format!("{} KB", (x / 1024.0 * 10.0).round() / 10.0)
    } else {
        format!("{n} bytes")
    }
}

fn value(d: &DataRef<'_>) -> Value {
    match d {
        DataRef::Int(i) => Value::Num(*i as f64),
        DataRef::Float(f) => Value::Num(*f),
        DataRef::String(s) => Value::Text(s.clone()),
        DataRef::SharedString(s) => Value::Text(s.to_string()),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(d) => Value::Num(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Value::Text(s.clone()),
        DataRef::Error(e) => Value::Error(e.to_string()),
        DataRef::Empty => Value::Empty,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A zip of `parts` (name, bytes), deflated.
    fn zip_of(parts: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in parts {
            w.start_file(*name, o).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn the_sum_of_the_parts_is_bounded() {
        // Four parts of 300 KB that pack badly (no ratio to object to): 1.2 MB in all.
        let noise = |seed: u64| {
            let mut x = seed;
            (0..300_000)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect::<Vec<u8>>()
        };
        let parts: Vec<(&str, Vec<u8>)> = ["a.bin", "b.bin", "c.bin", "d.bin"]
            .iter()
            .zip(1..)
            .map(|(n, s)| (*n, noise(s)))
            .collect();
        let z = zip_of(&parts);
        assert_eq!(check_container_within(&z, 2 * 1024 * 1024), Ok(()));
        let e = check_container_within(&z, 1024 * 1024).unwrap_err();
        assert!(matches!(e, BookError::TooLarge(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.starts_with("the workbook unpacks to more than 1 MB (at the part d.bin, of 293 KB)"),
            "{e}"
        );
    }

    /// An .ods's parts nothing reads may carry LibreOffice's plain DTD reference; its
    /// content, or any part declaring entities, may not.
    #[test]
    fn an_ods_is_checked_as_hostile_too() {
        let mime = b"application/vnd.oasis.opendocument.spreadsheet".to_vec();
        let plain = b"<?xml?><!DOCTYPE library:libraries PUBLIC 'x' 'libraries.dtd'><a/>".to_vec();
        let bomb = b"<?xml?><!DOCTYPE a [<!ENTITY b 'c'>]><a/>".to_vec();
        let ok = zip_of(&[
            ("mimetype", mime.clone()),
            ("Basic/script-lc.xml", plain.clone()),
        ]);
        assert_eq!(check_container(&ok), Ok(()));
        let e = check_container(&zip_of(&[
            ("mimetype", mime.clone()),
            ("content.xml", plain.clone()),
        ]))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the part content.xml declares a DOCTYPE"),
            "{e}"
        );
        let e = check_container(&zip_of(&[
            ("mimetype", mime),
            ("Basic/script-lc.xml", bomb),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("with ENTITY declarations"), "{e}");
        // The same plain part in an .xlsx is refused.
        assert!(check_container(&zip_of(&[("xl/x.xml", plain)])).is_err());
    }

    #[test]
    fn doctype_is_found_in_any_case_and_entities_named() {
        assert!(doctype("x.xml", b"<?xml?><worksheet/>", false).is_ok());
        let e = doctype("x.xml", b"<?xml?><!doctype a [<!entity b 'c'>]><a/>", true).unwrap_err();
        assert!(
            e.to_string()
                .contains("x.xml declares a DOCTYPE with ENTITY"),
            "{e}"
        );
        let e = doctype("y.rels", b"<!DOCTYPE a SYSTEM 'http://x/'><a/>", false).unwrap_err();
        // An .ods's Basic library carries a plain DTD reference, let be where nothing reads it.
        assert!(doctype(
            "Basic/script-lc.xml",
            b"<!DOCTYPE library:libraries PUBLIC '-//OpenOffice.org//DTD' 'libraries.dtd'><a/>",
            true
        )
        .is_ok());
        assert!(
            e.to_string()
                .starts_with("the part y.rels declares a DOCTYPE: "),
            "{e}"
        );
        assert_eq!(bytes_text(12), "12 bytes");
        assert_eq!(bytes_text(1536), "1.5 KB");
        assert_eq!(bytes_text(MAX_UNPACKED), "256 MB");
    }
}
