//! Link-time settings for the `spindle` binary.

fn main() {
    // Pack the ~90,000 relative relocations of this position-independent binary as DT_RELR
    // (glibc 2.36+, binutils 2.38+): the dynamic loader reads a ~30 KB bitmap instead of a
    // 2 MB RELA table at every start, which is both start-up time and resident memory.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("-linux-gnu") && std::env::var_os("SPINDLE_NO_RELR").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-env-changed=SPINDLE_NO_RELR");
}
