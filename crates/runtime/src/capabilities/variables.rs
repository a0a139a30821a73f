//! Variables: the app's `[variables]`, each component's `variables` templates, and the
//! providers that supply values (`--variable`, `SPIN_VARIABLE_<NAME>`, `[[variables_provider]]`
//! in the runtime config, then the declared `default`).
//!
//! Guests read them through `fermyon:spin/variables@2.0.0` and
//! `wasi:config/store@0.2.0-draft-2024-09-27`. A component sees only the keys of its own
//! `variables` table; templates are resolved when the app starts, and a required variable with
//! no value stops the start with its name.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use spindle_manifest::locked::{LockedApp, LockedComponent};

use super::bindings::fermyon::spin::variables as spin_vars;
use super::bindings::wasi::config::store as wasi_config;
use super::runtime_config::ProviderConfig;
use wasmtime::component::{Accessor, HasData, Linker};

use super::{Capability, Grantee, Has, View};

/// Where a variable's value may come from, highest priority first.
#[derive(Debug, Clone)]
pub enum Provider {
    /// Fixed values (`--variable`, or `type = "static"` in the runtime config).
    Static(BTreeMap<String, String>),
    /// Environment variables `<prefix>_<NAME>` (Spin's `SPIN_VARIABLE_`), optionally also read
    /// from a dotenv file.
    Env {
        /// The prefix, without the trailing `_`.
        prefix: String,
        /// Values from the dotenv file, if one was configured.
        dotenv: BTreeMap<String, String>,
    },
}

impl Provider {
    fn get(&self, name: &str) -> Option<String> {
        match self {
            Provider::Static(values) => values.get(name).cloned(),
            Provider::Env { prefix, dotenv } => {
                let key = format!("{prefix}_{}", name.to_ascii_uppercase());
                std::env::var(&key)
                    .ok()
                    .or_else(|| dotenv.get(&key).cloned())
            }
        }
    }
}

/// The providers for one app run.
#[derive(Debug, Clone, Default)]
pub struct Providers(Vec<Provider>);

impl Providers {
    /// `--variable` values first, then the runtime config's providers in order, then the
    /// always-on `SPIN_VARIABLE_` environment provider.
    pub fn new(
        cli: &[(String, String)],
        configured: &[ProviderConfig],
        config_dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut providers = Vec::new();
        if !cli.is_empty() {
            providers.push(Provider::Static(
                cli.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
            ));
        }
        for provider in configured {
            providers.push(match provider {
                ProviderConfig::Static { values } => Provider::Static(values.clone()),
                ProviderConfig::Env {
                    prefix,
                    dotenv_path,
                } => {
                    let dotenv = match dotenv_path {
                        Some(path) => read_dotenv(&config_dir.join(path))?,
                        None => BTreeMap::new(),
                    };
                    Provider::Env {
                        prefix: prefix
                            .clone()
                            .unwrap_or_else(|| "SPIN_VARIABLE".into())
                            .trim_end_matches('_')
                            .to_string(),
                        dotenv,
                    }
                }
            });
        }
        providers.push(Provider::Env {
            prefix: "SPIN_VARIABLE".into(),
            dotenv: BTreeMap::new(),
        });
        Ok(Self(providers))
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find_map(|p| p.get(name))
    }
}

fn read_dotenv(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading dotenv file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect())
}

/// The app's variables with their resolved values.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// Resolves every app variable. A required variable with no value is an error naming it.
    pub fn resolve(app: &LockedApp, providers: &Providers) -> anyhow::Result<Self> {
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, var) in &app.variables {
            match providers.get(name).or_else(|| var.default.clone()) {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            let hints: Vec<String> = missing
                .iter()
                .map(|n| format!("SPIN_VARIABLE_{}=...", n.to_ascii_uppercase()))
                .collect();
            bail!(
                "required variable{} {} ha{} no value (help: set {}, or pass --variable {}=...)",
                if missing.len() > 1 { "s" } else { "" },
                missing
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() > 1 { "ve" } else { "s" },
                hints.join(" "),
                missing[0]
            );
        }
        Ok(Self { values })
    }

    /// The resolved value of an app variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Expands `{{ name }}` references in `template` with app variables.
    pub fn render(&self, template: &str) -> anyhow::Result<String> {
        use spindle_manifest::template::{render, RenderError};
        render(template, |name| {
            self.get(name).map(str::to_string).ok_or(name.to_string())
        })
        .map_err(|e| match e {
            RenderError::Unterminated => {
                anyhow::anyhow!("unterminated `{{{{` in `{template}`")
            }
            RenderError::Variable(name) => {
                anyhow::anyhow!("`{template}` refers to `{name}`, which is not an app variable")
            }
        })
    }

    /// The component's `variables` with templates expanded: all it can read.
    pub fn component_values(
        &self,
        component: &LockedComponent,
    ) -> anyhow::Result<Arc<BTreeMap<String, String>>> {
        let mut values = BTreeMap::new();
        for (key, template) in &component.config {
            let value = self
                .render(template)
                .with_context(|| format!("variable `{key}` of component `{}`", component.id))?;
            values.insert(key.clone(), value);
        }
        Ok(Arc::new(values))
    }
}

/// What one instance can read.
pub type VariablesState = Arc<BTreeMap<String, String>>;

impl Capability for Variables {
    type Grant = VariablesState;
    type State = VariablesState;
    type View = Has<VariablesState>;

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        view: fn(&mut T) -> <Self::View as HasData>::Data<'_>,
    ) -> anyhow::Result<()> {
        spin_vars::add_to_linker::<T, Self::View>(linker, view)?;
        spin_vars3::add_to_linker::<T, Self::View>(linker, view)?;
        wasi_config::add_to_linker::<T, Self::View>(linker, view)?;
        Ok(())
    }

    fn grant(&self, grantee: &Grantee<'_>) -> anyhow::Result<VariablesState> {
        self.component_values(grantee.component)
    }

    fn state(self: &Arc<Self>, grant: &VariablesState) -> VariablesState {
        grant.clone()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

impl spin_vars::Host for View<'_, VariablesState> {
    fn get(&mut self, name: String) -> Result<String, spin_vars::Error> {
        if !valid_name(&name) {
            return Err(spin_vars::Error::InvalidName(format!(
                "`{name}` is not a valid variable name (lower_snake_case)"
            )));
        }
        self.state
            .get(&name)
            .cloned()
            .ok_or_else(|| spin_vars::Error::Undefined(format!("no variable named `{name}`")))
    }
}

impl wasi_config::Host for View<'_, VariablesState> {
    fn get(&mut self, key: String) -> Result<Option<String>, wasi_config::Error> {
        Ok(self.state.get(&key).cloned())
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, wasi_config::Error> {
        Ok(self
            .state
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

// ---- spin:variables/variables@3.0.0 (WASIp3, async) --------------------------------------------

use super::bindings::spin::variables::variables as spin_vars3;

impl<T> spin_vars3::HostWithStore<T> for Has<VariablesState> {
    fn get(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> impl std::future::Future<Output = Result<String, spin_vars3::Error>> + Send {
        let result = accessor.with(|mut access| {
            spin_vars::Host::get(&mut access.get(), name).map_err(|e| match e {
                spin_vars::Error::InvalidName(m) => spin_vars3::Error::InvalidName(m),
                spin_vars::Error::Undefined(m) => spin_vars3::Error::Undefined(m),
                spin_vars::Error::Provider(m) => spin_vars3::Error::Provider(m),
                spin_vars::Error::Other(m) => spin_vars3::Error::Other(m),
            })
        });
        async move { result }
    }
}

impl spin_vars3::Host for View<'_, VariablesState> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        Variables {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn templates_expand() {
        let v = vars(&[("host", "api.example.com"), ("v", "1")]);
        assert_eq!(
            v.render("https://{{ host }}/v{{v}}").unwrap(),
            "https://api.example.com/v1"
        );
        assert_eq!(v.render("plain").unwrap(), "plain");
        let err = v.render("{{ nope }}").unwrap_err().to_string();
        assert!(err.contains("`nope`"), "{err}");
        assert!(v.render("{{ host").is_err());
    }

    #[test]
    fn providers_in_priority_order() {
        let p = Providers(vec![
            Provider::Static([("a".to_string(), "cli".to_string())].into()),
            Provider::Static(
                [
                    ("a".to_string(), "config".to_string()),
                    ("b".to_string(), "config".to_string()),
                ]
                .into(),
            ),
        ]);
        assert_eq!(p.get("a").as_deref(), Some("cli"));
        assert_eq!(p.get("b").as_deref(), Some("config"));
        assert_eq!(p.get("c"), None);
    }

    /// A component's variables as the app resolves them: `{{ }}` filled from app variables.
    fn component_state(app: &Variables, config: &[(&str, &str)]) -> VariablesState {
        let locked = serde_json::json!({
            "spin_lock_version": 1,
            "triggers": [],
            "components": [{"id": "c", "source": {
                "content_type": "application/wasm", "source": "file:///c.wasm"},
                "config": config.iter().map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()}],
        });
        let locked = LockedApp::from_json(locked.to_string().as_bytes()).unwrap();
        let grantee = Grantee {
            component: locked.component("c").unwrap(),
            allowed_hosts: &Arc::new(Default::default()),
        };
        Arc::new(app.clone()).grant(&grantee).unwrap()
    }

    #[test]
    fn wasi_config_store_sees_only_the_components_own_keys() {
        let app = vars(&[("host", "api.example.com"), ("secret", "s3cr3t")]);
        let mut state = component_state(&app, &[("url", "https://{{ host }}/v1"), ("mode", "x")]);
        let mut table = wasmtime::component::ResourceTable::new();
        let mut view = View::new(&mut state, &mut table);
        use wasi_config::Host as _;
        assert_eq!(
            view.get("url".into()).unwrap().as_deref(),
            Some("https://api.example.com/v1")
        );
        // An app variable the component did not map is not visible, nor is an unknown key.
        assert_eq!(view.get("secret".into()).unwrap(), None);
        assert_eq!(view.get("host".into()).unwrap(), None);
        let mut all = view.get_all().unwrap();
        all.sort();
        assert_eq!(
            all,
            vec![
                ("mode".to_string(), "x".to_string()),
                ("url".to_string(), "https://api.example.com/v1".to_string()),
            ]
        );
    }

    #[test]
    fn spin_variables_check_names_and_tell_undefined_apart() {
        let app = vars(&[("host", "h")]);
        let mut state = component_state(&app, &[("url", "{{ host }}")]);
        let mut table = wasmtime::component::ResourceTable::new();
        let mut view = View::new(&mut state, &mut table);
        use spin_vars::Host as _;
        assert_eq!(view.get("url".into()).unwrap(), "h");
        assert!(matches!(
            view.get("Url".into()),
            Err(spin_vars::Error::InvalidName(_))
        ));
        assert!(matches!(
            view.get("other".into()),
            Err(spin_vars::Error::Undefined(_))
        ));
    }

    #[test]
    fn names() {
        assert!(valid_name("api_token"));
        assert!(valid_name("a1"));
        assert!(!valid_name("Api"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name("_a"));
        assert!(!valid_name(""));
    }
}
