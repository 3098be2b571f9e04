//! header-rules-rs: MaiRust's header-rules plugin as a child process on the `stdin`
//! transport. It reads one call per line on its standard input,
//! `{"id": ..., "config": {...}, "request": <HookRequest>}`, and writes one answer per line on
//! its standard output, `{"id": ..., "response": <HookResponse>}` or
//! `{"id": ..., "error": "..."}`. Its own log goes to standard error (the platform logs it).
//! It ends when its standard input closes.

mod rules;

use std::io::{self, BufRead, BufWriter, Write};

use serde::Deserialize;
use serde_json::{json, Value};

use rules::{Config, Rules};

/// The part of a hook request this plugin reads (serde skips the rest).
#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    headers: Option<Vec<(String, String)>>,
}

#[derive(Deserialize)]
struct Call {
    #[serde(default)]
    config: Value,
    request: Request,
}

/// The rules of the last configuration seen: a configuration changes rarely, so its
/// patterns are compiled once, not per call.
#[derive(Default)]
struct Compiled {
    config: Option<Value>,
    rules: Option<Result<Rules, String>>,
}

impl Compiled {
    fn rules_for(&mut self, config: &Value) -> &Result<Rules, String> {
        if self.config.as_ref() != Some(config) || self.rules.is_none() {
            let parsed = if config.is_null() {
                Ok(Config::default())
            } else {
                Config::deserialize(config).map_err(|error| format!("config: {error}"))
            };
            self.rules = Some(parsed.and_then(|config| Rules::compile(&config)));
            self.config = Some(config.clone());
        }
        self.rules.as_ref().expect("compiled just now")
    }
}

/// The answer line to one call line; None when the line has no id to answer to.
fn answer(line: &str, compiled: &mut Compiled) -> Option<String> {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(error) => {
            eprintln!("header-rules-rs: a line that is not JSON: {error}");
            return None;
        }
    };
    let Some(id) = value.get("id").cloned() else {
        eprintln!("header-rules-rs: a call without an id");
        return None;
    };
    let reply = match Call::deserialize(&value) {
        Err(error) => json!({"id": id, "error": format!("not a call: {error}")}),
        Ok(call) => match compiled.rules_for(&call.config) {
            Err(error) => json!({"id": id, "error": error}),
            Ok(rules) => {
                let headers = call.request.headers.unwrap_or_default();
                json!({"id": id, "response": rules.judge(&headers)})
            }
        },
    };
    Some(reply.to_string())
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut compiled = Compiled::default();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(reply) = answer(&line, &mut compiled) {
            out.write_all(reply.as_bytes())?;
            out.write_all(b"\n")?;
            // Each answer goes out at once: the platform waits on it.
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: Option<String>) -> Value {
        serde_json::from_str(&line.expect("an answer")).expect("JSON")
    }

    const CONFIG: &str = r#"{"rules": [{"header": "Subject", "pattern": "pills",
        "action": "reject", "reply": "550 5.7.1 No pills here"}]}"#;

    fn call(id: &str, subject: &str) -> String {
        format!(
            r#"{{"id": {id}, "config": {CONFIG}, "request": {{"version": 1, "point": "pre_receive",
            "scopes": ["headers"], "headers": [["Subject", "{subject}"]]}}}}"#
        )
        .replace('\n', " ")
    }

    #[test]
    fn a_call_is_answered_under_its_id() {
        let mut compiled = Compiled::default();
        let answer = parsed(answer(&call("7", "cheap pills"), &mut compiled));
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["response"]["verdict"], "reject");
        assert_eq!(answer["response"]["reply"], "550 5.7.1 No pills here");
        let answer = parsed(answer_again(&call("\"x\"", "hello"), &mut compiled));
        assert_eq!(answer["id"], "x");
        assert_eq!(answer["response"], json!({"verdict": "continue"}));
    }

    fn answer_again(line: &str, compiled: &mut Compiled) -> Option<String> {
        // The same configuration a second time: the compiled rules are reused.
        assert!(compiled.config.is_some());
        answer(line, compiled)
    }

    #[test]
    fn a_bad_configuration_is_an_error_answer() {
        let line = r#"{"id": 1, "config": {"rules": [{"header": "Subject", "pattern": "(",
            "action": "tag"}]}, "request": {"point": "pre_receive", "scopes": []}}"#
            .replace('\n', " ");
        let answer = parsed(answer(&line, &mut Compiled::default()));
        assert_eq!(answer["id"], 1);
        assert!(answer["error"]
            .as_str()
            .unwrap()
            .starts_with("rules[0].pattern"));
    }

    #[test]
    fn a_call_without_a_request_is_an_error_answer() {
        let answer = parsed(answer(r#"{"id": 2}"#, &mut Compiled::default()));
        assert!(
            answer["error"].as_str().unwrap().contains("request"),
            "{answer}"
        );
    }

    #[test]
    fn lines_without_an_id_get_no_answer() {
        let mut compiled = Compiled::default();
        assert_eq!(answer("not json", &mut compiled), None);
        assert_eq!(answer(r#"{"request": {}}"#, &mut compiled), None);
    }

    #[test]
    fn no_configuration_means_no_rules() {
        let line = r#"{"id": 3, "request": {"headers": [["Subject", "pills"]]}}"#;
        let answer = parsed(answer(line, &mut Compiled::default()));
        assert_eq!(answer["response"]["verdict"], "continue");
    }
}
