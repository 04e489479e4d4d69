//! Build script: rebuild when migrations change (`sqlx::migrate!` embeds them at compile time),
//! and set `cfg(shared_data)` when pysystemtrade's shared data set and golden files are there
//! (`SYSTRADE_TEST_DATA`, else `../shared/data/pysystemtrade` next to the crate) or when
//! `CI=true` (where missing data must fail, not be skipped). Tests that need the shared data
//! carry `#[cfg_attr(not(shared_data), ignore = "...")]`: on a clone without it they show as
//! ignored, never as `ok`. The same for the ib_async client test and `cfg(ib_async)`, the
//! browser test of the HTML reports and `cfg(chromium)`, and the e-mail tests and
//! `cfg(aiosmtpd)` (the venv `scripts/install-aiosmtpd.sh` makes).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rustc-check-cfg=cfg(shared_data)");
    println!("cargo:rerun-if-env-changed=SYSTRADE_TEST_DATA");
    println!("cargo:rerun-if-env-changed=CI");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let data = std::env::var_os("SYSTRADE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../shared/data/pysystemtrade"));
    let golden = data.join("../../golden/backtest");
    let present = data.join("csvconfig").is_dir() && golden.join("timeseries").is_dir();
    if present {
        // Seen again if it goes away (a missing path would rerun this script on every build).
        println!(
            "cargo:rerun-if-changed={}",
            data.join("csvconfig").display()
        );
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if present || ci {
        println!("cargo:rustc-cfg=shared_data");
    }
    // The ib_async client test needs the venv `scripts/install-ib-async.sh` makes.
    println!("cargo:rustc-check-cfg=cfg(ib_async)");
    println!("cargo:rerun-if-env-changed=SYSTRADE_IB_ASYNC_VENV");
    let venv = std::env::var_os("SYSTRADE_IB_ASYNC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/systrade-ib-async-venv")
        });
    let python = venv.join("bin/python");
    if python.exists() {
        println!("cargo:rerun-if-changed={}", python.display());
    }
    if python.exists() || ci {
        println!("cargo:rustc-cfg=ib_async");
    }
    // The HTML reports' browser test needs Chromium (`scripts/install-chromium.sh`).
    println!("cargo:rustc-check-cfg=cfg(chromium)");
    println!("cargo:rerun-if-env-changed=SYSTRADE_CHROMIUM");
    let chromium = std::env::var_os("SYSTRADE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if chromium.exists() {
        println!("cargo:rerun-if-changed={}", chromium.display());
    }
    if chromium.exists() || ci {
        println!("cargo:rustc-cfg=chromium");
    }
    // The e-mail tests' SMTP server needs the venv `scripts/install-aiosmtpd.sh` makes.
    println!("cargo:rustc-check-cfg=cfg(aiosmtpd)");
    println!("cargo:rerun-if-env-changed=SYSTRADE_AIOSMTPD_VENV");
    let venv = std::env::var_os("SYSTRADE_AIOSMTPD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/systrade-aiosmtpd-venv")
        });
    let python = venv.join("bin/python");
    if python.exists() {
        println!("cargo:rerun-if-changed={}", python.display());
    }
    if python.exists() || ci {
        println!("cargo:rustc-cfg=aiosmtpd");
    }
}
