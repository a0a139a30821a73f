fn main() {
    // The guest build links against Debian's wasi-libc with `-C link-self-contained=no`, so
    // rustc no longer adds wasi-libc's crt1-command.o (which defines `_start`): add it here.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("wasi") {
        println!("cargo:rustc-link-arg-bins=/usr/lib/wasm32-wasi/crt1-command.o");
    }
}
