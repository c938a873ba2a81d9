//! Python's formatting of JSON values, as the original (Python) service produced its texts: the
//! host builds the embedded text of a workout with it (so content hashes stay those the original
//! stored), and the tool plugins their results (so result strings read byte for byte as before).
//!
//! A value here is what `json.loads` would have produced: `null` is `None`, numbers are `int` or
//! `float`, arrays are lists and objects dicts.
//!
//! - [`str_of`] is `str(value)`, [`repr`] is `repr(value)`, [`float_repr`] is `repr(float)`;
//! - [`truthy`] is `bool(value)`;
//! - [`dumps`] is `json.dumps(value)` with its defaults ([`to_json`] for any `Serialize`) (`", "` and `": "` separators, non-ASCII
//!   escaped); objects keep their order when `serde_json` preserves it (`preserve_order`);
//! - [`title`] is `str.title()`.

use std::io;

use serde_json::Value;
use serde_json::ser::Formatter;

/// `bool(value)`: `None`, `False`, `0`, `0.0`, `""`, `[]` and `{}` are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `str(value)`: strings as they are, everything else as `repr`.
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// `repr(value)`: what `str()` of a list or a dict shows for its items.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => float_repr(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => str_repr(s),
        Value::Array(items) => format!("[{}]", items.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", str_repr(k), repr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `repr(float)`: the shortest digits that round-trip, always with a fraction or an exponent
/// (`30.0`, `0.1`, `1e+16`, `1e-05`).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".to_string() } else { "-inf".to_string() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let formatted = format!("{f:e}");
        let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = f.to_string();
    if text.contains('.') { text } else { format!("{text}.0") }
}

/// `repr(str)`: single quotes unless the text has one and no double quote.
fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str.title()`: every run of letters starts upper case, the rest lower case.
pub fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphabetic() {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// `json.dumps(value)` with Python's defaults.
pub fn dumps(value: &Value) -> String {
    // Writing a `Value` into memory cannot fail.
    to_json(value).unwrap_or_default()
}

/// [`dumps`] of anything serde can serialise (the host's SSE event payloads): fails only where
/// `serde_json::to_string` would (for example a map whose keys are not strings).
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, PythonFormatter))?;
    // The formatter escapes everything outside printable ASCII.
    Ok(String::from_utf8(out).expect("ASCII output"))
}

/// `json.dumps` output: `", "` and `": "` separators, `ensure_ascii` escapes, `repr` floats.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(float_repr(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() && c != '\u{7f}' {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn str_and_repr_read_as_python_prints_them() {
        assert_eq!(str_of(&json!("it's")), "it's");
        assert_eq!(str_of(&json!(null)), "None");
        assert_eq!(str_of(&json!(true)), "True");
        assert_eq!(str_of(&json!(45)), "45");
        assert_eq!(str_of(&json!(30.0)), "30.0");
        assert_eq!(str_of(&json!([1, 2.5, "a", null])), "[1, 2.5, 'a', None]");
        assert_eq!(str_of(&json!({"a": "it's"})), "{'a': \"it's\"}");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(-2.0), "-2.0");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn truthiness_follows_python() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!(""), json!([]), json!({})] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for true_ in [json!(true), json!(-1), json!(0.5), json!(" "), json!([0]), json!({"a": null})] {
            assert!(truthy(&true_), "{true_}");
        }
    }

    #[test]
    fn dumps_matches_python_json_dumps() {
        // json.dumps({"type": "search_results", "n": 1.0, "t": "Café ☕ \u{1F4AA}", "l": [1, None], "e": {}})
        let value = json!({"type": "search_results", "n": 1.0, "t": "Café ☕ 💪", "l": [1, null], "e": {}});
        let text = dumps(&value);
        assert!(text.contains(r#""type": "search_results""#), "{text}");
        assert!(text.contains(r#""n": 1.0"#));
        assert!(text.contains(r#""t": "Caf\u00e9 \u2615 \ud83d\udcaa""#));
        assert!(text.contains(r#""l": [1, null]"#));
        assert!(text.contains(r#""e": {}"#));
        assert_eq!(dumps(&json!("tab\there \"q\" \\ \u{7f}")), r#""tab\there \"q\" \\ \u007f""#);
        assert_eq!(dumps(&json!([])), "[]");
    }

    #[test]
    fn title_capitalises_each_word() {
        assert_eq!(title("weight loss"), "Weight Loss");
        assert_eq!(title("sport specific"), "Sport Specific");
        assert_eq!(title("HIIT"), "Hiit");
        assert_eq!(title("x2 o'neil"), "X2 O'Neil");
    }
}
