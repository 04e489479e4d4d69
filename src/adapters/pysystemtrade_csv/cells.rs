//! Cell-level helpers shared by the pysystemtrade CSV readers and the reference-data files:
//! UTF-8 checking with a line number, the column of a CSV field, and the accepted spellings of
//! numbers, missing prices, contract ids and timestamps.

use chrono::NaiveDate;

use crate::domain::series::{parse_timestamp, Micros};
use crate::engine::diagnostic::Diagnostic;

/// Strips a UTF-8 byte order mark, which spreadsheet programs like to add.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Checks that `bytes` are UTF-8; otherwise a diagnostic at the line and column of the first
/// bad byte.
pub(crate) fn check_utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = char_count(&bytes[line_start..at]) + 1;
        let mut d = Diagnostic::new(file, format!("not valid UTF-8 (byte 0x{:02X})", bytes[at]))
            .help("save the file as UTF-8 (pysystemtrade writes plain ASCII)");
        d.line = Some(line);
        d.column = Some(column);
        d
    })
}

fn char_count(bytes: &[u8]) -> usize {
    // Counts UTF-8 characters: every byte that is not a continuation byte starts one.
    bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count()
}

/// 1-based line of byte `offset` of `buf`. (The `csv` crate's own line numbers do not count
/// the blank lines it skips, so lines are computed from byte offsets.)
pub(crate) fn line_of(buf: &[u8], offset: usize) -> usize {
    buf[..offset.min(buf.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Byte offset where a record really starts: the `csv` crate reports the start of the blank
/// lines it skipped before it.
pub(crate) fn record_start(buf: &[u8], position: Option<&csv::Position>) -> usize {
    let mut at = position.map_or(0, |p| p.byte() as usize);
    while at < buf.len() && (buf[at] == b'\n' || buf[at] == b'\r') {
        at += 1;
    }
    at
}

/// 1-based character column where field `index` of the record starting at byte `record_start`
/// of `buf` begins (quote-aware, so a quoted description with commas counts as one field).
pub(crate) fn field_column(buf: &[u8], record_start: usize, index: usize) -> usize {
    let rest = buf.get(record_start..).unwrap_or(&[]);
    let mut field = 0;
    let mut in_quotes = false;
    let mut offset = 0;
    for (i, b) in rest.iter().enumerate() {
        if field == index {
            offset = i;
            break;
        }
        match *b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => field += 1,
            b'\n' | b'\r' if !in_quotes => {
                offset = i;
                break;
            }
            _ => {}
        }
        offset = i + 1;
    }
    char_count(&rest[..offset.min(rest.len())]) + 1
}

/// A diagnostic at a line and column of `file`, under a column name.
pub(crate) fn at(
    file: &str,
    line: usize,
    column: Option<usize>,
    key: Option<&str>,
    message: impl Into<String>,
) -> Diagnostic {
    let mut d = Diagnostic::new(file, message);
    d.line = Some(line);
    d.column = column;
    d.key = key.map(str::to_string);
    d
}

/// Why a price cell was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    NotANumber,
    Infinite,
}

/// A price cell: empty, `nan`, `NaN` (any case) mean "no price" (NaN); otherwise a finite
/// decimal number. Surrounding spaces are ignored.
pub(crate) fn parse_price(cell: &str) -> Result<f64, NumberError> {
    let t = cell.trim();
    if t.is_empty() {
        return Ok(f64::NAN);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) if v.is_nan() => Ok(f64::NAN),
        Ok(_) => Err(NumberError::Infinite),
        Err(_) => Err(NumberError::NotANumber),
    }
}

/// A required, finite number (empty and NaN are errors).
pub(crate) fn parse_finite(cell: &str) -> Result<f64, String> {
    let t = cell.trim();
    if t.is_empty() {
        return Err("missing value: give a number".to_string());
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{t}` is not a finite number")),
    }
}

/// A required integer; an integral float such as `-5.0` (as pandas writes) is accepted.
pub(crate) fn parse_int(cell: &str) -> Result<i32, String> {
    let t = cell.trim();
    if t.is_empty() {
        return Err("missing value: give a whole number".to_string());
    }
    if let Ok(v) = t.parse::<i32>() {
        return Ok(v);
    }
    match t.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64 => Ok(v as i32),
        _ => Err(format!("`{t}` is not a whole number")),
    }
}

fn two(b: &[u8]) -> Option<u32> {
    let (a, c) = (b[0].wrapping_sub(b'0'), b[1].wrapping_sub(b'0'));
    (a < 10 && c < 10).then(|| a as u32 * 10 + c as u32)
}

/// Parses a timestamp. The pysystemtrade form `YYYY-MM-DD HH:MM:SS` takes a fast path (the
/// import reads millions of them); anything else goes to [`parse_timestamp`], which gives the
/// same result and the error message.
pub(crate) fn parse_ts(cell: &str) -> Result<Micros, String> {
    let b = cell.as_bytes();
    if b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
    {
        if let (Some(y1), Some(y2), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
            two(&b[0..2]),
            two(&b[2..4]),
            two(&b[5..7]),
            two(&b[8..10]),
            two(&b[11..13]),
            two(&b[14..16]),
            two(&b[17..19]),
        ) {
            if let Some(dt) = NaiveDate::from_ymd_opt((y1 * 100 + y2) as i32, mo, d)
                .and_then(|date| date.and_hms_opt(h, mi, s))
            {
                return Ok(dt.and_utc().timestamp_micros());
            }
        }
    }
    parse_timestamp(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_quote_aware() {
        let buf = b"a,b\nX,\"one, two\",3\n";
        assert_eq!(field_column(buf, 4, 0), 1);
        assert_eq!(field_column(buf, 4, 1), 3);
        assert_eq!(field_column(buf, 4, 2), 14);
    }

    #[test]
    fn utf8_errors_have_positions() {
        let d = check_utf8("f.csv", b"a,b\nc,\xFFd\n").unwrap_err();
        assert_eq!((d.line, d.column), (Some(2), Some(3)));
        assert!(d.message.contains("0xFF"));
    }

    #[test]
    fn price_spellings() {
        assert!(parse_price("").unwrap().is_nan());
        assert!(parse_price("nan").unwrap().is_nan());
        assert!(parse_price("NaN").unwrap().is_nan());
        assert_eq!(parse_price(" 1.5 "), Ok(1.5));
        assert_eq!(parse_price("1e-3"), Ok(0.001));
        assert_eq!(parse_price("inf"), Err(NumberError::Infinite));
        assert_eq!(parse_price("1,5"), Err(NumberError::NotANumber));
        assert_eq!(parse_int("-5.0"), Ok(-5));
        assert!(parse_int("1.5").is_err());
    }

    #[test]
    fn fast_timestamps_agree_with_the_domain_parser() {
        for s in [
            "2023-08-31 20:00:00",
            "1970-06-30 23:00:00",
            "1969-12-31 23:59:59",
            "2016-01-04 11:00:20",
            "2024-02-29 00:00:00",
            "2016-01-04 11:00:20.5",
            "2016-01-04",
        ] {
            assert_eq!(parse_ts(s), parse_timestamp(s), "{s}");
        }
        for s in [
            "2023-02-30 10:00:00",
            "2023-01-01 24:00:00",
            "2023-01-0a 10:00:00",
            "",
        ] {
            assert!(parse_ts(s).is_err(), "{s}");
        }
    }
}
