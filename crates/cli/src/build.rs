//! `spindle build`: runs each component's `[component.<id>.build]` command, like `spin build`.
//!
//! Commands run through `sh -c` in the component's `workdir` (relative to the manifest's
//! directory, default the manifest's directory), one after another; their output is streamed
//! with a `[component-id]` prefix. The first failure stops the build and names the component,
//! the command and its exit code.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};
use clap::Args;

/// Arguments of `spindle build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The app to build: a spin.toml file or a directory containing one.
    #[arg(short = 'f', long = "from", alias = "file", value_name = "APP")]
    pub from: Option<PathBuf>,

    /// Build only this component (repeatable).
    #[arg(short = 'c', long = "component-id", value_name = "ID")]
    pub components: Vec<String>,

    /// The build profile: each component's `[component.<id>.profile.<NAME>]` overrides.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Runs `spindle build`.
pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let manifest = manifest_path(args.from.as_deref())?;
    build(&manifest, &args.components, args.profile.as_deref())
}

/// Where `spindle build` records the profile it built last (as Spin: `.spin/last-build.txt`
/// next to the manifest, empty for the default profile).
fn last_build_file(app_dir: &Path) -> PathBuf {
    app_dir.join(".spin").join("last-build.txt")
}

/// Warns when the app was last built with another profile than `profile` (as `spin up`).
pub fn warn_if_other_profile_built(manifest: &Path, profile: Option<&str>) {
    let app_dir = app_dir_of(manifest);
    let Ok(last) = std::fs::read_to_string(last_build_file(app_dir)) else {
        return;
    };
    let last = last.trim();
    let wanted = profile.unwrap_or("");
    if last != wanted {
        let name = |p: &str| {
            if p.is_empty() {
                "the default profile".to_string()
            } else {
                format!("profile `{p}`")
            }
        };
        eprintln!(
            "warning: you built {} more recently than {}, which this run uses (help: run \
             `spindle build{}` first, or pass --build)",
            name(last),
            name(wanted),
            profile
                .map(|p| format!(" --profile {p}"))
                .unwrap_or_default()
        );
    }
}

fn app_dir_of(manifest: &Path) -> &Path {
    manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Finds the app's manifest as Spin does: `-f` as a file, `-f` as a directory holding
/// spin.toml, or else spin.toml in the current directory or the nearest parent that has one.
pub fn manifest_path(from: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = match from {
        Some(p) if p.is_dir() => p.join("spin.toml"),
        Some(p) => p.to_path_buf(),
        None => return find_upwards(),
    };
    if !candidate.exists() {
        bail!(
            "no app at {}: the file does not exist (help: pass a spin.toml or a directory \
             containing one with -f)",
            candidate.display()
        );
    }
    Ok(candidate)
}

/// spin.toml in the current directory or its nearest ancestor that has one.
fn find_upwards() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("finding the current directory")?;
    for dir in cwd.ancestors() {
        let candidate = dir.join("spin.toml");
        if candidate.is_file() {
            if dir != cwd {
                eprintln!("Using {} from a parent directory", candidate.display());
            }
            return Ok(candidate);
        }
    }
    bail!(
        "no spin.toml in {} or any of its parent directories (help: run in an app directory, \
         or pass one with `-f path/to/spin.toml`)",
        cwd.display()
    )
}

/// Builds the components of the app at `manifest` (all of them when `only` is empty), with
/// the build profile `profile` applied.
pub fn build(manifest: &Path, only: &[String], profile: Option<&str>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let (mut app, warnings) = spindle_manifest::parse_str(&text, manifest)?;
    for w in &warnings {
        eprintln!("{w}");
    }
    if let Some(profile) = profile {
        if app.apply_profile(profile).is_empty() {
            eprintln!(
                "warning: no component defines the build profile `{profile}`; building the \
                 default settings"
            );
        }
    }
    let app_dir = app_dir_of(manifest);

    for id in only {
        if !app.components.contains_key(id) {
            let known: Vec<_> = app.components.keys().map(String::as_str).collect();
            bail!(
                "the app has no component `{id}` (its components: {})",
                known.join(", ")
            );
        }
    }
    let mut built = 0;
    for (id, component) in app.components.iter() {
        if !only.is_empty() && !only.contains(id) {
            continue;
        }
        let Some(build) = &component.build else {
            println!("[{id}] no build command, skipping");
            continue;
        };
        let workdir = match &build.workdir {
            Some(w) => app_dir.join(w),
            None => app_dir.to_path_buf(),
        };
        if !workdir.is_dir() {
            bail!(
                "component `{id}`: build workdir {} does not exist (it is relative to {})",
                workdir.display(),
                app_dir.display()
            );
        }
        for command in build.commands() {
            println!("Building component {id} with `{command}`");
            run_command(id, command, &workdir)?;
        }
        built += 1;
    }
    if built > 0 {
        println!("Finished building all Spin components");
    }
    if only.is_empty() {
        let file = last_build_file(app_dir);
        let recorded = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&file, profile.unwrap_or("")));
        if let Err(e) = recorded {
            eprintln!(
                "warning: could not record the built profile in {}: {e}",
                file.display()
            );
        }
    }
    Ok(())
}

/// Runs one build command, streaming its output line by line with a `[id]` prefix.
fn run_command(id: &str, command: &str, workdir: &Path) -> anyhow::Result<()> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("component `{id}`: cannot run `{command}` with sh"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let out_id = id.to_string();
    let err_id = id.to_string();
    let out = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "[{out_id}] {line}");
        }
    });
    let err = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "[{err_id}] {line}");
        }
    });
    let status = child.wait().context("waiting for the build command")?;
    let _ = out.join();
    let _ = err.join();
    if !status.success() {
        let how = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "a signal".to_string(),
        };
        bail!(
            "build failed for component `{id}`: `{command}` exited with {how} (in {})",
            workdir.display()
        );
    }
    Ok(())
}
