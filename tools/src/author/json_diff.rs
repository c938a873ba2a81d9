//! The differences between an expected and an actual JSON value, one line per differing place
//! (`at $.workout.title: expected "Leg Day", got "Leg"`), for `plugins test`'s reports. Written
//! here rather than taken from a crate because the line format is what the author reads: the diff
//! crates print `lhs`/`rhs` blocks, which say nothing about which side was expected.

use serde_json::Value;

/// The most differences listed for one value (the rest are counted).
const MAX_LISTED: usize = 20;

/// Every place where `actual` differs from `expected`; empty when they are equal.
pub fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk("$", expected, actual, &mut found);
    if found.len() > MAX_LISTED {
        let more = found.len() - MAX_LISTED;
        found.truncate(MAX_LISTED);
        found.push(format!("… and {more} more differences"));
    }
    found
}

fn walk(path: &str, expected: &Value, actual: &Value, found: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                match a.get(key) {
                    Some(other) => walk(&format!("{path}.{key}"), value, other, found),
                    None => found.push(format!("at {path}.{key}: expected {value}, missing")),
                }
            }
            for (key, value) in a.iter().filter(|(key, _)| !e.contains_key(*key)) {
                found.push(format!("at {path}.{key}: not expected, got {value}"));
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (index, (value, other)) in e.iter().zip(a).enumerate() {
                walk(&format!("{path}[{index}]"), value, other, found);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            found.push(format!("at {path}: expected {} items, got {}: {actual}", e.len(), a.len()))
        }
        _ if expected == actual => {}
        _ => found.push(format!("at {path}: expected {expected}, got {actual}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_difference_names_its_path() {
        let expected = json!({"a": 1, "b": [1, {"c": "x"}], "d": true});
        let actual = json!({"a": 2, "b": [1, {"c": "y"}], "e": null});
        assert_eq!(
            differences(&expected, &actual),
            [
                "at $.a: expected 1, got 2",
                "at $.b[1].c: expected \"x\", got \"y\"",
                "at $.d: expected true, missing",
                "at $.e: not expected, got null",
            ]
        );
        assert!(differences(&expected, &expected).is_empty());
        assert_eq!(differences(&json!([1]), &json!([1, 2])), ["at $: expected 1 items, got 2: [1,2]"]);
    }
}
