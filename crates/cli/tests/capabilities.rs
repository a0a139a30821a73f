//! Spin host capabilities end to end: real Spin SDK guests (Rust spin-sdk 5.2, Python spin-sdk
//! 3.4.1) using key-value, SQLite, variables and outbound Redis through the real `spindle`
//! binary, with real backends (SQLite files, a Debian `redis-server` started here).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

fn caps_app() -> PathBuf {
    require_built(&example(
        "capabilities/target/wasm32-wasip2/release/capabilities.wasm",
    ));
    example("capabilities/spin.toml")
}

/// Starts the capabilities app with its own state directory.
fn start(state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Spindle {
    let state_arg = state.to_str().unwrap().to_string();
    let mut args = vec!["--state-dir", state_arg.as_str()];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "SPIN_VARIABLE_API_TOKEN") {
        env.push(("SPIN_VARIABLE_API_TOKEN", "t0ken"));
    }
    Spindle::start_with_env(&caps_app(), &args, &env)
}

fn put(s: &Spindle, path: &str, body: &str) -> Reply {
    request(s.port, "PUT", path, &[], body.as_bytes()).unwrap()
}

#[test]
fn key_value_operations_and_persistence_across_restart() {
    let state = tempfile::tempdir().unwrap();
    {
        let s = start(state.path(), &[], &[]);
        assert_eq!(s.get("/caps/kv/default/fruit").status, 404);
        let r = put(&s, "/caps/kv/default/fruit", "apple");
        assert_eq!(r.status, 200, "{}", r.text());
        put(&s, "/caps/kv/default/veg", "leek");
        assert_eq!(s.get("/caps/kv/default/fruit").text(), "apple");
        assert_eq!(s.get("/caps/kv-exists/default/fruit").text(), "true");
        assert_eq!(s.get("/caps/kv-exists/default/nope").text(), "false");
        assert_eq!(
            s.get("/caps/kv-keys/default").json(),
            serde_json::json!(["fruit", "veg"])
        );
        let r = request(s.port, "DELETE", "/caps/kv/default/veg", &[], b"").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(s.get("/caps/kv-exists/default/veg").text(), "false");
    }
    // Spin's file name, in the state directory.
    assert!(state.path().join("sqlite_key_value.db").exists());
    let s = start(state.path(), &[], &[]);
    assert_eq!(s.get("/caps/kv/default/fruit").text(), "apple");
    assert_eq!(
        s.get("/caps/kv-keys/default").json(),
        serde_json::json!(["fruit"])
    );
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn state_dir_owns_all_state_and_nothing_is_written_next_to_the_manifest() {
    let app = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(caps_app()).unwrap().replace(
        "source = \"target/",
        &format!("source = \"{}/target/", example("capabilities").display()),
    );
    std::fs::write(app.path().join("spin.toml"), manifest).unwrap();
    let state = tempfile::tempdir().unwrap();
    let s = Spindle::start_default_logs(
        &app.path().join("spin.toml"),
        &["--state-dir", state.path().to_str().unwrap()],
        &[("SPIN_VARIABLE_API_TOKEN", "t0ken")],
    );
    assert_eq!(put(&s, "/caps/kv/default/fruit", "apple").status, 200);
    let r = request(s.port, "POST", "/caps/sql/default", &[], b"SELECT 1").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.get("/caps/kv/default/fruit").text(), "apple");
    let logs = state.path().join("logs");
    assert!(
        s.stdout().contains(&logs.display().to_string()),
        "{}",
        s.stdout()
    );
    assert!(s.stop());
    assert_eq!(
        tree(app.path()),
        ["spin.toml"],
        "written next to the manifest"
    );
    let state_tree = tree(state.path());
    for want in ["logs", "sqlite_key_value.db", "sqlite_db.db"] {
        assert!(
            state_tree.iter().any(|p| p == want),
            "{want}: {state_tree:?}"
        );
    }
    assert!(
        state_tree.iter().any(|p| p.starts_with("logs/caps_")),
        "{state_tree:?}"
    );
}

#[test]
fn runtime_config_log_dir_is_used_and_unimplemented_sections_are_refused() {
    let state = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("runtime-config.toml");
    std::fs::write(
        &config,
        "log_dir = \"mylogs\"\nmax_instance_memory = 67108864\n",
    )
    .unwrap();
    let s = Spindle::start_default_logs(
        &caps_app(),
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "--runtime-config-file",
            config.to_str().unwrap(),
        ],
        &[("SPIN_VARIABLE_API_TOKEN", "t0ken")],
    );
    assert_eq!(s.get("/caps/var/message").status, 200, "{}", s.stderr());
    assert!(config_dir.path().join("mylogs/caps_stdout.txt").exists());
    assert!(!state.path().join("logs").exists());
    drop(s);

    std::fs::write(&config, "[llm_compute]\ntype = \"spin\"\n").unwrap();
    let (code, _, err) = run_spindle(
        &[
            "up",
            "-f",
            caps_app().to_str().unwrap(),
            "--runtime-config-file",
            config.to_str().unwrap(),
        ],
        state.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`llm_compute` (line 1)"), "{err}");
    assert!(err.contains("does not implement"), "{err}");
}

#[test]
fn undeclared_store_and_database_are_denied() {
    let state = tempfile::tempdir().unwrap();
    let s = start(state.path(), &[], &[]);
    // `denied` is the same code with no grants.
    let r = s.get("/denied/kv/default/x");
    assert_eq!((r.status, r.text().as_str()), (403, "AccessDenied"));
    let r = request(s.port, "POST", "/denied/sql/default", &[], b"SELECT 1").unwrap();
    assert_eq!((r.status, r.text().as_str()), (403, "AccessDenied"));
    // `caps` declared only `default`.
    let r = s.get("/caps/kv/other/x");
    assert_eq!(r.status, 403, "{}", r.text());
}

#[test]
fn sqlite_statements_and_startup_sql() {
    let state = tempfile::tempdir().unwrap();
    let s = start(
        state.path(),
        &[
            "--sqlite",
            "CREATE TABLE pets (name TEXT, age INTEGER)",
            "--sqlite",
            "INSERT INTO pets VALUES ('rex', 3), ('tom', 5)",
        ],
        &[],
    );
    let r = request(
        s.port,
        "POST",
        "/caps/sql/default",
        &[],
        b"SELECT name, age, age * 1.5 AS f, NULL AS n FROM pets ORDER BY name",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({
            "columns": ["name", "age", "f", "n"],
            "rows": [["rex", 3, 4.5, null], ["tom", 5, 7.5, null]]
        })
    );
    let r = request(
        s.port,
        "POST",
        "/caps/sql/default",
        &[],
        b"SELECT * FROM nope",
    )
    .unwrap();
    assert_eq!(r.status, 500);
    assert!(r.text().contains("no such table"), "{}", r.text());
    assert!(state.path().join("sqlite_db.db").exists());
}

#[test]
fn variables_from_each_provider() {
    let state = tempfile::tempdir().unwrap();
    // Default and the environment provider.
    let s = start(
        state.path(),
        &[],
        &[("SPIN_VARIABLE_API_TOKEN", "from-env")],
    );
    assert_eq!(s.get("/caps/var/message").text(), "hello, world");
    assert_eq!(s.get("/caps/var/token").text(), "from-env");
    // A name the component did not declare, and one that is not a valid name.
    assert_eq!(s.get("/caps/var/greeting").status, 404);
    assert!(s.get("/caps/var/Bad-Name").text().contains("InvalidName"));
    // The other component has no variables at all.
    assert_eq!(s.get("/denied/var/message").status, 404);
    drop(s);

    // --variable beats the environment.
    let s = start(
        state.path(),
        &[
            "--variable",
            "greeting=hi",
            "--variable",
            "api_token=from-flag",
        ],
        &[("SPIN_VARIABLE_API_TOKEN", "from-env")],
    );
    assert_eq!(s.get("/caps/var/message").text(), "hi, world");
    assert_eq!(s.get("/caps/var/token").text(), "from-flag");
    drop(s);

    // A runtime-config static provider.
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("runtime-config.toml");
    std::fs::write(
        &rc,
        "[[variables_provider]]\ntype = \"static\"\nvalues = { greeting = \"hey\", api_token = \"from-config\" }\n",
    )
    .unwrap();
    let s = start(
        state.path(),
        &["--runtime-config-file", rc.to_str().unwrap()],
        &[],
    );
    assert_eq!(s.get("/caps/var/message").text(), "hey, world");
    assert_eq!(s.get("/caps/var/token").text(), "from-config");
}

#[test]
fn missing_required_variable_fails_start_with_its_name() {
    let manifest = caps_app();
    let dir = tempfile::tempdir().unwrap();
    let (code, _out, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`api_token`"), "{err}");
    assert!(err.contains("SPIN_VARIABLE_API_TOKEN"), "{err}");
}

#[test]
fn runtime_config_named_store_and_unknown_label() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("rc.toml");
    std::fs::write(
        &rc,
        "[key_value_store.default]\ntype = \"spin\"\npath = \"custom/kv.db\"\n",
    )
    .unwrap();
    let s = start(
        state.path(),
        &[
            "--runtime-config-file",
            rc.to_str().unwrap(),
            "--key-value",
            "preset=yes",
        ],
        &[],
    );
    assert_eq!(s.get("/caps/kv/default/preset").text(), "yes");
    assert!(dir.path().join("custom/kv.db").exists());
    drop(s);

    // An app asking for a store nobody defined does not start.
    let app = tempfile::tempdir().unwrap();
    std::fs::copy(
        example("capabilities/target/wasm32-wasip2/release/capabilities.wasm"),
        app.path().join("c.wasm"),
    )
    .unwrap();
    std::fs::write(
        app.path().join("spin.toml"),
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n[component.c]\nsource = \"c.wasm\"\nkey_value_stores = [\"ghost\"]\n",
    )
    .unwrap();
    let (code, _, err) = run_spindle(
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        app.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("key-value store `ghost`"), "{err}");
    assert!(err.contains("component `c`"), "{err}");
}

struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.path().to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (.ci/install-services.sh)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return RedisServer {
                    child,
                    port,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn outbound_redis_allowed_and_denied_and_redis_backed_store() {
    let redis = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let port = redis.port.to_string();
    let s = start(
        state.path(),
        &["--variable", &format!("redis_port={port}")],
        &[],
    );
    let addr = format!("redis://127.0.0.1:{port}");
    let r = s.get(&format!("/caps/redis?addr={addr}&key=k1&value=v1"));
    assert_eq!((r.status, r.text().as_str()), (200, "v1"), "{}", s.stderr());
    // Not in allowed_outbound_hosts.
    let r = s.get(&format!("/denied/redis?addr={addr}&key=k1&value=v1"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(s.wait_for_output(&format!("help: add \"redis://127.0.0.1:{port}\"")));
    drop(s);

    // A key-value store backed by that Redis server.
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("rc.toml");
    std::fs::write(
        &rc,
        format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{addr}\"\n"),
    )
    .unwrap();
    let s = start(
        state.path(),
        &["--runtime-config-file", rc.to_str().unwrap()],
        &[],
    );
    put(&s, "/caps/kv/default/color", "blue");
    assert_eq!(s.get("/caps/kv/default/color").text(), "blue");
    // The value really is in Redis.
    let r = s.get(&format!("/caps/redis?addr={addr}&key=probe&value=1"));
    assert_eq!(
        r.status, 403,
        "redis_port defaults to 6379, so this address is not allowed"
    );
    let out = Command::new("redis-cli")
        .args(["-p", &port, "GET", "color"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "blue");
}

#[test]
fn python_spin_sdk_key_value_and_variables() {
    require_built(&example("hello-python/app.wasm"));
    let state = tempfile::tempdir().unwrap();
    let s = Spindle::start(
        &example("hello-python/spin.toml"),
        &["--state-dir", state.path().to_str().unwrap()],
    );
    let r = put(&s, "/kv/lang", "python");
    assert_eq!(r.status, 200, "{} {}", r.text(), s.stderr());
    assert_eq!(s.get("/kv/lang").text(), "python");
    assert_eq!(s.get("/kv/none").status, 404);
    assert_eq!(s.get("/var/greeting").text(), "hello from python");
    assert!(
        s.get("/var/nope").text().contains("Undefined"),
        "{}",
        s.get("/var/nope").text()
    );
}

#[test]
fn python_spin_sdk_5_wasip3_key_value_and_variables() {
    require_built(&example("hello-python-p3/app.wasm"));
    let state = tempfile::tempdir().unwrap();
    let s = Spindle::start(
        &example("hello-python-p3/spin.toml"),
        &["--state-dir", state.path().to_str().unwrap()],
    );
    let r = s.get("/");
    assert_eq!(r.status, 200, "{}", s.stderr());
    assert!(r.text().contains("spin-sdk 5, WASIp3"), "{}", r.text());
    let r = put(&s, "/kv/lang", "python5");
    assert_eq!(r.status, 200, "{} {}", r.text(), s.stderr());
    assert_eq!(s.get("/kv/lang").text(), "python5");
    assert_eq!(s.get("/kv/none").status, 404);
    assert_eq!(s.get("/var/greeting").text(), "hello from python 5");
    let r = s.get("/var/nope");
    assert!(r.text().contains("Undefined"), "{}", r.text());
}

#[test]
fn rust_spin_sdk_7_wasip3_key_value_sqlite_and_variables() {
    let wasm = example("capabilities-p3/target/wasm32-wasip2/release/capabilities_p3.wasm");
    require_built(&wasm);
    let state = tempfile::tempdir().unwrap();
    let s = Spindle::start(
        &example("capabilities-p3/spin.toml"),
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "--sqlite",
            "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')",
        ],
    );
    let r = put(&s, "/kv/b", "2");
    assert_eq!(r.status, 200, "{} {}", r.text(), s.stderr());
    put(&s, "/kv/a", "1");
    assert_eq!(s.get("/kv/b").text(), "2");
    assert_eq!(s.get("/kv/zzz").status, 404);
    assert_eq!(s.get("/kv-keys").text(), "a\nb");
    let r = request(
        s.port,
        "POST",
        "/sql",
        &[],
        b"SELECT a, b FROM t ORDER BY a",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{} {}", r.text(), s.stderr());
    assert_eq!(r.text(), "a|b\n1|one\n2|two");
    assert_eq!(s.get("/var/flavour").text(), "spin-sdk 7 (p3)");
    assert!(s.get("/var/nope").text().contains("Undefined"));
}

#[test]
fn unsupported_interfaces_return_their_own_error_values() {
    // spin:mqtt@3.0.0 and spin:postgres@4.x are not backed: the guest gets the interface's error
    // value saying so, never a trap, and the server keeps serving.
    let wasm = example("capabilities-p3/target/wasm32-wasip2/release/capabilities_p3.wasm");
    require_built(&wasm);
    let state = tempfile::tempdir().unwrap();
    let s = Spindle::start(
        &example("capabilities-p3/spin.toml"),
        &["--state-dir", state.path().to_str().unwrap()],
    );
    for (what, interface) in [
        ("mqtt", "spin:mqtt/mqtt@3.0.0"),
        ("pg", "spin:postgres/postgres@4"),
    ] {
        let r = s.get(&format!("/unsupported/{what}"));
        assert_eq!(r.status, 502, "{what}: {} {}", r.text(), s.stderr());
        assert!(
            r.text().contains("not supported by this host"),
            "{what}: {}",
            r.text()
        );
        assert!(r.text().contains(interface), "{what}: {}", r.text());
    }
    assert_eq!(s.get("/kv/none").status, 404);
}

#[test]
fn wasip3_redis_against_a_real_server() {
    // spin:redis/redis@3.0.0 from a Rust spin-sdk 7 guest, every call, against redis-server.
    let wasm = example("capabilities-p3/target/wasm32-wasip2/release/capabilities_p3.wasm");
    require_built(&wasm);
    let redis = RedisServer::start();
    let port = redis.port.to_string();
    let state = tempfile::tempdir().unwrap();
    let s = Spindle::start(
        &example("capabilities-p3/spin.toml"),
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "--variable",
            &format!("redis_port={port}"),
        ],
    );
    let r = s.get(&format!("/redis/{port}/k3/v3"));
    assert_eq!(r.status, 200, "{} {}", r.text(), s.stderr());
    assert_eq!(
        r.text(),
        "get v3\nmissing None\nincr 1\nincr 2\nincr-text Some(Error::TypeError)\nsadd 3\nsrem 1\n\
         smembers a,c\nexecute [RedisResult::Int64(3)]\nstrlen 3\ndel 3\n"
    );
    // The keys were really written (and deleted) on the server.
    let out = Command::new("redis-cli")
        .args(["-p", &port, "EXISTS", "k3"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    // Another port is not in allowed_outbound_hosts: invalid-address, and the log says which
    // entry would allow it.
    let other = free_port();
    let r = s.get(&format!("/redis/{other}/k/v"));
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.text(), "Error::InvalidAddress");
    assert!(s.wait_for_output(&format!("help: add \"redis://127.0.0.1:{other}\"")));
}

#[test]
fn javascript_app_uses_key_value_and_variables() {
    // A JavaScript guest (j2w / ComponentizeJS) that imports fermyon:spin/key-value@2.0.0 and
    // fermyon:spin/variables@2.0.0 directly as WIT imports.
    require_built(&example("capabilities-js/dist/app.wasm"));
    let manifest = example("capabilities-js/spin.toml");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    {
        let s = Spindle::start(
            &manifest,
            &["--state-dir", state_arg, "--variable", "secret_word=xyzzy"],
        );
        let r = s.get("/kv/fruit");
        assert_eq!((r.status, r.text().as_str()), (404, "no value for fruit"));
        let r = put(&s, "/kv/fruit", "apple");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "stored"),
            "{}",
            s.stderr()
        );
        put(&s, "/kv/veg", "leek");
        let r = s.get("/kv/fruit");
        assert_eq!((r.status, r.text().as_str()), (200, "apple"));
        assert_eq!(s.get("/kv-keys").text(), "fruit\nveg");
        let r = request(s.port, "DELETE", "/kv/veg", &[], b"").unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "deleted"));
        assert_eq!(s.get("/kv/veg").status, 404);
        assert_eq!(s.get("/kv-keys").text(), "fruit");
        // `default` is declared in key_value_stores, `other` is not.
        let r = s.get("/kv-other");
        assert_eq!((r.status, r.text().as_str()), (403, "access-denied"));
        // A variable from its default, one from --variable, and an undeclared one.
        let r = s.get("/var/greeting");
        assert_eq!((r.status, r.text().as_str()), (200, "hello from js"));
        let r = s.get("/var/secret");
        assert_eq!((r.status, r.text().as_str()), (200, "xyzzy"));
        let r = s.get("/var/nope");
        assert_eq!(
            (r.status, r.text().as_str()),
            (404, "undefined: no variable named `nope`")
        );
    }
    assert!(state.path().join("sqlite_key_value.db").exists());

    // Same state directory: the value is still there; --variable also overrides a default.
    let s = Spindle::start(
        &manifest,
        &[
            "--state-dir",
            state_arg,
            "--variable",
            "secret_word=plugh",
            "--variable",
            "greeting=hi",
        ],
    );
    let r = s.get("/kv/fruit");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "apple"),
        "{}",
        s.stderr()
    );
    assert_eq!(s.get("/kv-keys").text(), "fruit");
    assert_eq!(s.get("/var/greeting").text(), "hi");
    assert_eq!(s.get("/var/secret").text(), "plugh");
    drop(s);

    // `secret_word` is required and has no default.
    let (code, _out, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state_arg,
        ],
        state.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`secret_word`"), "{err}");
}
