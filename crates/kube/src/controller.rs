//! `spindle operator`: one kube-rs `Controller` per API group ([`GROUPS`]), both running the
//! same [`reconcile`]. For a SpinApp it resolves the executor, server-side applies the objects
//! [`crate::workload`] describes (field manager [`FIELD_MANAGER`], owned by the SpinApp, so
//! garbage collection deletes them with it and an edited or deleted one is put back), then
//! writes the status from the Deployment and its pods. A spec it cannot run, an unknown
//! executor, an image that cannot be pulled or an app that fails to start becomes a condition
//! and an Event on the SpinApp; none of them fails the operator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::object::{NotUsed, Object};
use kube::core::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource as _, ResourceExt as _};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::crd::{
    executor_resource, spinapp_resource, RuntimeConfigVarSource, SpinAppExecutorSpec, SpinAppSpec,
    SpinAppStatus, GROUPS,
};
use crate::workload::{runtime_config_toml, App, InvalidSpec};

/// A SpinApp in either group.
pub type SpinAppObject = Object<SpinAppSpec, SpinAppStatus>;
/// A SpinAppExecutor in either group.
pub type ExecutorObject = Object<SpinAppExecutorSpec, NotUsed>;

/// The field manager of every server-side apply, and the Events' reporting controller.
pub const FIELD_MANAGER: &str = "spindle-operator";

/// How long to wait before looking again at an app whose executor is missing, or whose
/// reconcile failed for a reason that may pass (the API server was unreachable).
const RETRY: Duration = Duration::from_secs(15);

/// What went wrong talking to the cluster (a bad spec is not an error: it is a condition).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the operator was doing.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

trait Doing<T> {
    fn doing(self, action: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Doing<T> for Result<T, kube::Error> {
    fn doing(self, action: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Kube {
            action: action(),
            source,
        })
    }
}

/// Options of `spindle operator`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Watch only this namespace (all namespaces when `None`).
    pub namespace: Option<String>,
    /// Names this instance in Events (the pod name in-cluster).
    pub instance: Option<String>,
    /// Namespaces in which to create the default executors when they are missing.
    pub executor_namespaces: Vec<String>,
}

struct Context {
    client: Client,
    group: &'static str,
    apps: ApiResource,
    executors: ApiResource,
    recorder: Recorder,
}

/// Runs the operator until SIGTERM or Ctrl-C. Groups whose CRDs are not installed are skipped
/// with a warning (and an error when neither is).
pub async fn run(client: Client, options: Options) -> anyhow::Result<()> {
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: options.instance.clone(),
    };
    let default_ns = client.default_namespace().to_string();
    let version = client.apiserver_version().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the Kubernetes API server: {e} (help: check that the cluster is up and \
             that KUBECONFIG, or the pod's service account, points at it)"
        )
    })?;
    tracing::info!(
        "connected to Kubernetes {} (default namespace {default_ns})",
        version.git_version
    );
    let mut controllers = Vec::new();
    for group in GROUPS {
        let apps = spinapp_resource(group);
        let api: Api<SpinAppObject> = match options.namespace.as_deref() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &apps),
            None => Api::all_with(client.clone(), &apps),
        };
        match api.list_metadata(&ListParams::default().limit(1)).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {
                tracing::warn!(
                    "not watching SpinApps in {group}: its CRD is not installed (help: `spindle \
                     kube install | kubectl apply -f -` installs the CRDs)"
                );
                continue;
            }
            Err(e) => {
                anyhow::bail!(
                    "cannot list SpinApps in {group}: {e} (help: the operator's ServiceAccount \
                     needs the ClusterRole `spindle kube install` prints)"
                )
            }
        }
        for ns in &options.executor_namespaces {
            ensure_executors(&client, group, ns).await?;
        }
        tracing::info!(
            "watching SpinApps ({}) in {}",
            apps.api_version,
            options.namespace.as_deref().unwrap_or("all namespaces")
        );
        let context = Arc::new(Context {
            client: client.clone(),
            group,
            apps: apps.clone(),
            executors: executor_resource(group),
            recorder: Recorder::new(client.clone(), reporter.clone()),
        });
        let ns = options.namespace.as_deref();
        let owned = watcher::Config::default().labels(&format!("{group}/app-name"));
        let pod_apps = apps.clone();
        let controller = Controller::new_with(api, watcher::Config::default(), apps.clone())
            .owns_with(scoped::<Deployment>(&client, ns), (), owned.clone())
            .owns_with(scoped::<Service>(&client, ns), (), owned.clone())
            .owns_with(
                scoped::<HorizontalPodAutoscaler>(&client, ns),
                (),
                owned.clone(),
            )
            // Pods belong to ReplicaSets, not to the app: their label says whose they are.
            .watches_with(scoped::<Pod>(&client, ns), (), owned, move |pod| {
                let app = pod.labels().get(&format!("{group}/app-name")).cloned();
                let ns = pod.namespace();
                let pod_apps = pod_apps.clone();
                app.into_iter().map(move |name| {
                    let r = ObjectRef::new_with(&name, pod_apps.clone());
                    match &ns {
                        Some(ns) => r.within(ns),
                        None => r,
                    }
                })
            })
            .shutdown_on_signal()
            .run(reconcile, error_policy, context)
            .for_each(|result| async move {
                match result {
                    Ok((app, _)) => tracing::debug!("reconciled {app}"),
                    Err(e) => tracing::warn!("{e}"),
                }
            });
        controllers.push(controller);
    }
    if controllers.is_empty() {
        anyhow::bail!(
            "no SpinApp CRD is installed in the cluster (help: `spindle kube install | kubectl \
             apply -f -`)"
        );
    }
    futures::future::join_all(controllers).await;
    tracing::info!("operator stopped");
    Ok(())
}

/// Creates the executors of [`crate::install::executors`] that do not exist yet (an existing
/// one, perhaps edited by the user, is left as it is).
async fn ensure_executors(client: &Client, group: &str, ns: &str) -> anyhow::Result<()> {
    let api: Api<ExecutorObject> =
        Api::namespaced_with(client.clone(), ns, &executor_resource(group));
    for doc in crate::install::executors(group, ns) {
        let executor: ExecutorObject = serde_json::from_value(doc)?;
        let name = executor.name_any();
        match api
            .create(&kube::api::PostParams::default(), &executor)
            .await
        {
            Ok(_) => tracing::info!("created SpinAppExecutor {ns}/{name} ({group})"),
            Err(kube::Error::Api(e)) if e.is_already_exists() => {}
            Err(e) => anyhow::bail!("creating SpinAppExecutor {ns}/{name} ({group}): {e}"),
        }
    }
    Ok(())
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn error_policy(app: Arc<SpinAppObject>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(
        "SpinApp {}/{}: {error} (retrying in {}s)",
        app.namespace().unwrap_or_default(),
        app.name_any(),
        RETRY.as_secs()
    );
    Action::requeue(RETRY)
}

/// Why an app is not running, as a condition reason and a message for the user.
struct Problem {
    reason: &'static str,
    message: String,
}

/// What one reconcile found: the status to write, what is wrong (if anything), and when to
/// look again.
struct Outcome {
    status: Option<SpinAppStatus>,
    problem: Option<Problem>,
    then: Action,
}

impl Outcome {
    fn stop(status: &SpinAppStatus, problem: Problem, then: Action) -> Outcome {
        Outcome {
            status: Some(status.clone()),
            problem: Some(problem),
            then,
        }
    }
}

impl Problem {
    fn new(reason: &'static str, message: String) -> Problem {
        Problem { reason, message }
    }
}

async fn reconcile(app: Arc<SpinAppObject>, ctx: Arc<Context>) -> Result<Action, Error> {
    if app.metadata.deletion_timestamp.is_some() {
        // The owned objects go with it (garbage collection).
        return Ok(Action::await_change());
    }
    let outcome = realise(&app, &ctx).await?;
    report(&app, &ctx, outcome.status, outcome.problem, outcome.then).await
}

/// The request path of a SpinApp, top to bottom: validate → executor → runtime config Secret
/// → Deployment → Service → HPA → status from the Deployment and its pods.
async fn realise(app: &SpinAppObject, ctx: &Context) -> Result<Outcome, Error> {
    let ns = app.namespace().unwrap_or_else(|| "default".into());
    let name = app.name_any();
    let owner = app
        .controller_owner_ref(&ctx.apps)
        .expect("a SpinApp from the API server has a name and a uid");
    let no_annotations = BTreeMap::new();
    let view = App {
        group: ctx.group,
        name: &name,
        namespace: &ns,
        owner,
        annotations: app.metadata.annotations.as_ref().unwrap_or(&no_annotations),
        spec: &app.spec,
    };
    if let Err(InvalidSpec(message)) = view.validate() {
        return Ok(Outcome {
            status: None,
            problem: Some(Problem::new("InvalidSpec", message)),
            then: Action::await_change(),
        });
    }
    let executor = match find_executor(app, ctx, &ns).await? {
        Ok(executor) => executor,
        Err(problem) => {
            return Ok(Outcome {
                status: None,
                problem: Some(problem),
                then: Action::requeue(RETRY),
            })
        }
    };
    let executor_name = executor.name_any();
    let mut status = SpinAppStatus {
        active_scheduler: executor_name.clone(),
        ..Default::default()
    };
    if !executor.spec.create_deployment {
        // Something else realises the app (as spin-operator's non-deployment executors).
        return Ok(Outcome {
            status: Some(status),
            problem: None,
            then: Action::await_change(),
        });
    }
    let config = executor.spec.deployment_config.clone().unwrap_or_default();

    let secret_name = match &app.spec.runtime_config.load_from_secret {
        Some(secret) => Some(secret.clone()),
        None => match runtime_config_secret(&view, ctx, &ns).await? {
            Ok(name) => name,
            Err(problem) => return Ok(Outcome::stop(&status, problem, Action::requeue(RETRY))),
        },
    };
    let deployment = match view.deployment(&config, secret_name.as_deref()) {
        Ok(d) => d,
        Err(InvalidSpec(message)) => {
            let message = format!("SpinAppExecutor {ns}/{executor_name}: {message}");
            let problem = Problem::new("InvalidExecutor", message);
            return Ok(Outcome::stop(&status, problem, Action::await_change()));
        }
    };
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(problem) = foreign_owner(&deployments, &name, app, "Deployment").await? {
        return Ok(Outcome::stop(&status, problem, Action::requeue(RETRY)));
    }
    if let Some(problem) = foreign_owner(&services, &name, app, "Service").await? {
        return Ok(Outcome::stop(&status, problem, Action::requeue(RETRY)));
    }
    let deployment: Deployment = apply(&deployments, &name, &deployment).await?;
    let _: Service = apply(&services, &name, &view.service()).await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(ctx.client.clone(), &ns);
    if app.spec.enable_autoscaling {
        match view.hpa() {
            Ok(hpa) => {
                let _: HorizontalPodAutoscaler = apply(&hpas, &name, &hpa).await?;
            }
            Err(InvalidSpec(message)) => {
                let problem = Problem::new("InvalidSpec", message);
                return Ok(Outcome::stop(&status, problem, Action::await_change()));
            }
        }
    } else if let Some(hpa) = hpas
        .get_opt(&name)
        .await
        .doing(|| format!("reading HPA {ns}/{name}"))?
    {
        if owned_by(&hpa.metadata, app) {
            hpas.delete(&name, &DeleteParams::default())
                .await
                .doing(|| format!("deleting HPA {ns}/{name}"))?;
        }
    }

    status.deployment_name = Some(name.clone());
    status.service_name = Some(name.clone());
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = format!("{}={name}", view.name_label());
    let pods = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .doing(|| format!("listing the pods of {ns}/{name}"))?;
    status.ready_replicas = deployment
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    status.conditions = deployment_conditions(&deployment);
    Ok(Outcome {
        status: Some(status),
        problem: pod_problem(&pods.items),
        then: Action::requeue(Duration::from_secs(300)),
    })
}

/// The executor the app names, or the first in alphabetical order when it names none (then
/// written into `spec.executor`, as spin-operator's defaulting webhook does).
async fn find_executor(
    app: &SpinAppObject,
    ctx: &Context,
    ns: &str,
) -> Result<Result<ExecutorObject, Problem>, Error> {
    let api: Api<ExecutorObject> = Api::namespaced_with(ctx.client.clone(), ns, &ctx.executors);
    let wanted = app.spec.executor.as_str();
    if !wanted.is_empty() {
        if let Some(found) = api
            .get_opt(wanted)
            .await
            .doing(|| format!("reading SpinAppExecutor {ns}/{wanted}"))?
        {
            return Ok(Ok(found));
        }
    }
    let mut all = api
        .list(&ListParams::default())
        .await
        .doing(|| format!("listing the SpinAppExecutors in {ns}"))?
        .items;
    all.sort_by_key(|e| e.name_any());
    let names: Vec<String> = all.iter().map(|e| e.name_any()).collect();
    let help = if names.is_empty() {
        format!(
            "there is no SpinAppExecutor ({}) in namespace {ns}; `spindle kube install` \
             creates `containerd-shim-spin` and `spindle` (or pass --executor-namespace {ns})",
            ctx.executors.api_version
        )
    } else {
        format!("the executors in namespace {ns} are: {}", names.join(", "))
    };
    if !wanted.is_empty() {
        return Ok(Err(Problem {
            reason: "ExecutorNotFound",
            message: format!("spec.executor `{wanted}` names no SpinAppExecutor: {help}"),
        }));
    }
    let Some(first) = all.into_iter().next() else {
        return Ok(Err(Problem {
            reason: "ExecutorNotFound",
            message: format!("spec.executor is not set and {help}"),
        }));
    };
    let apps: Api<SpinAppObject> = Api::namespaced_with(ctx.client.clone(), ns, &ctx.apps);
    let patch = json!({"spec": {"executor": first.name_any()}});
    apps.patch(
        &app.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .doing(|| format!("setting spec.executor of SpinApp {ns}/{}", app.name_any()))?;
    Ok(Ok(first))
}

/// The app's `runtime-config.toml`, with the values of `valueFrom` options read from their
/// ConfigMaps and Secrets.
async fn runtime_config_file(
    view: &App<'_>,
    ctx: &Context,
    ns: &str,
) -> Result<Result<String, Problem>, Error> {
    let config = &view.spec.runtime_config;
    let mut values = BTreeMap::new();
    let options = config
        .key_value_stores
        .iter()
        .chain(&config.sqlite_databases)
        .flat_map(|s| &s.options);
    for option in options {
        if let Some(from) = &option.value_from {
            match read_source(ctx, ns, from).await? {
                Ok(value) => values.insert(source_key(from), value),
                Err(message) => {
                    let message = format!("runtimeConfig option `{}`: {message}", option.name);
                    return Ok(Err(Problem::new("RuntimeConfigError", message)));
                }
            };
        }
    }
    let toml = runtime_config_toml(config, |_, from| {
        values
            .get(&source_key(from))
            .cloned()
            .ok_or_else(|| InvalidSpec("a valueFrom names neither a ConfigMap nor a Secret".into()))
    });
    Ok(toml.map_err(|InvalidSpec(message)| Problem::new("RuntimeConfigError", message)))
}

/// Writes the generated runtime config Secret and deletes the ones it replaces. Returns its
/// name, or `None` when the app configures nothing: then there is no file (variables come
/// from the environment either way) and no Secret for the kubelet to fetch for every pod.
async fn runtime_config_secret(
    view: &App<'_>,
    ctx: &Context,
    ns: &str,
) -> Result<Result<Option<String>, Problem>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let name = if view.spec.runtime_config.is_empty() {
        None
    } else {
        let toml = match runtime_config_file(view, ctx, ns).await? {
            Ok(toml) => toml,
            Err(problem) => return Ok(Err(problem)),
        };
        let secret = view.runtime_config_secret(&toml);
        let name = secret["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let _: Secret = apply(&secrets, &name, &secret).await?;
        Some(name)
    };
    let selector = format!(
        "{}={},{}=true",
        view.name_label(),
        view.name,
        view.runtime_config_label()
    );
    let old = secrets
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .doing(|| format!("listing the runtime config Secrets of {ns}/{}", view.name))?;
    for stale in old.items.iter().filter(|s| Some(s.name_any()) != name) {
        secrets
            .delete(&stale.name_any(), &DeleteParams::default())
            .await
            .doing(|| {
                format!(
                    "deleting the old runtime config Secret {ns}/{}",
                    stale.name_any()
                )
            })?;
    }
    Ok(Ok(name))
}

fn source_key(from: &RuntimeConfigVarSource) -> String {
    match (&from.config_map_key_ref, &from.secret_key_ref) {
        (Some(c), _) => format!("configmap/{}/{}", c.name, c.key),
        (None, Some(s)) => format!("secret/{}/{}", s.name, s.key),
        (None, None) => String::new(),
    }
}

/// The value a `valueFrom` points at, or what is wrong with it.
async fn read_source(
    ctx: &Context,
    ns: &str,
    from: &RuntimeConfigVarSource,
) -> Result<Result<String, String>, Error> {
    if let Some(c) = &from.config_map_key_ref {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
        let map = api
            .get_opt(&c.name)
            .await
            .doing(|| format!("reading ConfigMap {ns}/{}", c.name))?;
        return Ok(
            match map
                .and_then(|m| m.data)
                .and_then(|d| d.get(&c.key).cloned())
            {
                Some(v) => Ok(v),
                None => Err(format!("ConfigMap {ns}/{} has no key `{}`", c.name, c.key)),
            },
        );
    }
    if let Some(s) = &from.secret_key_ref {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
        let secret = api
            .get_opt(&s.name)
            .await
            .doing(|| format!("reading Secret {ns}/{}", s.name))?;
        let value = secret
            .and_then(|s| s.data)
            .and_then(|d| d.get(&s.key).cloned());
        return Ok(match value {
            Some(bytes) => String::from_utf8(bytes.0)
                .map_err(|_| format!("Secret {ns}/{} key `{}` is not UTF-8 text", s.name, s.key)),
            None => Err(format!("Secret {ns}/{} has no key `{}`", s.name, s.key)),
        });
    }
    Ok(Err(
        "valueFrom names neither a configMapKeyRef nor a secretKeyRef".into(),
    ))
}

/// A Deployment or Service of the app's name that another owner (or nobody) controls: the
/// operator leaves it alone and says so.
async fn foreign_owner<K>(
    api: &Api<K>,
    name: &str,
    app: &SpinAppObject,
    kind: &str,
) -> Result<Option<Problem>, Error>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let existing = api
        .get_metadata_opt(name)
        .await
        .doing(|| format!("reading {kind} {name}"))?;
    let Some(existing) = existing else {
        return Ok(None);
    };
    if owned_by(&existing.metadata, app) {
        return Ok(None);
    }
    let holder = existing
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| format!("is controlled by {} {}", o.kind, o.name))
        .unwrap_or_else(|| "is not controlled by this SpinApp".into());
    Ok(Some(Problem {
        reason: "NameConflict",
        message: format!(
            "{kind} {}/{name} already exists and {holder}: the operator leaves it alone \
             (help: delete it, or give the SpinApp another name)",
            app.namespace().unwrap_or_default()
        ),
    }))
}

fn owned_by(meta: &kube::api::ObjectMeta, app: &SpinAppObject) -> bool {
    let uid = app.metadata.uid.as_deref();
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| Some(o.uid.as_str()) == uid && o.controller == Some(true))
}

/// Server-side apply of `object` (force: the operator owns the fields it sets).
async fn apply<K>(api: &Api<K>, name: &str, object: &serde_json::Value) -> Result<K, Error>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let kind = object["kind"].as_str().unwrap_or("object").to_string();
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .doing(|| format!("applying {kind} {name}"))
}

/// `Available` and `Progressing` as the Deployment reports them.
fn deployment_conditions(deployment: &Deployment) -> Vec<Condition> {
    let conditions = deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    ["Available", "Progressing"]
        .into_iter()
        .map(|kind| match conditions.iter().find(|c| c.type_ == kind) {
            Some(c) => condition(
                kind,
                &c.status,
                c.reason.as_deref().unwrap_or("Unknown"),
                c.message.clone().unwrap_or_default(),
            ),
            None => condition(
                kind,
                "Unknown",
                "DeploymentPending",
                "the Deployment has not reported yet".into(),
            ),
        })
        .collect()
}

/// Pod states that mean the app will not become ready by waiting.
fn pod_problem(pods: &[Pod]) -> Option<Problem> {
    for pod in pods {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref());
        for cs in statuses.into_iter().flatten() {
            let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
                continue;
            };
            let why = waiting.reason.as_deref().unwrap_or_default();
            let reason = match why {
                "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
                    "ImagePullFailed"
                }
                "CrashLoopBackOff" | "RunContainerError" | "CreateContainerError" => {
                    "AppFailedToStart"
                }
                "CreateContainerConfigError" => "ConfigError",
                _ => continue,
            };
            let mut message = format!(
                "pod {}: {why}: {}",
                pod.name_any(),
                waiting.message.as_deref().unwrap_or("")
            );
            let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            if let Some(t) = last {
                let log = t.message.as_deref().unwrap_or("").trim();
                message.push_str(&format!(" (exit code {}", t.exit_code));
                if !log.is_empty() {
                    message.push_str(&format!("; last log lines: {}", tail(log, 600)));
                }
                message.push(')');
            }
            return Some(Problem { reason, message });
        }
    }
    None
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn condition(kind: &str, status: &str, reason: &str, message: String) -> Condition {
    Condition {
        type_: kind.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
        observed_generation: None,
    }
}

/// Writes the status (when it changed) with `problem` folded into `Available`, and an Event
/// when a problem is new or gone.
async fn report(
    app: &SpinAppObject,
    ctx: &Context,
    status: Option<SpinAppStatus>,
    problem: Option<Problem>,
    then: Action,
) -> Result<Action, Error> {
    let previous = app.status.clone().unwrap_or_default();
    let mut status = status.unwrap_or_else(|| SpinAppStatus {
        active_scheduler: previous.active_scheduler.clone(),
        ..Default::default()
    });
    if let Some(p) = &problem {
        let available = condition("Available", "False", p.reason, p.message.clone());
        let progressing = condition("Progressing", "False", p.reason, p.message.clone());
        status
            .conditions
            .retain(|c| c.type_ != "Available" && c.type_ != "Progressing");
        status.conditions.extend([available, progressing]);
    }
    for c in &mut status.conditions {
        c.observed_generation = app.metadata.generation;
        // The transition time moves only when the status does.
        if let Some(old) = previous.conditions.iter().find(|o| o.type_ == c.type_) {
            if old.status == c.status {
                c.last_transition_time = old.last_transition_time.clone();
            }
        }
    }
    let available = |s: &SpinAppStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Available")
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    let event = match (&problem, available(&previous) != available(&status)) {
        (Some(p), true) => Some(Event {
            type_: EventType::Warning,
            reason: p.reason.into(),
            note: Some(truncate_note(&p.message)),
            action: "Reconcile".into(),
            secondary: None,
        }),
        (None, true) if available(&status).is_some_and(|(s, _, _)| s == "True") => Some(Event {
            type_: EventType::Normal,
            reason: "Available".into(),
            note: Some(format!(
                "{} of {} replicas ready (Deployment {})",
                status.ready_replicas,
                app.spec.replicas.unwrap_or(1),
                status.deployment_name.as_deref().unwrap_or("")
            )),
            action: "Reconcile".into(),
            secondary: None,
        }),
        _ => None,
    };
    let ns = app.namespace().unwrap_or_default();
    let name = app.name_any();
    if let Some(p) = &problem {
        tracing::warn!("SpinApp {ns}/{name}: {}: {}", p.reason, p.message);
    }
    if status != previous {
        let api: Api<SpinAppObject> = Api::namespaced_with(ctx.client.clone(), &ns, &ctx.apps);
        let patch = json!({"status": status});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .doing(|| format!("writing the status of SpinApp {ns}/{name}"))?;
    }
    if let Some(event) = event {
        let reference = app.object_ref(&ctx.apps);
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!("SpinApp {ns}/{name}: could not publish an Event: {e}");
        }
    }
    Ok(then)
}

/// Events carry at most 1 kB of note.
fn truncate_note(message: &str) -> String {
    if message.len() <= 1000 {
        return message.to_string();
    }
    let mut end = 1000;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
