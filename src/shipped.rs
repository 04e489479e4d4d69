//! Files shipped with systrade and embedded in the binary, so it works from any directory:
//! the workflows, the task catalogue and the default config. `<home>/workflows/` and
//! `<home>/tasks/` add to or override them.

/// `(file name, contents)` of every shipped workflow.
pub const WORKFLOWS: &[(&str, &str)] = &[
    ("daily.toml", include_str!("../workflows/daily.toml")),
    ("example.toml", include_str!("../workflows/example.toml")),
    ("systems.toml", include_str!("../workflows/systems.toml")),
    ("trading.toml", include_str!("../workflows/trading.toml")),
];

/// `(file name, contents)` of every shipped task catalogue file.
pub const TASKS: &[(&str, &str)] = &[
    ("engine.toml", include_str!("../tasks/engine.toml")),
    ("prices.toml", include_str!("../tasks/prices.toml")),
    ("capital.toml", include_str!("../tasks/capital.toml")),
    (
        "market_data.toml",
        include_str!("../tasks/market_data.toml"),
    ),
    ("strategies.toml", include_str!("../tasks/strategies.toml")),
    ("orders.toml", include_str!("../tasks/orders.toml")),
    ("reports.toml", include_str!("../tasks/reports.toml")),
];

/// `(strategy name, contents)` of every shipped strategy (`config/strategies/NAME.toml`).
pub const STRATEGIES: &[(&str, &str)] = &[(
    "chapter15_equal_weights",
    include_str!("../config/strategies/chapter15_equal_weights.toml"),
)];

pub const DEFAULT_CONFIG: &str = include_str!("../config/defaults.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(dir: &str, shipped: &[(&str, &str)]) {
        let mut on_disk: Vec<String> =
            std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml"))
                .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = shipped.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "every file in {dir}/ must be listed in src/shipped.rs"
        );
    }

    #[test]
    fn every_shipped_file_is_embedded() {
        listed("workflows", WORKFLOWS);
        listed("tasks", TASKS);
    }
}
