//! Helpers shared by the unit and integration tests (hidden from the documentation).

use std::path::{Path, PathBuf};

/// Where the shared pysystemtrade data set is: `SYSTRADE_TEST_DATA`, else
/// `../shared/data/pysystemtrade` next to the crate. `None` (after a "skipping" message) when
/// absent, except under `CI=true`, where a missing data set fails the test.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SYSTRADE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pysystemtrade")
        });
    if dir.join("csvconfig").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "pysystemtrade test data not found at {} (set SYSTRADE_TEST_DATA)",
            dir.display()
        );
    }
    eprintln!(
        "skipping: pysystemtrade test data not found at {} (set SYSTRADE_TEST_DATA)",
        dir.display()
    );
    None
}

/// Where pysystemtrade's chapter-15 reference outputs are: `golden/backtest` two levels above
/// the shared data set (`SYSTRADE_TEST_DATA/../../golden/backtest`, by default
/// `../shared/golden/backtest` next to the crate). `None` (after a "skipping" message) when
/// absent, except under `CI=true`, where missing reference files fail the test.
pub fn golden_backtest_dir() -> Option<PathBuf> {
    let data = std::env::var_os("SYSTRADE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pysystemtrade")
        });
    let dir = data.join("../../golden/backtest");
    if dir.join("timeseries").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "pysystemtrade golden backtest files not found at {} (set SYSTRADE_TEST_DATA)",
            dir.display()
        );
    }
    eprintln!(
        "skipping: pysystemtrade golden backtest files not found at {} (set SYSTRADE_TEST_DATA)",
        dir.display()
    );
    None
}
