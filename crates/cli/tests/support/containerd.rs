//! A real containerd 1.7 for tests (Debian trixie's, unpacked by `.ci/install-containerd.sh`),
//! run as root with its state, sockets and shims under a temp dir, stopped by PID. The Spindle
//! shim is put on its PATH by `spindle node install`, as a user would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::spindle_cmd;

/// Where `.ci/install-containerd.sh` unpacks containerd.
pub fn containerd_root() -> PathBuf {
    std::env::var_os("SPINDLE_CONTAINERD_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/spindle-ci/containerd"))
}

pub struct Containerd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Containerd {
    /// Starts containerd with the Spindle shim installed (`spindle node install`).
    pub fn start() -> Containerd {
        let bin = containerd_root().join("usr/bin");
        assert!(
            bin.join("containerd").is_file(),
            "{} has no containerd: run `bash .ci/install-containerd.sh` first",
            bin.display()
        );
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "the containerd tests run containerd, which needs root"
        );
        let dir = tempfile::Builder::new()
            .prefix("spindle-containerd-")
            .tempdir()
            .unwrap();
        let root = dir.path();
        let socket = root.join("containerd.sock");
        let config = root.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "# containerd for one Spindle test\nversion = 2\nroot = \"{r}/root\"\n\
                 state = \"{r}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\n[grpc]\n  \
                 address = \"{s}\"\n\n[ttrpc]\n  address = \"\"\n\n[debug]\n  level = \"info\"\n",
                r = root.display(),
                s = socket.display()
            ),
        )
        .unwrap();
        let shims = root.join("shims");
        let out = spindle_cmd()
            .args(["node", "install", "--containerd-config"])
            .arg(&config)
            .arg("--bin-dir")
            .arg(&shims)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spindle node install: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::File::create(root.join("containerd.log")).unwrap();
        let path = format!(
            "{}:{}:{}",
            shims.display(),
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(bin.join("containerd"))
            .arg("--config")
            .arg(&config)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting containerd");
        let mut c = Containerd { child, dir, socket };
        let start = Instant::now();
        loop {
            if let Some(status) = c.child.try_wait().unwrap() {
                panic!("containerd exited with {status}:\n{}", c.log());
            }
            if c.ctr(&["version"]).status.success() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd did not answer within 30 s:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    /// Runs `ctr` against this containerd.
    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new(containerd_root().join("usr/bin/ctr"))
            .arg("--address")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running ctr")
    }

    /// `ctr ...`, which must succeed; its stdout.
    pub fn ctr_ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {}: {}\n{}\ncontainerd log:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Pulls `image` from a plain-HTTP registry.
    pub fn pull(&self, image: &str) {
        self.ctr_ok(&["image", "pull", "--plain-http", image]);
    }

    /// Starts a container of `image` with the Spindle runtime on the host network, as `ctr run
    /// --rm` in the background (runwasi takes the container's stdio from ctr's FIFOs); the
    /// container's stdout and stderr go to [`Task::output`].
    pub fn run(&self, image: &str, id: &str, env: &[(&str, &str)]) -> Task {
        let log = self.dir.path().join(format!("{id}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(containerd_root().join("usr/bin/ctr"));
        cmd.arg("--address").arg(&self.socket).args([
            "run",
            "--rm",
            "--net-host",
            "--runtime",
            "io.containerd.spindle.v2",
        ]);
        for (k, v) in env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        let child = cmd
            .arg(image)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("running ctr run");
        Task { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// Kills and deletes every task and container (the shims exit with them).
    pub fn clean_up(&self) {
        let tasks = self.ctr(&["task", "ls", "-q"]);
        for id in String::from_utf8_lossy(&tasks.stdout).lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
        }
        let containers = self.ctr(&["container", "ls", "-q"]);
        for id in String::from_utf8_lossy(&containers.stdout).lines() {
            for _ in 0..50 {
                if self.ctr(&["task", "delete", "-f", id]).status.success()
                    || !self
                        .ctr(&["task", "ls", "-q"])
                        .stdout
                        .windows(id.len())
                        .any(|w| w == id.as_bytes())
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.ctr(&["container", "delete", id]);
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.clean_up();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Mounts of containers that were not cleaned up would keep the directory busy.
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path().join("state"))
            .stderr(Stdio::null())
            .status();
    }
}

/// A container started by [`Containerd::run`]: the `ctr run` process attached to it.
pub struct Task {
    child: Child,
    log: PathBuf,
}

impl Task {
    /// What the container wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        read(&self.log)
    }

    /// The container's exit code once it has stopped (`ctr run` exits with it), or None if it
    /// is still running after `limit` (then it is killed).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a file that another process is still writing.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
