//! The layering rules of ARCHITECTURE.md, checked on the source: the engine knows nothing of the
//! application, its adapters, the CLI or SQL; tasks and the CLI reach storage only through traits.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn violations(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {dir}");
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in forbidden {
                if code.contains(bad) {
                    found.push(format!("{}:{}: uses `{bad}`", f.display(), n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn engine_knows_nothing_of_the_application_or_storage_engines() {
    let v = violations(
        "src/engine",
        &[
            "crate::app",
            "crate::tasks",
            "crate::cli",
            "crate::adapters",
            "crate::config",
            "sqlx",
            "polars",
            "ibapi",
            "clap",
        ],
    );
    assert!(v.is_empty(), "engine layering broken:\n{}", v.join("\n"));
}

#[test]
fn tasks_use_the_store_trait_not_sql() {
    let v = violations("src/tasks", &["sqlx", "crate::adapters", "crate::cli"]);
    assert!(v.is_empty(), "tasks layering broken:\n{}", v.join("\n"));
}

#[test]
fn files_stay_reviewable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 1000).then(|| format!("{} has {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}
