//! Options as JSON (fit and sample requests, the C ABI's option strings): one parser whose
//! errors name the option at fault in the engine's words, and unknown keys refused.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `text` as the options `T` (a struct that refuses unknown fields). `what` names the
/// JSON's origin in messages ("the fit request", "options_json").
pub fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = strip_position(&inner.to_string());
        if path.is_empty() || path == "." {
            Error::invalid(format!("{what}: {msg}"))
        } else {
            Error::invalid(format!("{what}: option '{path}': {msg}"))
        }
    })
}

/// serde_json's messages end in " at line L column C", which says nothing to a caller who
/// did not write the JSON by hand (the CLI, R).
fn strip_position(m: &str) -> String {
    match m.rfind(" at line ") {
        Some(i) if m[i..].contains(" column ") => m[..i].to_string(),
        _ => m.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        steps: Option<usize>,
        name: Option<String>,
    }

    #[test]
    fn errors_name_the_option() {
        let e = from_json::<T>(r#"{"steps": 1.5}"#, "the request").unwrap_err();
        assert!(
            e.message.starts_with("the request: option 'steps': "),
            "{}",
            e.message
        );
        assert!(!e.message.contains("line 1"), "{}", e.message);
        let e = from_json::<T>(r#"{"stepz": 1}"#, "the request").unwrap_err();
        assert!(e.message.contains("unknown field `stepz`"), "{}", e.message);
        assert!(
            e.message.contains("`steps`"),
            "lists the options: {}",
            e.message
        );
        let e = from_json::<T>("[1]", "x").unwrap_err();
        assert!(e.message.starts_with("x: "), "{}", e.message);
        assert!(from_json::<T>(r#"{"steps": 3}"#, "x").unwrap().steps == Some(3));
    }
}
