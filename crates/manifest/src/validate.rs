//! Validation of a manifest's TOML tree (with spans), then typed deserialization and
//! normalization. Everything here is filesystem-free.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::{backticked, closest, Diagnostic, Sink};
use crate::schema::{normalize_route, AppManifest, ComponentSpec};

pub(crate) type Span = Range<usize>;

/// Where a component's lockable parts are in the manifest.
#[derive(Clone, Debug, Default)]
pub(crate) struct ComponentLocs {
    /// `[component.x]` header (or the inline table).
    pub header: Span,
    /// The `source` value.
    pub source: Span,
    /// Per `files` entry: (entry span, span of the host path: the string or `source` value).
    pub files: Vec<(Span, Span)>,
    /// Per `exclude_files` entry.
    pub exclude: Vec<Span>,
    /// Dependency name -> value span.
    pub deps: Vec<(String, Span)>,
}

/// Result of [`parse`]: a typed, normalized manifest plus locations for the locking step.
pub(crate) struct Parsed {
    pub manifest: AppManifest,
    pub warnings: Vec<Diagnostic>,
    /// Component id -> locations (including inline components, under their generated id).
    pub locs: HashMap<String, ComponentLocs>,
    /// Trigger id -> header span.
    pub trigger_spans: HashMap<String, Span>,
    /// Each trigger type (`http`, `redis`, ...) and where it first appears.
    pub trigger_types: Vec<(String, Span)>,
}

const TOP_KEYS: &[&str] = &[
    "spin_manifest_version",
    "application",
    "variables",
    "trigger",
    "component",
];
const APP_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "authors",
    "targets",
    "trigger",
    "tool",
];
const VARIABLE_KEYS: &[&str] = &["description", "required", "default", "secret"];
const COMPONENT_KEYS: &[&str] = &[
    "source",
    "description",
    "variables",
    "environment",
    "files",
    "exclude_files",
    "allowed_outbound_hosts",
    "allowed_http_hosts",
    "key_value_stores",
    "sqlite_databases",
    "ai_models",
    "targets",
    "build",
    "tool",
    "dependencies_inherit_configuration",
    "dependencies",
    "profile",
];
const BUILD_KEYS: &[&str] = &["command", "workdir", "watch"];
const PROFILE_KEYS: &[&str] = &["source", "environment", "dependencies", "build"];
const HTTP_TRIGGER_KEYS: &[&str] = &[
    "id",
    "component",
    "components",
    "dependencies",
    "route",
    "static_response",
    "executor",
];
const STATIC_RESPONSE_KEYS: &[&str] = &["status_code", "headers", "body"];
const DEPENDENCY_KEYS: &[&str] = &[
    "version",
    "registry",
    "package",
    "export",
    "path",
    "url",
    "digest",
    "component",
    "inherit_configuration",
    "environment",
];
const RESERVED_ROUTE_PREFIX: &str = "/.well-known/spin/";

struct Ref {
    id: String,
    span: Span,
    ctx: String,
}

struct Template {
    text: String,
    span: Span,
    ctx: String,
}

struct Walker<'a> {
    sink: Sink<'a>,
    components: Vec<(String, Span)>,
    comp_locs: HashMap<String, ComponentLocs>,
    /// (trigger type, index within type, spec ordinal) -> locs of an inline component.
    inline_locs: HashMap<(String, usize, usize), ComponentLocs>,
    variables: Vec<String>,
    refs: Vec<Ref>,
    templates: Vec<Template>,
    routes: Vec<(String, Span)>,
    trigger_ids: Vec<(String, Span)>,
    /// (trigger type, index) -> header span.
    trigger_headers: HashMap<(String, usize), Span>,
    /// Trigger types with the span of their key.
    trigger_types: Vec<(String, Span)>,
}

type Entry<'t, 'i> = (&'t str, Span, &'t Spanned<DeValue<'i>>);

fn entries<'t, 'i>(t: &'t DeTable<'i>) -> impl Iterator<Item = Entry<'t, 'i>> {
    t.iter().map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
}

fn get<'t, 'i>(t: &'t DeTable<'i>, key: &str) -> Option<Entry<'t, 'i>> {
    entries(t).find(|(k, _, _)| *k == key)
}

fn int_value(v: &DeValue) -> Option<i64> {
    let i = v.as_integer()?;
    let s = i.as_str().replace('_', "");
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0o"))
        .or_else(|| s.strip_prefix("0b"))
        .unwrap_or(&s);
    i64::from_str_radix(s, i.radix()).ok()
}

fn a_or_an(ty: &str) -> String {
    match ty {
        "integer" | "array" => format!("an {ty}"),
        _ => format!("a {ty}"),
    }
}

/// Checks an id against Spin's `spin_serde::id` rules: words separated by `delim`, each
/// starting with an ASCII letter (or a digit, except the first word), containing only ASCII
/// alphanumerics (or ':'), all lowercase or all UPPERCASE (only lowercase if `lower`).
pub(crate) fn check_id(id: &str, delim: char, lower: bool) -> Result<(), String> {
    if id.is_empty() {
        return Err("it is empty".into());
    }
    let wrong = if delim == '-' { '_' } else { '-' };
    if id.contains(wrong) {
        return Err(format!(
            "words must be separated with '{delim}', not '{wrong}'"
        ));
    }
    for (i, word) in id.split(delim).enumerate() {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            return Err(format!("'{delim}'-separated words must not be empty"));
        };
        if !(first.is_ascii_alphabetic() || (i > 0 && first.is_ascii_digit())) {
            return Err(format!(
                "'{delim}'-separated words must start with an ASCII letter{}; got '{first}'",
                if i > 0 { " or digit" } else { "" }
            ));
        }
        let upper = first.is_ascii_uppercase();
        for ch in chars {
            if ch.is_ascii_digit() || ch == ':' {
            } else if !ch.is_ascii_alphanumeric() {
                return Err(format!(
                    "'{delim}'-separated words may only contain alphanumeric ASCII; got '{ch}'"
                ));
            } else if ch.is_ascii_uppercase() != upper {
                return Err(format!(
                    "'{delim}'-separated words must be all lowercase or all UPPERCASE; got \"{word}\""
                ));
            }
        }
        if lower && upper {
            return Err(format!("it must be all lowercase; got \"{id}\""));
        }
    }
    Ok(())
}

/// Suggests a kebab-case/snake_case spelling of an invalid id.
fn suggest_id(id: &str, delim: char) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in id.chars() {
        if ch.is_ascii_uppercase() && prev_lower {
            out.push(delim);
        }
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with(delim) {
            out.push(delim);
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
    }
    let t = out.trim_matches(delim);
    let t = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == delim);
    if t.is_empty() {
        format!("my{delim}id")
    } else {
        t.to_string()
    }
}

impl<'a> Walker<'a> {
    fn unknown_keys(&mut self, t: &DeTable, allowed: &[&str], ctx: &str) {
        for (k, span, _) in entries(t) {
            if allowed.contains(&k) {
                continue;
            }
            let expected = format!("expected one of {}", backticked(allowed.iter().copied()));
            let hint = match closest(k, allowed.iter().copied()) {
                Some(c) => format!("did you mean `{c}`? {expected}"),
                None => expected,
            };
            self.sink
                .error_hint(&span, format!("unknown field `{k}` in {ctx}"), hint);
        }
    }

    fn wrong_type(&mut self, v: &Spanned<DeValue>, what: &str, expected: &str) {
        self.sink.error(
            &v.span(),
            format!(
                "invalid type for {what}: expected {expected}, found {}",
                a_or_an(v.get_ref().type_str())
            ),
        );
    }

    fn missing(&mut self, span: &Span, key: &str, ctx: &str, hint: Option<String>) {
        let msg = format!("missing field `{key}` in {ctx}");
        match hint {
            Some(h) => self.sink.error_hint(span, msg, h),
            None => self.sink.error(span, msg),
        }
    }

    fn str_of<'t>(&mut self, v: &'t Spanned<DeValue>, what: &str) -> Option<&'t str> {
        match v.get_ref().as_str() {
            Some(s) => Some(s),
            None => {
                self.wrong_type(v, what, "a string");
                None
            }
        }
    }

    fn bool_of(&mut self, v: &Spanned<DeValue>, what: &str) -> Option<bool> {
        match v.get_ref().as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(v, what, "a boolean");
                None
            }
        }
    }

    fn table_of<'t, 'i>(
        &mut self,
        v: &'t Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'t DeTable<'i>> {
        match v.get_ref().as_table() {
            Some(t) => Some(t),
            None => {
                self.wrong_type(v, what, "a table");
                None
            }
        }
    }

    fn str_array_of<'t>(&mut self, v: &'t Spanned<DeValue>, what: &str) -> Vec<(&'t str, Span)> {
        let Some(arr) = v.get_ref().as_array() else {
            self.wrong_type(v, what, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in arr.iter() {
            match item.get_ref().as_str() {
                Some(s) => out.push((s, item.span())),
                None => self.wrong_type(item, &format!("an entry of {what}"), "a string"),
            }
        }
        out
    }

    /// A table whose values must all be strings: returns (key, key span, value, value span).
    fn str_table_of<'t>(
        &mut self,
        v: &'t Spanned<DeValue>,
        what: &str,
    ) -> Vec<(&'t str, Span, &'t str, Span)> {
        let Some(t) = self.table_of(v, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, ks, val) in entries(t) {
            match val.get_ref().as_str() {
                Some(s) => out.push((k, ks, s, val.span())),
                None => self.wrong_type(val, &format!("`{k}` in {what}"), "a string"),
            }
        }
        out
    }

    fn walk_root(&mut self, root: &Spanned<DeTable>) {
        let t = root.get_ref();
        let top = 0..0;

        // Version first: a v1 manifest would otherwise drown in unknown-field errors.
        if let Some((_, span, _)) = get(t, "spin_version") {
            self.sink.error_hint(
                &span,
                "Spin manifest version 1 (`spin_version = \"1\"`) is not supported",
                "rewrite the manifest in the version 2 format, starting with `spin_manifest_version = 2` (`spin doctor` can migrate it)",
            );
            return;
        }
        match get(t, "spin_manifest_version") {
            None => self.sink.error_hint(
                &top,
                "missing `spin_manifest_version`",
                "add `spin_manifest_version = 2` at the top of the file (manifest version 1 is not supported)",
            ),
            Some((_, _, v)) => {
                let ok = int_value(v.get_ref()) == Some(2);
                if !ok {
                    let shown = match v.get_ref() {
                        DeValue::String(s) => format!("\"{s}\""),
                        DeValue::Integer(i) => i.as_str().to_string(),
                        other => other.type_str().to_string(),
                    };
                    let v1 = matches!(v.get_ref(), DeValue::String(s) if s.trim() == "1")
                        || int_value(v.get_ref()) == Some(1);
                    self.sink.error_hint(
                        &v.span(),
                        format!("unsupported `spin_manifest_version = {shown}`: only version 2 is supported"),
                        if v1 {
                            "manifest version 1 is not supported: rewrite it in the version 2 format with `spin_manifest_version = 2`"
                        } else {
                            "use `spin_manifest_version = 2` (an integer; manifest version 1 is not supported)"
                        },
                    );
                    if v1 {
                        return;
                    }
                }
            }
        }

        self.unknown_keys(t, TOP_KEYS, "the top level of the manifest");

        match get(t, "application") {
            None => self.sink.error_hint(
                &top,
                "missing [application] table",
                "add:\n\n    [application]\n    name = \"my-app\"",
            ),
            Some((_, _, v)) => {
                if let Some(app) = self.table_of(v, "`application`") {
                    self.walk_application(app, v.span());
                }
            }
        }

        if let Some((_, _, v)) = get(t, "variables") {
            if let Some(vars) = self.table_of(v, "`variables`") {
                for (name, span, val) in entries(vars) {
                    self.walk_variable(name, span, val);
                }
            }
        }

        if let Some((_, _, v)) = get(t, "component") {
            if let Some(comps) = self.table_of(v, "`component`") {
                for (id, span, val) in entries(comps) {
                    if let Err(why) = check_id(id, '-', false) {
                        self.sink.error_hint(
                            &span,
                            format!("invalid component id `{id}`: {why}"),
                            format!(
                                "component ids are kebab-case: ASCII letters and digits in words separated by '-', starting with a letter, e.g. `{}`",
                                suggest_id(id, '-')
                            ),
                        );
                    }
                    self.components.push((id.to_string(), span.clone()));
                    let ctx = format!("[component.{id}]");
                    if let Some(ct) = self.table_of(val, &format!("`component.{id}`")) {
                        let locs = self.walk_component(ct, val.span(), &ctx);
                        self.comp_locs.insert(id.to_string(), locs);
                    }
                }
            }
        }

        match get(t, "trigger") {
            None => self.sink.error_hint(
                &top,
                "the manifest defines no triggers",
                "add a trigger, e.g.:\n\n    [[trigger.http]]\n    route = \"/...\"\n    component = \"my-component\"",
            ),
            Some((_, _, v)) => {
                if let Some(types) = self.table_of(v, "`trigger`") {
                    for (ty, span, val) in entries(types) {
                        self.trigger_types.push((ty.to_string(), span.clone()));
                        match val.get_ref() {
                            DeValue::Array(arr) => {
                                for (i, item) in arr.iter().enumerate() {
                                    match item.get_ref().as_table() {
                                        Some(tt) => self.walk_trigger(ty, i, tt, item.span()),
                                        None => self.wrong_type(
                                            item,
                                            &format!("an entry of `trigger.{ty}`"),
                                            "a table",
                                        ),
                                    }
                                }
                            }
                            DeValue::Table(_) => self.sink.error_hint(
                                &val.span(),
                                format!("`trigger.{ty}` must be an array of tables"),
                                format!("write `[[trigger.{ty}]]` (double brackets) instead of `[trigger.{ty}]`"),
                            ),
                            _ => self.wrong_type(
                                val,
                                &format!("`trigger.{ty}`"),
                                "an array of tables",
                            ),
                        }
                    }
                }
            }
        }

        self.cross_checks();
    }

    fn walk_application(&mut self, t: &DeTable, header: Span) {
        let ctx = "[application]";
        self.unknown_keys(t, APP_KEYS, ctx);
        match get(t, "name") {
            None => self.missing(
                &header,
                "name",
                ctx,
                Some("add `name = \"my-app\"` to [application]".into()),
            ),
            Some((_, _, v)) => {
                if let Some(n) = self.str_of(v, "`name` in [application]") {
                    if n.trim().is_empty() {
                        self.sink
                            .error(&v.span(), "application name must not be empty");
                    }
                }
            }
        }
        for key in ["version", "description"] {
            if let Some((_, _, v)) = get(t, key) {
                self.str_of(v, &format!("`{key}` in [application]"));
            }
        }
        if let Some((_, _, v)) = get(t, "authors") {
            self.str_array_of(v, "`authors` in [application]");
        }
        if let Some((_, _, v)) = get(t, "targets") {
            self.walk_targets(v, "`targets` in [application]");
        }
        for key in ["trigger", "tool"] {
            if let Some((_, _, v)) = get(t, key) {
                if let Some(tt) = self.table_of(v, &format!("`application.{key}`")) {
                    for (k, _, val) in entries(tt) {
                        self.table_of(val, &format!("`application.{key}.{k}`"));
                    }
                }
            }
        }
    }

    fn walk_targets(&mut self, v: &Spanned<DeValue>, what: &str) {
        let Some(arr) = v.get_ref().as_array() else {
            self.wrong_type(v, what, "an array");
            return;
        };
        for item in arr.iter() {
            match item.get_ref() {
                DeValue::String(_) => {}
                DeValue::Table(t) => {
                    let has = |k: &str| get(t, k).is_some();
                    let allowed: &[&str] = if has("path") {
                        &["path"]
                    } else {
                        &["registry", "id"]
                    };
                    self.unknown_keys(t, allowed, &format!("an entry of {what}"));
                    for k in allowed {
                        match get(t, k) {
                            Some((_, _, val)) => {
                                self.str_of(val, &format!("`{k}` in an entry of {what}"));
                            }
                            None => {
                                self.missing(&item.span(), k, &format!("an entry of {what}"), None)
                            }
                        }
                    }
                }
                _ => self.wrong_type(item, &format!("an entry of {what}"), "a string or a table"),
            }
        }
    }

    fn walk_variable(&mut self, name: &str, span: Span, v: &Spanned<DeValue>) {
        if let Err(why) = check_id(name, '_', true) {
            self.sink.error_hint(
                &span,
                format!("invalid variable name `{name}`: {why}"),
                format!(
                    "variable names are lower snake_case, e.g. `{}`",
                    suggest_id(name, '_')
                ),
            );
        }
        self.variables.push(name.to_string());
        let ctx = format!("variable `{name}`");
        let Some(t) = self.table_of(v, &format!("variable `{name}`")) else {
            return;
        };
        self.unknown_keys(t, VARIABLE_KEYS, &ctx);
        let mut required = None;
        let mut default = None;
        for (k, ks, val) in entries(t) {
            match k {
                "description" => {
                    self.str_of(val, &format!("`description` of {ctx}"));
                }
                "default" => {
                    default = self.str_of(val, &format!("`default` of {ctx}")).map(|_| ks);
                }
                "required" => {
                    if let Some(b) = self.bool_of(val, &format!("`required` of {ctx}")) {
                        required = Some((b, ks));
                    }
                }
                "secret" => {
                    self.bool_of(val, &format!("`secret` of {ctx}"));
                }
                _ => {}
            }
        }
        match (required, default) {
            (Some((true, _)), Some(dspan)) => self.sink.error_hint(
                &dspan,
                format!("variable `{name}` has both `required = true` and a `default`"),
                "a required variable has no default: remove `default` or `required = true`",
            ),
            (Some((false, _)) | None, None) => self.sink.error_hint(
                &span,
                format!("variable `{name}` must either be `required = true` or have a `default`"),
                format!(
                    "e.g. `{name} = {{ default = \"...\" }}` or `{name} = {{ required = true }}`"
                ),
            ),
            _ => {}
        }
    }

    fn walk_component(&mut self, t: &DeTable, header: Span, ctx: &str) -> ComponentLocs {
        let mut locs = ComponentLocs {
            header: header.clone(),
            source: header.clone(),
            ..Default::default()
        };
        self.unknown_keys(t, COMPONENT_KEYS, ctx);
        match get(t, "source") {
            None => self.missing(
                &header,
                "source",
                ctx,
                Some("add the component's Wasm file, e.g. `source = \"target/wasm32-wasip2/release/app.wasm\"`".into()),
            ),
            Some((_, _, v)) => {
                locs.source = v.span();
                self.walk_source(v, &format!("`source` in {ctx}"));
            }
        }
        for (k, ks, v) in entries(t) {
            let what = format!("`{k}` in {ctx}");
            match k {
                "description" => {
                    self.str_of(v, &what);
                }
                "variables" => {
                    for (name, nspan, val, vspan) in self.str_table_of(v, &what) {
                        if let Err(why) = check_id(name, '_', true) {
                            self.sink.error_hint(
                                &nspan,
                                format!(
                                    "invalid variable name `{name}` in `variables` of {ctx}: {why}"
                                ),
                                format!(
                                    "variable names are lower snake_case, e.g. `{}`",
                                    suggest_id(name, '_')
                                ),
                            );
                        }
                        self.templates.push(Template {
                            text: val.to_string(),
                            span: vspan,
                            ctx: format!("variable `{name}` of {ctx}"),
                        });
                    }
                }
                "environment" => {
                    self.str_table_of(v, &what);
                }
                "files" => {
                    let Some(arr) = v.get_ref().as_array() else {
                        self.wrong_type(v, &what, "an array");
                        continue;
                    };
                    for item in arr.iter() {
                        if let Some(loc) = self.walk_files_entry(item, ctx) {
                            locs.files.push(loc);
                        }
                    }
                }
                "exclude_files" => {
                    for (pat, span) in self.str_array_of(v, &what) {
                        if let Err(e) = glob::Pattern::new(pat) {
                            self.sink.error(
                                &span,
                                format!(
                                    "invalid glob `{pat}` in `exclude_files` of {ctx}: {}",
                                    e.msg
                                ),
                            );
                        }
                        locs.exclude.push(span);
                    }
                }
                "allowed_http_hosts" => {
                    let hosts = self.str_array_of(v, &what);
                    if !hosts.is_empty() {
                        let owned: Vec<String> = hosts.iter().map(|(h, _)| h.to_string()).collect();
                        let converted = crate::schema::convert_allowed_http_hosts(&owned);
                        self.sink.warn_hint(
                            &ks,
                            format!("`allowed_http_hosts` in {ctx} is deprecated"),
                            format!(
                                "replace it with `allowed_outbound_hosts = [{}]`",
                                converted
                                    .iter()
                                    .map(|h| format!("\"{h}\""))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                }
                "allowed_outbound_hosts" => {
                    for (host, span) in self.str_array_of(v, &what) {
                        self.check_outbound_host(host, span, ctx);
                    }
                }
                "key_value_stores" | "sqlite_databases" => {
                    for (label, span) in self.str_array_of(v, &what) {
                        if check_id(label, '-', false).is_err()
                            && check_id(label, '_', false).is_err()
                        {
                            self.sink.error_hint(
                                &span,
                                format!("invalid label `{label}` in `{k}` of {ctx}: expected kebab-case or snake_case"),
                                format!("e.g. `{}`", suggest_id(label, '_')),
                            );
                        }
                    }
                }
                "ai_models" => {
                    self.str_array_of(v, &what);
                }
                "targets" => self.walk_targets(v, &what),
                "build" => {
                    if let Some(bt) = self.table_of(v, &what) {
                        let bctx = format!("{}.build]", ctx.trim_end_matches(']'));
                        self.walk_build(bt, v.span(), &bctx, BUILD_KEYS);
                    }
                }
                "tool" => {
                    if let Some(tt) = self.table_of(v, &what) {
                        for (name, _, val) in entries(tt) {
                            self.table_of(val, &format!("`tool.{name}` in {ctx}"));
                        }
                    }
                }
                "dependencies_inherit_configuration" => {
                    self.bool_of(v, &what);
                }
                "dependencies" => {
                    if let Some(dt) = self.table_of(v, &what) {
                        for (name, _, val) in entries(dt) {
                            let dctx = format!("dependency `{name}` of {ctx}");
                            match val.get_ref() {
                                DeValue::String(_) => {}
                                DeValue::Table(tt) => {
                                    self.walk_dependency(tt, val.span(), &dctx, true)
                                }
                                _ => self.wrong_type(val, &dctx, "a version string or a table"),
                            }
                            locs.deps.push((name.to_string(), val.span()));
                        }
                    }
                }
                "profile" => {
                    if let Some(pt) = self.table_of(v, &what) {
                        for (name, _, val) in entries(pt) {
                            let pctx = format!("profile `{name}` of {ctx}");
                            let Some(p) = self.table_of(val, &pctx) else {
                                continue;
                            };
                            self.unknown_keys(p, PROFILE_KEYS, &pctx);
                            for (pk, _, pv) in entries(p) {
                                let pwhat = format!("`{pk}` in {pctx}");
                                match pk {
                                    "source" => self.walk_source(pv, &pwhat),
                                    "environment" => {
                                        self.str_table_of(pv, &pwhat);
                                    }
                                    "dependencies" => {
                                        if let Some(dt) = self.table_of(pv, &pwhat) {
                                            for (name, _, val) in entries(dt) {
                                                let dctx = format!("dependency `{name}` of {pctx}");
                                                if let Some(tt) = val.get_ref().as_table() {
                                                    self.walk_dependency(
                                                        tt,
                                                        val.span(),
                                                        &dctx,
                                                        true,
                                                    );
                                                } else if !val.get_ref().is_str() {
                                                    self.wrong_type(
                                                        val,
                                                        &dctx,
                                                        "a version string or a table",
                                                    );
                                                }
                                            }
                                        }
                                    }
                                    "build" => {
                                        if let Some(bt) = self.table_of(pv, &pwhat) {
                                            self.walk_build(
                                                bt,
                                                pv.span(),
                                                &format!("`build` of {pctx}"),
                                                &["command"],
                                            );
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        locs
    }

    fn check_outbound_host(&mut self, host: &str, span: Span, ctx: &str) {
        if host.contains("{{") {
            self.templates.push(Template {
                text: host.to_string(),
                span,
                ctx: format!("`allowed_outbound_hosts` of {ctx}"),
            });
            return;
        }
        // The runtime's own parser decides, so the manifest stage and the start agree.
        let parsed = if host.trim() == "insecure:allow-all" {
            crate::allowed_hosts::AllowedHosts::parse(&[host], &|_| None).map(drop)
        } else {
            crate::allowed_hosts::AllowedHost::parse(host).map(drop)
        };
        if let Err(e) = parsed {
            let text = e.to_string();
            let (reason, help) = text.split_once("\nhelp: ").unwrap_or((&text, ""));
            let prefix = format!("invalid allowed_outbound_hosts entry \"{host}\": ");
            let reason = reason.strip_prefix(&prefix).unwrap_or(reason);
            self.sink.error_hint(
                &span,
                format!("invalid `allowed_outbound_hosts` entry `{host}` in {ctx}: {reason}"),
                help,
            );
        }
    }

    fn walk_source(&mut self, v: &Spanned<DeValue>, what: &str) {
        match v.get_ref() {
            DeValue::String(s) => {
                if s.trim().is_empty() {
                    self.sink
                        .error(&v.span(), format!("{what} must not be empty"));
                }
            }
            DeValue::Table(t) => {
                if get(t, "url").is_some() || get(t, "digest").is_some() {
                    self.unknown_keys(t, &["url", "digest"], what);
                    for k in ["url", "digest"] {
                        match get(t, k) {
                            None => self.missing(
                                &v.span(),
                                k,
                                what,
                                Some("a remote source needs both: `source = { url = \"https://...\", digest = \"sha256:...\" }`".into()),
                            ),
                            Some((_, _, val)) => {
                                if let Some(s) = self.str_of(val, &format!("`{k}` in {what}")) {
                                    if k == "digest" && !s.starts_with("sha256:") {
                                        self.sink.error_hint(
                                            &val.span(),
                                            format!("invalid digest `{s}` in {what}"),
                                            "the digest must start with `sha256:` followed by the hex SHA-256 of the file",
                                        );
                                    }
                                }
                            }
                        }
                    }
                } else if get(t, "package").is_some()
                    || get(t, "version").is_some()
                    || get(t, "registry").is_some()
                {
                    self.unknown_keys(t, &["registry", "package", "version"], what);
                    for k in ["package", "version"] {
                        if get(t, k).is_none() {
                            self.missing(&v.span(), k, what, None);
                        }
                    }
                    for (k, _, val) in entries(t) {
                        self.str_of(val, &format!("`{k}` in {what}"));
                    }
                } else {
                    self.sink.error_hint(
                        &v.span(),
                        format!("invalid {what}"),
                        "expected a path (`source = \"app.wasm\"`), a URL (`source = { url = \"...\", digest = \"sha256:...\" }`) or a registry package (`source = { package = \"ns:name\", version = \"1.0.0\" }`)",
                    );
                }
            }
            _ => self.wrong_type(v, what, "a string or a table"),
        }
    }

    fn walk_files_entry(&mut self, item: &Spanned<DeValue>, ctx: &str) -> Option<(Span, Span)> {
        let what = format!("`files` of {ctx}");
        match item.get_ref() {
            DeValue::String(s) => {
                let s = s.trim_end_matches('/');
                if s == "." || s.ends_with("/.") || s == ".." || s.ends_with("/..") {
                    self.sink.error_hint(
                        &item.span(),
                        format!("file pattern `{s}` in {what} can't end in `.` or `..`"),
                        "to include a directory use `{ source = \"dir\", destination = \"/\" }` or a glob ending in `**/*`",
                    );
                    return None;
                }
                Some((item.span(), item.span()))
            }
            DeValue::Table(t) => {
                self.unknown_keys(
                    t,
                    &["source", "destination"],
                    &format!("an entry of {what}"),
                );
                let mut src_span = None;
                for k in ["source", "destination"] {
                    match get(t, k) {
                        None => self.missing(
                            &item.span(),
                            k,
                            &format!("an entry of {what}"),
                            Some(
                                "write `{ source = \"host/dir\", destination = \"/guest/dir\" }`"
                                    .into(),
                            ),
                        ),
                        Some((_, _, val)) => {
                            if let Some(s) =
                                self.str_of(val, &format!("`{k}` in an entry of {what}"))
                            {
                                if k == "destination" && !s.starts_with('/') {
                                    self.sink.error_hint(
                                        &val.span(),
                                        format!("files destination `{s}` in {ctx} must be an absolute path"),
                                        format!("use `destination = \"/{s}\"`"),
                                    );
                                }
                                if k == "source" {
                                    src_span = Some(val.span());
                                }
                            }
                        }
                    }
                }
                src_span.map(|s| (item.span(), s))
            }
            _ => {
                self.wrong_type(
                    item,
                    &format!("an entry of {what}"),
                    "a string or a `{ source, destination }` table",
                );
                None
            }
        }
    }

    fn walk_build(&mut self, t: &DeTable, header: Span, ctx: &str, allowed: &[&str]) {
        self.unknown_keys(t, allowed, ctx);
        match get(t, "command") {
            None => self.missing(
                &header,
                "command",
                ctx,
                Some("e.g. `command = \"cargo build --target wasm32-wasip2 --release\"`".into()),
            ),
            Some((_, _, v)) => match v.get_ref() {
                DeValue::String(_) => {}
                DeValue::Array(_) => {
                    self.str_array_of(v, &format!("`command` in {ctx}"));
                }
                _ => self.wrong_type(
                    v,
                    &format!("`command` in {ctx}"),
                    "a string or an array of strings",
                ),
            },
        }
        if let Some((_, _, v)) = get(t, "workdir") {
            self.str_of(v, &format!("`workdir` in {ctx}"));
        }
        if let Some((_, _, v)) = get(t, "watch") {
            self.str_array_of(v, &format!("`watch` in {ctx}"));
        }
    }

    fn walk_dependency(&mut self, t: &DeTable, span: Span, ctx: &str, allow_export: bool) {
        let allowed: Vec<&str> = DEPENDENCY_KEYS
            .iter()
            .copied()
            .filter(|k| allow_export || *k != "export")
            .collect();
        self.unknown_keys(t, &allowed, ctx);
        let kinds: Vec<&str> = ["version", "path", "url", "component"]
            .into_iter()
            .filter(|k| get(t, k).is_some())
            .collect();
        if kinds.len() != 1 {
            self.sink.error_hint(
                &span,
                format!("{ctx} must have exactly one of `version`, `path`, `url` or `component`"),
                "e.g. `{ path = \"dep.wasm\" }`, `{ url = \"https://...\", digest = \"sha256:...\" }`, `{ component = \"other\" }` or `{ version = \"^1.0\" }`",
            );
        }
        if kinds == ["url"] && get(t, "digest").is_none() {
            self.missing(
                &span,
                "digest",
                ctx,
                Some("a URL dependency needs `digest = \"sha256:...\"`".into()),
            );
        }
        for (k, _, v) in entries(t) {
            let what = format!("`{k}` in {ctx}");
            match k {
                "inherit_configuration" => match v.get_ref() {
                    DeValue::Boolean(_) => {}
                    DeValue::Array(_) => {
                        self.str_array_of(v, &what);
                    }
                    _ => self.wrong_type(v, &what, "a boolean or an array of strings"),
                },
                "environment" => {
                    self.str_table_of(v, &what);
                }
                "component" => {
                    if let Some(id) = self.str_of(v, &what) {
                        self.refs.push(Ref {
                            id: id.to_string(),
                            span: v.span(),
                            ctx: ctx.to_string(),
                        });
                    }
                }
                _ => {
                    self.str_of(v, &what);
                }
            }
        }
    }

    /// Validates a component spec (reference or inline) of a trigger.
    fn walk_component_spec(
        &mut self,
        v: &Spanned<DeValue>,
        ty: &str,
        idx: usize,
        ordinal: usize,
        what: &str,
    ) {
        let ctx = format!("[[trigger.{ty}]]");
        match v.get_ref() {
            DeValue::String(id) => {
                if let Err(why) = check_id(id, '-', false) {
                    self.sink.error_hint(
                        &v.span(),
                        format!("invalid component id `{id}` in {ctx}: {why}"),
                        "component ids are kebab-case, e.g. `my-component`",
                    );
                } else {
                    self.refs.push(Ref {
                        id: id.to_string(),
                        span: v.span(),
                        ctx: ctx.clone(),
                    });
                }
            }
            DeValue::Table(t) => {
                let locs =
                    self.walk_component(t, v.span(), &format!("the inline component of {ctx}"));
                self.inline_locs
                    .insert((ty.to_string(), idx, ordinal), locs);
            }
            _ => self.wrong_type(v, what, "a component id or an inline component table"),
        }
    }

    fn walk_trigger(&mut self, ty: &str, idx: usize, t: &DeTable, header: Span) {
        let ctx = format!("[[trigger.{ty}]]");
        self.trigger_headers
            .insert((ty.to_string(), idx), header.clone());
        let is_http = ty == "http";
        if is_http {
            self.unknown_keys(t, HTTP_TRIGGER_KEYS, &ctx);
        }
        let mut ordinal = 0;
        if let Some((_, _, v)) = get(t, "id") {
            if let Some(id) = self.str_of(v, &format!("`id` in {ctx}")) {
                if id.is_empty() {
                    self.sink
                        .error(&v.span(), format!("`id` in {ctx} must not be empty"));
                } else {
                    self.trigger_ids.push((id.to_string(), v.span()));
                }
            }
        }
        if let Some((_, _, v)) = get(t, "component") {
            self.walk_component_spec(v, ty, idx, ordinal, &format!("`component` in {ctx}"));
            ordinal += 1;
        }
        if let Some((_, _, v)) = get(t, "components") {
            if let Some(ct) = self.table_of(v, &format!("`components` in {ctx}")) {
                for (k, _, val) in entries(ct) {
                    let what = format!("`components.{k}` in {ctx}");
                    match val.get_ref() {
                        DeValue::Array(arr) => {
                            for item in arr.iter() {
                                self.walk_component_spec(item, ty, idx, ordinal, &what);
                                ordinal += 1;
                            }
                        }
                        _ => {
                            self.walk_component_spec(val, ty, idx, ordinal, &what);
                            ordinal += 1;
                        }
                    }
                }
            }
        }
        if let Some((_, _, v)) = get(t, "dependencies") {
            if let Some(dt) = self.table_of(v, &format!("`dependencies` in {ctx}")) {
                for (k, _, val) in entries(dt) {
                    let what = format!("`dependencies.{k}` in {ctx}");
                    let Some(arr) = val.get_ref().as_array() else {
                        self.wrong_type(val, &what, "an array of tables");
                        continue;
                    };
                    for item in arr.iter() {
                        match item.get_ref().as_table() {
                            Some(tt) => self.walk_dependency(
                                tt,
                                item.span(),
                                &format!("an entry of {what}"),
                                false,
                            ),
                            None => {
                                self.wrong_type(item, &format!("an entry of {what}"), "a table")
                            }
                        }
                    }
                }
            }
        }
        if is_http {
            self.walk_http_trigger(t, header, &ctx);
        }
    }

    fn walk_http_trigger(&mut self, t: &DeTable, header: Span, ctx: &str) {
        match get(t, "route") {
            None => self.missing(
                &header,
                "route",
                ctx,
                Some("e.g. `route = \"/...\"` (all paths) or `route = { private = true }`".into()),
            ),
            Some((_, _, v)) => match v.get_ref() {
                DeValue::String(r) => {
                    let norm = normalize_route(r);
                    if norm.starts_with(RESERVED_ROUTE_PREFIX)
                        || norm == RESERVED_ROUTE_PREFIX.trim_end_matches('/')
                    {
                        self.sink.warn_hint(
                            &v.span(),
                            format!("route `{norm}` is under the reserved prefix `{RESERVED_ROUTE_PREFIX}`"),
                            "the runtime answers `/.well-known/spin/health` and `/.well-known/spin/info` itself; this component may never see these requests",
                        );
                    }
                    self.routes.push((norm, v.span()));
                }
                DeValue::Table(rt) => {
                    self.unknown_keys(rt, &["private"], &format!("`route` in {ctx}"));
                    match get(rt, "private") {
                        None => self.missing(
                            &v.span(),
                            "private",
                            &format!("`route` in {ctx}"),
                            Some("use `route = { private = true }`".into()),
                        ),
                        Some((_, _, pv)) => {
                            if self.bool_of(pv, &format!("`route.private` in {ctx}")) == Some(false)
                            {
                                self.sink.error_hint(
                                    &pv.span(),
                                    format!("`route = {{ private = false }}` in {ctx} is not valid"),
                                    "use `route = { private = true }` for a private endpoint, or a path like `route = \"/api/...\"`",
                                );
                            }
                        }
                    }
                }
                _ => self.wrong_type(
                    v,
                    &format!("`route` in {ctx}"),
                    "a string or `{ private = true }`",
                ),
            },
        }
        let component = get(t, "component");
        let static_response = get(t, "static_response");
        match (&component, &static_response) {
            (Some((_, cspan, _)), Some((_, sspan, _))) => {
                let (later, earlier) = if sspan.start > cspan.start { (sspan, cspan) } else { (cspan, sspan) };
                let _ = earlier;
                self.sink.error_hint(
                    later,
                    format!("{ctx} has both `component` and `static_response`"),
                    "an http trigger serves either a component or a static response: remove one of them",
                );
            }
            (None, None) => self.sink.error_hint(
                &header,
                format!("{ctx} needs a `component` or a `static_response`"),
                "add `component = \"<component id>\"`, or `static_response = { status_code = 200, body = \"...\" }`",
            ),
            _ => {}
        }
        if let Some((_, _, v)) = static_response {
            let sctx = format!("`static_response` in {ctx}");
            if let Some(st) = self.table_of(v, &sctx) {
                self.unknown_keys(st, STATIC_RESPONSE_KEYS, &sctx);
                if let Some((_, _, sc)) = get(st, "status_code") {
                    match int_value(sc.get_ref()) {
                        Some(n) if (100..=999).contains(&n) => {}
                        Some(n) => self.sink.error(
                            &sc.span(),
                            format!("invalid `status_code` {n} in {sctx}: expected 100-999"),
                        ),
                        None => {
                            self.wrong_type(sc, &format!("`status_code` in {sctx}"), "an integer")
                        }
                    }
                }
                if let Some((_, _, h)) = get(st, "headers") {
                    self.str_table_of(h, &format!("`headers` in {sctx}"));
                }
                if let Some((_, _, b)) = get(st, "body") {
                    self.str_of(b, &format!("`body` in {sctx}"));
                }
            }
        }
        if let Some((_, _, v)) = get(t, "executor") {
            let ectx = format!("`executor` in {ctx}");
            if let Some(et) = self.table_of(v, &ectx) {
                match get(et, "type") {
                    None => self.missing(&v.span(), "type", &ectx, Some("e.g. `executor = { type = \"http\" }` or `executor = { type = \"wagi\" }`".into())),
                    Some((_, _, tv)) => {
                        if let Some(ty) = self.str_of(tv, &format!("`type` in {ectx}")) {
                            match ty {
                                "http" | "spin" => self.unknown_keys(et, &["type"], &ectx),
                                "wagi" => {
                                    self.unknown_keys(et, &["type", "argv", "entrypoint"], &ectx);
                                    for (k, ks, kv) in entries(et) {
                                        if k == "argv" || k == "entrypoint" {
                                            self.str_of(kv, &format!("`{k}` in {ectx}"));
                                        }
                                        if k == "entrypoint" {
                                            self.sink.warn(&ks, format!("`entrypoint` in {ectx} is deprecated"));
                                        }
                                    }
                                }
                                other => {
                                    let hint = match closest(other, ["http", "spin", "wagi"]) {
                                        Some(c) => format!("did you mean `{c}`? expected `http`, `spin` or `wagi`"),
                                        None => "expected `http`, `spin` or `wagi`".into(),
                                    };
                                    self.sink.error_hint(&tv.span(), format!("unknown executor type `{other}` in {ctx}"), hint);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn cross_checks(&mut self) {
        let defined: Vec<&str> = self.components.iter().map(|(id, _)| id.as_str()).collect();
        let mut used: HashSet<String> = HashSet::new();
        let refs = std::mem::take(&mut self.refs);
        for r in &refs {
            used.insert(r.id.clone());
            if defined.contains(&r.id.as_str()) {
                continue;
            }
            let hint = if defined.is_empty() {
                format!(
                    "no components are defined: add a [component.{}] table",
                    r.id
                )
            } else {
                let list = format!(
                    "defined components: {}",
                    backticked(defined.iter().copied())
                );
                match closest(&r.id, defined.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`? {list}"),
                    None => list,
                }
            };
            self.sink.error_hint(
                &r.span,
                format!("unknown component `{}` in {}", r.id, r.ctx),
                hint,
            );
        }

        let declared: Vec<&str> = self.variables.iter().map(String::as_str).collect();
        let templates = std::mem::take(&mut self.templates);
        for t in &templates {
            match crate::template::names(&t.text) {
                Err(why) => self
                    .sink
                    .error(&t.span, format!("invalid template in {}: {why}", t.ctx)),
                Ok(vars) => {
                    for v in vars {
                        if declared.contains(&v) {
                            continue;
                        }
                        let decl = format!(
                            "declare it in [variables], e.g. `{v} = {{ default = \"...\" }}`"
                        );
                        let hint = match closest(v, declared.iter().copied()) {
                            Some(c) => format!("did you mean `{c}`? or {decl}"),
                            None => decl,
                        };
                        self.sink.error_hint(
                            &t.span,
                            format!("undeclared application variable `{v}` used in {}", t.ctx),
                            hint,
                        );
                    }
                }
            }
        }

        for (id, span) in self.components.clone() {
            if !used.contains(&id) {
                self.sink.warn_hint(
                    &span,
                    format!("component `{id}` is not used by any trigger"),
                    format!("reference it from a trigger (`component = \"{id}\"`) or remove [component.{id}]"),
                );
            }
        }

        let mut seen: HashMap<&str, &Span> = HashMap::new();
        let routes = std::mem::take(&mut self.routes);
        for (route, span) in &routes {
            if let Some(first) = seen.insert(route.as_str(), span) {
                let l1 = self.sink.line_of(first);
                let l2 = self.sink.line_of(span);
                self.sink.warn_hint(
                    span,
                    format!("duplicate route `{route}` (lines {l1} and {l2}): the trigger at line {l2} wins"),
                    format!("the trigger at line {l1} will never receive requests; give one of them a different route"),
                );
            }
        }

        let mut ids: HashMap<String, Span> = HashMap::new();
        for (id, span) in std::mem::take(&mut self.trigger_ids) {
            if let Some(first) = ids.get(&id) {
                let l1 = self.sink.line_of(first);
                self.sink.error_hint(
                    &span,
                    format!("duplicate trigger id `{id}` (first used at line {l1})"),
                    "trigger ids must be unique across the application",
                );
            } else {
                ids.insert(id, span);
            }
        }
    }
}

/// Assigns trigger ids and moves inline components into `components`, like Spin's
/// `normalize_manifest` (routes keep their spelling, as in Spin's locked app). Returns, for each inline component,
/// `((trigger type, index within type, spec ordinal), generated id)`.
pub fn normalize(manifest: &mut AppManifest) -> Vec<((String, usize, usize), String)> {
    // Trigger ids: `<component>-<type>-trigger`, else `<type>-trigger<n>`.
    let mut taken: HashSet<String> = manifest
        .all_triggers()
        .map(|(_, t)| t.id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    for (ty, triggers) in manifest.triggers.iter_mut() {
        let mut counter = 1;
        for trigger in triggers.iter_mut() {
            if !trigger.id.is_empty() {
                continue;
            }
            if let Some(ComponentSpec::Reference(c)) = &trigger.component {
                let candidate = format!("{c}-{ty}-trigger");
                if taken.insert(candidate.clone()) {
                    trigger.id = candidate;
                    continue;
                }
            }
            trigger.id = loop {
                let id = format!("{ty}-trigger{counter}");
                if taken.insert(id.clone()) {
                    break id;
                }
                counter += 1;
            };
        }
    }

    // Inline components: `<trigger id>-component`, else `inline-component<n>`.
    let mut generated = Vec::new();
    let components = &mut manifest.components;
    for (ty, triggers) in manifest.triggers.iter_mut() {
        for (idx, trigger) in triggers.iter_mut().enumerate() {
            let trigger_id = trigger.id.clone();
            let mut specs: Vec<&mut ComponentSpec> = trigger.component.iter_mut().collect();
            for (_, s) in trigger.components.iter_mut() {
                specs.extend(s.as_mut_slice().iter_mut());
            }
            let multiple = specs.len() > 1;
            let mut counter = 1;
            for (ordinal, spec) in specs.into_iter().enumerate() {
                if !matches!(spec, ComponentSpec::Inline(_)) {
                    continue;
                }
                let natural = format!("{trigger_id}-component");
                let id = if !multiple
                    && check_id(&natural, '-', false).is_ok()
                    && !components.contains_key(&natural)
                {
                    natural
                } else {
                    loop {
                        let id = format!("inline-component{counter}");
                        if !components.contains_key(&id) {
                            break id;
                        }
                        counter += 1;
                    }
                };
                let ComponentSpec::Inline(c) =
                    std::mem::replace(spec, ComponentSpec::Reference(id.clone()))
                else {
                    unreachable!("checked above");
                };
                components.insert(id.clone(), *c);
                generated.push(((ty.clone(), idx, ordinal), id));
            }
        }
    }
    generated
}

/// Parses, validates, deserializes and normalizes a manifest.
pub(crate) fn parse(text: &str, file: &Path) -> Result<Parsed, Vec<Diagnostic>> {
    let mut walker = Walker {
        sink: Sink::new(file, text),
        components: Vec::new(),
        comp_locs: HashMap::new(),
        inline_locs: HashMap::new(),
        variables: Vec::new(),
        refs: Vec::new(),
        templates: Vec::new(),
        routes: Vec::new(),
        trigger_ids: Vec::new(),
        trigger_headers: HashMap::new(),
        trigger_types: Vec::new(),
    };
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            walker
                .sink
                .error(&span, format!("TOML syntax error: {}", e.message().trim()));
        }
        return Err(walker.sink.split().0);
    }
    walker.walk_root(&root);
    if walker.sink.has_errors() {
        return Err(walker.sink.split().0);
    }

    let mut manifest: AppManifest = match toml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            // The tree walk should have caught everything; report serde's view as a fallback.
            let span = e.span().unwrap_or(0..0);
            walker
                .sink
                .error(&span, format!("invalid manifest: {}", e.message().trim()));
            return Err(walker.sink.split().0);
        }
    };
    let generated = normalize(&mut manifest);

    let mut locs = std::mem::take(&mut walker.comp_locs);
    for (key, id) in generated {
        if let Some(l) = walker.inline_locs.remove(&key) {
            locs.insert(id, l);
        }
    }
    let mut trigger_spans = HashMap::new();
    for (ty, triggers) in manifest.triggers.iter() {
        for (i, t) in triggers.iter().enumerate() {
            if let Some(s) = walker.trigger_headers.get(&(ty.clone(), i)) {
                trigger_spans.insert(t.id.clone(), s.clone());
            }
        }
    }
    let trigger_types = std::mem::take(&mut walker.trigger_types);
    let (_, warnings) = walker.sink.split();
    Ok(Parsed {
        manifest,
        warnings,
        locs,
        trigger_spans,
        trigger_types,
    })
}

/// Trigger types that Spin or its trigger plugins run.
const SPIN_TRIGGER_TYPES: &[&str] = &["http", "redis", "cron", "mqtt", "sqs", "command", "kinesis"];

/// Errors for the trigger types of `parsed` that the host cannot run (`runnable`), with a
/// "did you mean" for a misspelt one, at the line of each.
pub(crate) fn check_trigger_types(
    parsed: &Parsed,
    path: &std::path::Path,
    text: &str,
    runnable: &[&str],
) -> Vec<Diagnostic> {
    let mut sink = Sink::new(path, text);
    let supported = backticked(runnable.iter().copied());
    for (ty, span) in &parsed.trigger_types {
        if runnable.contains(&ty.as_str()) {
            continue;
        }
        if SPIN_TRIGGER_TYPES.contains(&ty.as_str()) {
            sink.error_hint(
                span,
                format!("Spindle cannot run `[[trigger.{ty}]]` triggers"),
                format!(
                    "Spindle runs {supported} triggers; remove the `{ty}` triggers (their \
                     components stay in the app) or serve this app with Spin"
                ),
            );
        } else {
            let hint = match closest(ty, SPIN_TRIGGER_TYPES.iter().copied()) {
                Some(c) => format!("did you mean `{c}`? Spindle runs {supported} triggers"),
                None => format!("Spindle runs {supported} triggers"),
            };
            sink.error_hint(span, format!("unknown trigger type `{ty}`"), hint);
        }
    }
    sink.split().0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_id_rules() {
        assert!(check_id("hello", '-', false).is_ok());
        assert!(check_id("hello-world2", '-', false).is_ok());
        assert!(check_id("api-v2-1", '-', false).is_ok());
        assert!(check_id("HELLO-world", '-', false).is_ok()); // Spin allows all-caps words
        assert!(check_id("1-2-3", '-', false)
            .unwrap_err()
            .contains("must start with an ASCII letter; got '1'"));
        assert!(check_id("hello_world", '-', false)
            .unwrap_err()
            .contains("separated with '-', not '_'"));
        assert!(check_id("-hello", '-', false)
            .unwrap_err()
            .contains("must not be empty"));
        assert!(check_id("hello-", '-', false)
            .unwrap_err()
            .contains("must not be empty"));
        assert!(check_id("a--b", '-', false)
            .unwrap_err()
            .contains("must not be empty"));
        assert!(check_id("helloWorld", '-', false)
            .unwrap_err()
            .contains("all lowercase or all UPPERCASE"));
        assert!(check_id("a.b", '-', false).unwrap_err().contains("got '.'"));
        assert!(check_id("", '-', false).is_err());
        // lower snake
        assert!(check_id("api_token", '_', true).is_ok());
        assert!(check_id("API_TOKEN", '_', true)
            .unwrap_err()
            .contains("lowercase"));
        assert!(check_id("api-token", '_', true).is_err());
    }

    #[test]
    fn id_suggestions() {
        assert_eq!(suggest_id("Hello_World", '-'), "hello-world");
        assert_eq!(suggest_id("myComponent", '-'), "my-component");
        assert_eq!(suggest_id("apiToken", '_'), "api_token");
    }
}
