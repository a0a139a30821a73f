//! `spindle node install`: puts the shim on a node. Copies this binary as
//! `containerd-shim-spindle-v2` and adds the `spindle` runtime to containerd's config, as a
//! marked block appended to the file, so every other line and comment stays as it was and
//! `--uninstall` gives the file back byte for byte.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::{RUNTIME_TYPE, SHIM_BINARY};

/// `spindle node install`.
#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// containerd's configuration file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/containerd/config.toml"
    )]
    pub containerd_config: PathBuf,
    /// Where containerd finds shims (a directory on containerd's PATH).
    #[arg(long, value_name = "DIR", default_value = "/usr/local/bin")]
    pub bin_dir: PathBuf,
    /// The name of the runtime in containerd's CRI config (a RuntimeClass `handler`).
    #[arg(long, default_value = "spindle")]
    pub runtime_name: String,
    /// Run this (with `sh -c`) after a change, e.g. `systemctl restart containerd`.
    #[arg(long, value_name = "CMD")]
    pub restart_command: Option<String>,
    /// Remove the runtime from the config and the shim binary instead.
    #[arg(long)]
    pub uninstall: bool,
    /// Then label this Kubernetes node `spindle.dev/containerd-shim-spindle=provisioned`
    /// (the node installer DaemonSet passes its node's name).
    #[arg(long, value_name = "NODE")]
    pub label_node: Option<String>,
    /// Then keep running until stopped (as a DaemonSet's container must).
    #[arg(long)]
    pub stay: bool,
}

/// `spindle node ...`.
#[derive(clap::Subcommand, Debug)]
pub enum NodeCommand {
    /// Install the containerd shim on this node (binary + containerd config).
    Install(InstallArgs),
}

pub fn run(command: NodeCommand) -> anyhow::Result<()> {
    let NodeCommand::Install(args) = command;
    let changed = if args.uninstall {
        uninstall(&args)?
    } else {
        install(&args)?
    };
    if !changed {
        println!("Nothing to do: the node is already as asked.");
    } else {
        restart(&args)?;
    }
    if let Some(node) = &args.label_node {
        crate::kube::label_node(node)?;
        println!(
            "Labelled node {node} {}=provisioned",
            spindle_kube::install::NODE_LABEL
        );
    }
    if args.stay {
        println!("Done; staying up until stopped.");
        wait_for_termination();
    }
    Ok(())
}

/// Blocks until SIGTERM or SIGINT (a DaemonSet's container must not exit).
fn wait_for_termination() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts");
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
}

fn restart(args: &InstallArgs) -> anyhow::Result<()> {
    match &args.restart_command {
        Some(cmd) => {
            println!("Restarting containerd: {cmd}");
            let status = std::process::Command::new("sh")
                .args(["-c", cmd])
                .status()
                .with_context(|| format!("running the restart command `{cmd}`"))?;
            if !status.success() {
                bail!("the restart command `{cmd}` failed ({status})");
            }
        }
        None => println!(
            "Restart containerd to apply this (e.g. `systemctl restart containerd`, or pass \
             --restart-command)."
        ),
    }
    Ok(())
}

const BEGIN: &str = "# BEGIN spindle runtime (added by `spindle node install`; \
                     `spindle node install --uninstall` removes it)";
const END: &str = "# END spindle runtime";
/// The end marker when the file did not end with a line break and one was added before the
/// block: uninstalling removes it too.
const END_AFTER_ADDED_BREAK: &str = "# END spindle runtime (and the line break before it)";

fn install(args: &InstallArgs) -> anyhow::Result<bool> {
    let mut changed = install_binary(&args.bin_dir)?;
    let config = &args.containerd_config;
    let text = read_config(config)?;
    let doc: toml::Table = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid TOML; nothing was changed",
            config.display()
        )
    })?;
    let table = runtime_table(&doc, &args.runtime_name);
    if has_table(&doc, &table) {
        println!(
            "{} already has the runtime `{}`",
            config.display(),
            args.runtime_name
        );
        return Ok(changed);
    }
    let mut new_text = text.clone();
    let end = if !new_text.is_empty() && !new_text.ends_with('\n') {
        new_text.push('\n');
        END_AFTER_ADDED_BREAK
    } else {
        END
    };
    let block = format!(
        "{BEGIN}\n[{}]\n  runtime_type = \"{RUNTIME_TYPE}\"\n{end}\n",
        table
            .iter()
            .map(|k| toml_key(k))
            .collect::<Vec<_>>()
            .join(".")
    );
    new_text.push_str(&block);
    if let Err(e) = toml::from_str::<toml::Table>(&new_text) {
        bail!(
            "adding the runtime to {} would make it invalid ({e}); nothing was changed (help: \
             add `[{}] runtime_type = \"{RUNTIME_TYPE}\"` by hand)",
            config.display(),
            table.join(".")
        );
    }
    let backup = backup_path(config);
    std::fs::write(&backup, &text)
        .with_context(|| format!("writing the backup {}", backup.display()))?;
    write_atomic(config, new_text.as_bytes())?;
    println!(
        "Added the runtime `{}` ({RUNTIME_TYPE}) to {} (backup: {})",
        args.runtime_name,
        config.display(),
        backup.display()
    );
    changed = true;
    Ok(changed)
}

fn uninstall(args: &InstallArgs) -> anyhow::Result<bool> {
    let mut changed = false;
    let config = &args.containerd_config;
    let text = read_config(config)?;
    if let Some(start) = text.find(BEGIN) {
        let rest = &text[start..];
        // The first end marker after the start; the longer one begins with the shorter.
        let (end, added_break) = rest
            .find(END)
            .map(|i| {
                let added = rest[i..].starts_with(END_AFTER_ADDED_BREAK);
                let len = if added {
                    END_AFTER_ADDED_BREAK.len()
                } else {
                    END.len()
                };
                (start + i + len, added)
            })
            .with_context(|| {
                format!(
                    "{} has the start of Spindle's block but not its end (`{END}`); nothing \
                     was changed",
                    config.display()
                )
            })?;
        let end = if text[end..].starts_with('\n') {
            end + 1
        } else {
            end
        };
        let start = if added_break && text[..start].ends_with('\n') {
            start - 1
        } else {
            start
        };
        let restored = format!("{}{}", &text[..start], &text[end..]);
        write_atomic(config, restored.as_bytes())?;
        println!("Removed the spindle runtime from {}", config.display());
        changed = true;
    }
    let binary = args.bin_dir.join(SHIM_BINARY);
    if binary.exists() {
        std::fs::remove_file(&binary).with_context(|| format!("removing {}", binary.display()))?;
        println!("Removed {}", binary.display());
        changed = true;
    }
    Ok(changed)
}

/// The table path of the runtime for this config's schema version: containerd 2.x (`version =
/// 3`), 1.x (`version = 2`), or the 1.x version-1 layout.
fn runtime_table(doc: &toml::Table, name: &str) -> Vec<String> {
    let plugin = match doc.get("version").and_then(toml::Value::as_integer) {
        Some(3) => "io.containerd.cri.v1.runtime",
        Some(2) => "io.containerd.grpc.v1.cri",
        _ => "cri",
    };
    ["plugins", plugin, "containerd", "runtimes", name]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn has_table(doc: &toml::Table, path: &[String]) -> bool {
    let mut current = doc;
    for key in path {
        match current.get(key).and_then(toml::Value::as_table) {
            Some(t) => current = t,
            None => return false,
        }
    }
    true
}

fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

fn read_config(config: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(config) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", config.display())),
    }
}

fn backup_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".spindle-backup");
    config.with_file_name(name)
}

/// Copies this executable to `dir/containerd-shim-spindle-v2` unless an identical file is there.
fn install_binary(dir: &Path) -> anyhow::Result<bool> {
    let me = std::env::current_exe().context("finding the spindle executable")?;
    let target = dir.join(SHIM_BINARY);
    if same_contents(&me, &target) {
        println!("{} is up to date", target.display());
        return Ok(false);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Streamed (copy_file_range), not read into memory: the binary is ~80 MB and the node
    // installer runs under a small memory limit.
    replace_via_temp(&target, |tmp| {
        std::fs::copy(&me, tmp)
            .with_context(|| format!("copying {} to {}", me.display(), tmp.display()))?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", tmp.display()))
    })?;
    println!("Installed {}", target.display());
    Ok(true)
}

/// Whether two files have the same bytes, compared in chunks (false when either is missing).
fn same_contents(a: &Path, b: &Path) -> bool {
    use std::io::Read as _;
    let (Ok(fa), Ok(fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    match (fa.metadata(), fb.metadata()) {
        (Ok(ma), Ok(mb)) if ma.len() == mb.len() => {}
        _ => return false,
    }
    let (mut ra, mut rb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = match ra.read(&mut ba) {
            Ok(0) => return true,
            Ok(n) => n,
            Err(_) => return false,
        };
        if rb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Replaces `path` with `bytes` through a temporary file beside it and a rename, keeping the
/// file's permissions.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    replace_via_temp(path, |tmp| {
        std::fs::write(tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        // Keep the original file's permissions.
        if let Ok(meta) = std::fs::metadata(path) {
            let _ = std::fs::set_permissions(tmp, meta.permissions());
        }
        Ok(())
    })
}

/// Replaces `path` atomically: `fill` writes the new file at a temporary path beside it, which
/// is then renamed over `path`.
fn replace_via_temp(
    path: &Path,
    fill: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.spindle-tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    fill(&tmp)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_table_follows_the_config_version() {
        let t = |text: &str| runtime_table(&toml::from_str(text).unwrap(), "spindle").join(".");
        assert_eq!(
            t("version = 3"),
            "plugins.io.containerd.cri.v1.runtime.containerd.runtimes.spindle"
        );
        assert_eq!(
            t("version = 2"),
            "plugins.io.containerd.grpc.v1.cri.containerd.runtimes.spindle"
        );
        assert_eq!(t(""), "plugins.cri.containerd.runtimes.spindle");
        assert_eq!(
            toml_key("io.containerd.grpc.v1.cri"),
            "\"io.containerd.grpc.v1.cri\""
        );
        assert_eq!(toml_key("runtimes"), "runtimes");
    }
}
