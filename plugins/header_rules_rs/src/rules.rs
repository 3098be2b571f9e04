//! The header-rules engine: the configured rules, compiled once per configuration, and the
//! verdict they give a message's header fields. Rules are searched in order; the first
//! rejecting match decides, every tagging match before it adds its tag.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// How large one compiled pattern may grow: a pathological pattern is refused at
/// configuration, never a memory spike at call time (the regex crate is linear in time).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;
const DEFAULT_TAG: &str = "header-rule";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Tag,
    Reject,
}

/// One rule as configured (the manifest's `config_schema` describes the same keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub header: String,
    pub pattern: String,
    pub action: Action,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub reply: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

struct Rule {
    header: String, // lower case: field names compare without case
    pattern: Regex,
    action: Action,
    tag: String,
    reply: Option<String>,
}

/// A hook response (the platform's `HookResponse`, version 1): only the keys this plugin
/// sets; the platform fills in the rest with its defaults.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

pub struct Rules(Vec<Rule>);

impl Rules {
    /// The rules of `config`, or what is wrong with the first one that cannot be used.
    pub fn compile(config: &Config) -> Result<Rules, String> {
        let mut rules = Vec::with_capacity(config.rules.len());
        for (index, rule) in config.rules.iter().enumerate() {
            let pattern = RegexBuilder::new(&rule.pattern)
                .case_insensitive(true)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|error| format!("rules[{index}].pattern: {error}"))?;
            if let Some(reply) = &rule.reply {
                if !is_permanent_reply(reply) {
                    return Err(format!("rules[{index}].reply: not a 5xx reply: {reply:?}"));
                }
            }
            rules.push(Rule {
                header: rule.header.to_ascii_lowercase(),
                pattern,
                action: rule.action,
                tag: rule.tag.clone().unwrap_or_else(|| DEFAULT_TAG.to_string()),
                reply: rule.reply.clone(),
            });
        }
        Ok(Rules(rules))
    }

    /// The verdict for a message with these header fields (name, value).
    pub fn judge(&self, headers: &[(String, String)]) -> Verdict {
        let mut tags = Vec::new();
        for rule in &self.0 {
            let matched = headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(&rule.header))
                .any(|(_, value)| rule.pattern.is_match(value));
            if !matched {
                continue;
            }
            match rule.action {
                Action::Reject => {
                    return Verdict {
                        verdict: "reject",
                        reason: format!("{} matches {:?}", rule.header, rule.pattern.as_str()),
                        reply: rule.reply.clone(),
                        tags: Vec::new(),
                    }
                }
                Action::Tag => tags.push(rule.tag.clone()),
            }
        }
        let reason = if tags.is_empty() {
            ""
        } else {
            "header rules matched"
        };
        Verdict {
            verdict: "continue",
            reason: reason.to_string(),
            reply: None,
            tags,
        }
    }
}

/// "5xx " and some text: the platform refuses any other reply for a reject.
fn is_permanent_reply(reply: &str) -> bool {
    let bytes = reply.as_bytes();
    bytes.len() > 4
        && bytes[0] == b'5'
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_digit()
        && bytes[3] == b' '
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(config: serde_json::Value) -> Rules {
        let config: Config = serde_json::from_value(config).expect("a valid configuration");
        Rules::compile(&config).expect("rules that compile")
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn sample() -> Rules {
        rules(json!({"rules": [
            {"header": "X-Mailer", "pattern": "^BulkBlaster", "action": "tag", "tag": "bulk"},
            {"header": "Subject", "pattern": r"\bpills\b", "action": "reject",
             "reply": "550 5.7.1 No pills here"},
            {"header": "Subject", "pattern": "offer", "action": "tag"},
        ]}))
    }

    #[test]
    fn no_match_continues_without_tags() {
        let verdict = sample().judge(&headers(&[("Subject", "quarterly numbers")]));
        assert_eq!(
            verdict,
            Verdict {
                verdict: "continue",
                reason: String::new(),
                reply: None,
                tags: vec![]
            }
        );
    }

    #[test]
    fn a_reject_rule_answers_its_reply() {
        let verdict = sample().judge(&headers(&[("subject", "Cheap PILLS today")]));
        assert_eq!(verdict.verdict, "reject");
        assert_eq!(verdict.reply.as_deref(), Some("550 5.7.1 No pills here"));
        assert!(verdict.reason.contains("subject"), "{}", verdict.reason);
    }

    #[test]
    fn tagging_rules_add_their_tags_and_the_default_one() {
        let verdict = sample().judge(&headers(&[
            ("X-MAILER", "BulkBlaster 3"),
            ("Subject", "a special offer"),
        ]));
        assert_eq!(verdict.verdict, "continue");
        assert_eq!(
            verdict.tags,
            vec!["bulk".to_string(), DEFAULT_TAG.to_string()]
        );
    }

    #[test]
    fn any_value_of_a_repeated_field_matches() {
        let found = rules(json!({"rules": [
            {"header": "Received", "pattern": "evil\\.example", "action": "reject"}]}))
        .judge(&headers(&[
            ("Received", "from good.example"),
            ("Received", "from evil.example"),
        ]));
        assert_eq!(found.verdict, "reject");
        assert_eq!(found.reply, None);
    }

    #[test]
    fn no_rules_and_no_headers_continue() {
        assert_eq!(rules(json!({})).judge(&[]).verdict, "continue");
    }

    #[test]
    fn a_bad_pattern_is_refused_naming_the_rule() {
        let config: Config = serde_json::from_value(json!({"rules": [
            {"header": "Subject", "pattern": "ok", "action": "tag"},
            {"header": "Subject", "pattern": "(unclosed", "action": "tag"}]}))
        .unwrap();
        let error = Rules::compile(&config).err().expect("refused");
        assert!(error.starts_with("rules[1].pattern"), "{error}");
    }

    #[test]
    fn a_reply_outside_5xx_is_refused() {
        let config: Config = serde_json::from_value(json!({"rules": [
            {"header": "Subject", "pattern": "x", "action": "reject", "reply": "250 fine"}]}))
        .unwrap();
        assert!(Rules::compile(&config).is_err());
    }

    #[test]
    fn unknown_actions_and_keys_are_refused() {
        let action = serde_json::from_value::<Config>(json!({"rules": [
            {"header": "Subject", "pattern": "x", "action": "delete"}]}));
        assert!(action.is_err());
        let key = serde_json::from_value::<Config>(json!({"rules": [], "extra": 1}));
        assert!(key.is_err());
    }
}
