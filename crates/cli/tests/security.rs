//! Sandbox holes, tried with the exact attacks: `files` symlinks that lead out of the app
//! directory, and Host headers that smuggle a path past the router.

mod support;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use support::*;

fn probe_wasm() -> PathBuf {
    let wasm = example("multi/target/wasm32-wasip2/release/multi_probe.wasm");
    require_built(&wasm);
    wasm
}

/// An app in `dir` whose probe component maps `files` (a TOML array).
fn probe_app(dir: &Path, files: &str) -> PathBuf {
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"files\"\n\
             [[trigger.http]]\nroute = \"/probe/...\"\ncomponent = \"probe\"\n\
             [component.probe]\nsource = {:?}\nfiles = {files}\n",
            probe_wasm().to_str().unwrap()
        ),
    )
    .unwrap();
    manifest
}

fn up_fails(manifest: &Path, extra: &[&str]) -> String {
    let temp = tempfile::tempdir().unwrap();
    let mut args = vec!["up", "-f", manifest.to_str().unwrap(), "--listen"];
    let listen = format!("127.0.0.1:{}", free_port());
    args.push(&listen);
    args.extend_from_slice(extra);
    let temp_arg = temp.path().to_str().unwrap().to_string();
    if extra.contains(&"--temp") {
        args.push(&temp_arg);
    }
    let (code, out, err) = run_spindle(&args, manifest.parent().unwrap());
    assert_eq!(code, 2, "spindle up should refuse the app\n{out}\n{err}");
    err
}

#[test]
fn files_symlinks_out_of_the_app_directory_are_refused_whatever_the_staging() {
    let staging = [
        &[][..],
        &["--allow-transient-write"][..],
        &["--temp"][..],
        &["--allow-transient-write", "--temp"][..],
    ];
    // A directory symlink inside a mapped directory.
    let app = tempfile::tempdir().unwrap();
    std::fs::create_dir(app.path().join("data")).unwrap();
    std::fs::write(app.path().join("data/ok.txt"), "ok").unwrap();
    symlink("/etc", app.path().join("data/etc-dir")).unwrap();
    let manifest = probe_app(
        app.path(),
        r#"[{ source = "data", destination = "/data" }]"#,
    );
    for extra in staging {
        let err = up_fails(&manifest, extra);
        assert!(err.contains("spin.toml:"), "no location: {err}");
        assert!(err.contains("etc-dir"), "{err}");
        assert!(err.contains("resolves to `/etc`"), "{err}");
        assert!(err.contains("outside the application directory"), "{err}");
    }
    // A file symlink, mapped by a pattern and by a placement.
    let app = tempfile::tempdir().unwrap();
    std::fs::create_dir(app.path().join("data")).unwrap();
    symlink("/etc/passwd", app.path().join("data/passwd")).unwrap();
    for files in [
        r#"["data/passwd"]"#,
        r#"["data/*"]"#,
        r#"["data"]"#,
        r#"[{ source = "data/passwd", destination = "/passwd" }]"#,
    ] {
        let manifest = probe_app(app.path(), files);
        for extra in staging {
            let err = up_fails(&manifest, extra);
            assert!(err.contains("resolves to `/etc/passwd`"), "{files}: {err}");
        }
    }
    // The mapped directory itself is a symlink out.
    let app = tempfile::tempdir().unwrap();
    symlink("/etc", app.path().join("data")).unwrap();
    let manifest = probe_app(
        app.path(),
        r#"[{ source = "data", destination = "/data" }]"#,
    );
    assert!(up_fails(&manifest, &[]).contains("resolves to `/etc`"));
}

#[test]
fn placement_sources_outside_the_app_directory_are_refused() {
    let app = tempfile::tempdir().unwrap();
    for source in ["..", "../outside", "/etc", "data/../../x"] {
        let manifest = probe_app(
            app.path(),
            &format!("[{{ source = {source:?}, destination = \"/d\" }}]"),
        );
        let err = up_fails(&manifest, &[]);
        assert!(
            err.contains(&format!(
                "files source `{source}` in [component.probe] is outside the application directory"
            )),
            "{source}: {err}"
        );
    }
}

#[test]
fn symlinks_inside_the_app_directory_still_work() {
    let app = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(app.path().join("data/real")).unwrap();
    std::fs::write(app.path().join("data/real/note.txt"), "inside").unwrap();
    std::fs::write(app.path().join("shared.txt"), "shared").unwrap();
    symlink("real", app.path().join("data/alias")).unwrap();
    symlink("../shared.txt", app.path().join("data/shared.txt")).unwrap();
    let manifest = probe_app(
        app.path(),
        r#"[{ source = "data", destination = "/data" }]"#,
    );
    for extra in [&[][..], &["--allow-transient-write"][..]] {
        let s = Spindle::start(&manifest, extra);
        for (path, want) in [
            ("/data/alias/note.txt", "inside"),
            ("/data/real/note.txt", "inside"),
            ("/data/shared.txt", "shared"),
        ] {
            let r = s.get(&format!("/probe/file?path={path}"));
            assert_eq!((r.status, r.text().as_str()), (200, want), "{path}");
        }
    }
}

#[test]
fn invalid_missing_or_repeated_host_is_400_and_the_guest_uri_is_the_routed_path() {
    let multi = example("multi/spin.toml");
    require_built(&example(
        "multi/target/wasm32-wasip2/release/multi_api.wasm",
    ));
    let s = Spindle::start(&multi, &[]);
    // The attack: a Host that carries a path and a query.
    let (status, response) = raw_request(s.port, "GET /echo/public HTTP/1.1\r\nHost: a/admin?x=1#");
    assert_eq!(status, 400, "{response}");
    assert!(!response.contains("/admin"), "{response}");
    for head in [
        "GET /echo/public HTTP/1.1\r\nHost: user@a",
        "GET /echo/public HTTP/1.1\r\nHost: a:80x",
        "GET /echo/public HTTP/1.1",
        "GET /echo/public HTTP/1.1\r\nHost: a\r\nHost: b",
        "GET http://a/echo/public HTTP/1.1\r\nHost: a/admin",
    ] {
        let (status, response) = raw_request(s.port, head);
        assert_eq!(status, 400, "{head:?}: {response}");
    }
    // Valid requests are served, with the guest's URI built from the routed path.
    let (status, response) = raw_request(s.port, "GET /echo/public HTTP/1.1\r\nHost: a:8080");
    assert_eq!(status, 200, "{response}");
    assert!(
        response.contains(r#""uri": "http://a:8080/echo/public""#),
        "{response}"
    );
    // HTTP/1.0 may leave Host out.
    let (status, response) = raw_request(s.port, "GET /echo/public HTTP/1.0");
    assert_eq!(status, 200, "{response}");
    assert!(
        response.contains(r#""uri": "http://localhost/echo/public""#),
        "{response}"
    );
}

#[test]
fn direct_mounts_show_host_changes_stay_read_only_and_inside_the_app() {
    let app = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(app.path().join("data/sub")).unwrap();
    std::fs::write(app.path().join("data/sub/note.txt"), "first").unwrap();
    let manifest = probe_app(
        app.path(),
        r#"[{ source = "data", destination = "/data" }]"#,
    );
    let s = Spindle::start(&manifest, &["--direct-mounts"]);
    let read = |s: &Spindle| s.get("/probe/file?path=/data/sub/note.txt");
    assert_eq!(read(&s).text(), "first");
    // A change on the host shows at once, without a restart (nothing was copied).
    std::fs::write(app.path().join("data/sub/note.txt"), "second").unwrap();
    assert_eq!(read(&s).text(), "second");
    std::fs::write(app.path().join("data/new.txt"), "new").unwrap();
    assert_eq!(s.get("/probe/file?path=/data/new.txt").text(), "new");
    // Read-only by default.
    let r = s.get("/probe/write?path=/data/sub/note.txt&data=guest");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        std::fs::read_to_string(app.path().join("data/sub/note.txt")).unwrap(),
        "second"
    );
    // A symlink inside the mount that leads out of it is not followed by the guest.
    symlink("/etc", app.path().join("data/etc-link")).unwrap();
    let r = s.get("/probe/file?path=/data/etc-link/passwd");
    assert_ne!(r.status, 200, "{}", r.text());
    s.stop();
    std::fs::remove_file(app.path().join("data/etc-link")).unwrap();

    // A directory mounted at the guest's root.
    let root = probe_app(app.path(), r#"[{ source = "data", destination = "/" }]"#);
    let s = Spindle::start(&root, &["--direct-mounts"]);
    assert_eq!(s.get("/probe/file?path=/sub/note.txt").text(), "second");
    s.stop();

    // Only directories can be mounted directly, and not with exclude_files.
    std::fs::write(app.path().join("single.txt"), "x").unwrap();
    let manifest = probe_app(app.path(), r#"["single.txt"]"#);
    let err = direct_mounts_refused(&manifest);
    assert!(
        err.contains("only directory mounts are supported with --direct-mounts; `single.txt`"),
        "{err}"
    );
    let manifest = probe_app(
        app.path(),
        r#"[{ source = "data", destination = "/data" }]"#,
    );
    let text = std::fs::read_to_string(&manifest).unwrap() + "exclude_files = [\"**/*.tmp\"]\n";
    std::fs::write(&manifest, text).unwrap();
    let err = direct_mounts_refused(&manifest);
    assert!(err.contains("uses `exclude_files`"), "{err}");
    // A mapped directory that is a link out of the app is refused.
    symlink("/etc", app.path().join("outside")).unwrap();
    let manifest = probe_app(
        app.path(),
        r#"[{ source = "outside", destination = "/o" }]"#,
    );
    let err = direct_mounts_refused(&manifest);
    assert!(err.contains("outside the application directory"), "{err}");
}

fn direct_mounts_refused(manifest: &Path) -> String {
    let (code, out, err) = run_spindle(
        &[
            "up",
            "-f",
            manifest.to_str().unwrap(),
            "--direct-mounts",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        manifest.parent().unwrap(),
    );
    assert_ne!(code, 0, "spindle up should refuse the app\n{out}\n{err}");
    err
}
