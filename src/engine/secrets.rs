//! Secret values never leave the process in clear: the composition root registers the values
//! the configuration marks secret ([`register`]), and everything that writes text out — the log
//! layers (terminal and run store, through [`crate::engine::logsink::capture`]), the executor's
//! recorded errors and outputs, the CLI's error messages — passes it through [`mask`], which
//! replaces each occurrence with `***`.

use std::borrow::Cow;
use std::sync::RwLock;

use serde_json::Value;

/// Values shorter than this are not masked: replacing every `1` or `on` would garble text and
/// hide nothing.
pub const MIN_SECRET_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds secret values for this process (empty and very short ones are ignored).
pub fn register<I: IntoIterator<Item = String>>(values: I) {
    if let Ok(mut s) = SECRETS.write() {
        for v in values {
            let v = v.trim().to_string();
            if v.chars().count() >= MIN_SECRET_LEN && !s.contains(&v) {
                s.push(v);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// `text` with every registered secret replaced by `***`.
pub fn mask(text: &str) -> Cow<'_, str> {
    let Ok(secrets) = SECRETS.read() else {
        return Cow::Borrowed(text);
    };
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in secrets.iter() {
        out = out.replace(s.as_str(), "***");
    }
    Cow::Owned(out)
}

/// `text` masked, reusing it when it holds no secret.
pub fn mask_owned(text: String) -> String {
    match mask(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(masked) => masked,
    }
}

/// `v` with every string (keys too) masked; `v` itself when no secret is registered.
pub fn mask_json(v: Value) -> Value {
    if SECRETS.read().map_or(true, |s| s.is_empty()) {
        return v;
    }
    mask_tree(v)
}

fn mask_tree(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(mask_owned(s)),
        Value::Array(a) => Value::Array(a.into_iter().map(mask_tree).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (mask_owned(k), mask_tree(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_in_text_and_json() {
        register(["DU1234567".to_string(), "ab".to_string(), String::new()]);
        assert_eq!(
            mask("IB sent no NetLiquidation for account DU1234567"),
            "IB sent no NetLiquidation for account ***"
        );
        assert_eq!(
            mask("ab stays: too short to be a secret"),
            "ab stays: too short to be a secret"
        );
        let v = mask_json(serde_json::json!({ "detail": ["x DU1234567 y"], "DU1234567": 1 }));
        assert_eq!(v, serde_json::json!({ "detail": ["x *** y"], "***": 1 }));
    }
}
