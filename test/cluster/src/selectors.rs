//! Label and field selectors, parsed from list and watch query strings.

use serde_json::{Map, Value};

use crate::object;
use crate::resources::ResourceKind;
use crate::validate::names;

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Exists,
    DoesNotExist,
    In(Vec<String>),
    NotIn(Vec<String>),
    GreaterThan(i64),
    LessThan(i64),
}

/// A parsed `fieldSelector`: every term must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<FieldTerm>);

#[derive(Debug, Clone, PartialEq)]
struct FieldTerm {
    field: String,
    equal: bool,
    value: String,
}

/// Both selectors of a list or watch request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(&object::labels(object)) && self.fields.matches(object)
    }
}

impl LabelSelector {
    /// Parses the selector syntax kubectl and client libraries send.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text)? {
            requirements.push(parse_requirement(&term)?);
        }
        Ok(Self(requirements))
    }

    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.0
            .iter()
            .all(|r| r.matches(labels.get(&r.key).and_then(Value::as_str)))
    }
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Exists, found) => found.is_some(),
            (Op::DoesNotExist, found) => found.is_none(),
            (Op::In(values), Some(v)) => values.iter().any(|x| x == v),
            (Op::In(_), None) => false,
            (Op::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
            (Op::NotIn(_), None) => true,
            (Op::GreaterThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *n),
            (Op::LessThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *n),
            (Op::GreaterThan(_) | Op::LessThan(_), None) => false,
        }
    }
}

/// Splits on commas that are not inside a parenthesised value set.
fn split_terms(text: &str) -> Result<Vec<String>, String> {
    let mut terms = Vec::new();
    let mut depth = 0_i32;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(format!(
                "unable to parse requirement: unbalanced parentheses in {text:?}"
            ));
        }
        current.push(c);
    }
    terms.push(current);
    let terms: Vec<String> = terms.into_iter().map(|t| t.trim().to_string()).collect();
    if terms.len() == 1 && terms[0].is_empty() {
        return Ok(Vec::new());
    }
    Ok(terms)
}

fn parse_requirement(term: &str) -> Result<Requirement, String> {
    if term.is_empty() {
        return Err("unable to parse requirement: found '', expected: identifier".into());
    }
    if let Some(key) = term.strip_prefix('!') {
        return requirement(key.trim(), Op::DoesNotExist);
    }
    if let Some((key, rest)) = split_word(term, " notin ") {
        return requirement(key, Op::NotIn(value_set(rest)?));
    }
    if let Some((key, rest)) = split_word(term, " in ") {
        return requirement(key, Op::In(value_set(rest)?));
    }
    for (symbol, make) in OPERATORS {
        if let Some((key, value)) = term.split_once(symbol) {
            return requirement(key.trim(), make(value.trim())?);
        }
    }
    requirement(term, Op::Exists)
}

type MakeOp = fn(&str) -> Result<Op, String>;

/// Longest symbols first, so `==` is not read as `=` followed by `=value`.
const OPERATORS: [(&str, MakeOp); 5] = [
    ("!=", |v| Ok(Op::NotIn(vec![label_value(v)?]))),
    ("==", |v| Ok(Op::In(vec![label_value(v)?]))),
    ("=", |v| Ok(Op::In(vec![label_value(v)?]))),
    (">", |v| number(v).map(Op::GreaterThan)),
    ("<", |v| number(v).map(Op::LessThan)),
];

fn split_word<'a>(term: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    term.split_once(word)
        .map(|(k, rest)| (k.trim(), rest.trim()))
}

fn value_set(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: found '{text}', expected: '('"))?;
    inner.split(',').map(|v| label_value(v.trim())).collect()
}

fn label_value(value: &str) -> Result<String, String> {
    match names::label_value_error(value) {
        None => Ok(value.to_string()),
        Some(why) => Err(format!(
            "unable to parse requirement: Invalid value: \"{value}\": {why}"
        )),
    }
}

fn number(value: &str) -> Result<i64, String> {
    value
        .parse()
        .map_err(|_| format!("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {value}"))
}

fn requirement(key: &str, op: Op) -> Result<Requirement, String> {
    if let Some(why) = names::qualified_name_error(key) {
        return Err(format!(
            "unable to parse requirement: Invalid value: \"{key}\": {why}"
        ));
    }
    Ok(Requirement {
        key: key.to_string(),
        op,
    })
}

impl FieldSelector {
    /// Parses `a=b,c!=d`, refusing fields the resource type cannot be selected by.
    pub fn parse(text: &str, kind: &ResourceKind) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ));
            };
            let field = field.trim();
            if !supported_fields(kind).contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push(FieldTerm {
                field: field.into(),
                equal,
                value: value.trim().into(),
            });
        }
        Ok(Self(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0
            .iter()
            .all(|t| (field_value(object, &t.field) == t.value) == t.equal)
    }
}

/// The fields each type's field selectors support on a real API server.
fn supported_fields(kind: &ResourceKind) -> &'static [&'static str] {
    match kind.plural {
        "pods" => &[
            "metadata.name",
            "metadata.namespace",
            "status.phase",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.podIP",
            "status.nominatedNodeName",
            "spec.hostNetwork",
        ],
        "events" => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "secrets" => &["metadata.name", "metadata.namespace", "type"],
        "namespaces" => &["metadata.name", "status.phase"],
        "jobs" => &["metadata.name", "metadata.namespace", "status.successful"],
        _ => &["metadata.name", "metadata.namespace"],
    }
}

fn field_value(object: &Value, field: &str) -> String {
    match field {
        "source" => object::str_at(object, "/source/component").to_string(),
        "status.successful" => object
            .pointer("/status/succeeded")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
        "spec.hostNetwork" => {
            let on = object.pointer("/spec/hostNetwork").and_then(Value::as_bool);
            on.unwrap_or(false).to_string()
        }
        _ => object::str_at(object, &format!("/{}", field.replace('.', "/"))).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::PODS;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(&labels(pairs))
    }

    #[test]
    fn equality_operators_match_exact_values() {
        assert!(matches("job-name=a", &[("job-name", "a")]));
        assert!(matches("job-name==a", &[("job-name", "a")]));
        assert!(!matches("job-name=a", &[("job-name", "b")]));
        assert!(!matches("job-name=a", &[]));
    }

    #[test]
    fn inequality_matches_when_the_label_is_missing() {
        assert!(matches("app!=x", &[]));
        assert!(matches("app!=x", &[("app", "y")]));
        assert!(!matches("app!=x", &[("app", "x")]));
    }

    #[test]
    fn set_operators_and_existence_combine() {
        let selector = "env in (prod, staging),tier notin (web),app,!legacy";
        assert!(matches(selector, &[("env", "prod"), ("app", "a")]));
        assert!(!matches(
            selector,
            &[("env", "prod"), ("app", "a"), ("tier", "web")]
        ));
        assert!(!matches(selector, &[("env", "dev"), ("app", "a")]));
        assert!(!matches(selector, &[("env", "prod")]));
        assert!(!matches(
            selector,
            &[("env", "prod"), ("app", "a"), ("legacy", "")]
        ));
    }

    #[test]
    fn qualified_keys_are_accepted() {
        assert!(matches(
            "app.kubernetes.io/managed-by=byok8sd",
            &[("app.kubernetes.io/managed-by", "byok8sd")]
        ));
    }

    #[test]
    fn numeric_comparisons_need_integers() {
        assert!(matches("n>3", &[("n", "4")]));
        assert!(!matches("n<3", &[("n", "4")]));
        assert!(LabelSelector::parse("n>x").is_err());
    }

    #[test]
    fn invalid_selectors_are_refused() {
        assert!(LabelSelector::parse("bad key=x").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a in (b").is_err());
    }

    #[test]
    fn the_empty_selector_matches_everything() {
        assert!(matches("", &[("a", "b")]));
        assert!(matches("", &[]));
    }

    #[test]
    fn pod_field_selectors_read_phase_and_name() {
        let pod =
            json!({"metadata": {"name": "p1", "namespace": "d"}, "status": {"phase": "Running"}});
        let selector =
            FieldSelector::parse("status.phase=Running,metadata.name!=p2", &PODS).unwrap();
        assert!(selector.matches(&pod));
        let selector = FieldSelector::parse("status.phase!=Running", &PODS).unwrap();
        assert!(!selector.matches(&pod));
    }

    #[test]
    fn unsupported_field_labels_are_refused() {
        let error = FieldSelector::parse("spec.containers=x", &PODS).unwrap_err();
        assert_eq!(error, "field label not supported: spec.containers");
    }
}
