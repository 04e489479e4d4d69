//! Task kinds implemented in Rust: one small file per kind, all listed in [`KINDS`]. A new Rust
//! task is one struct implementing [`TaskKind`] plus one line here, plus its `[[task]]` entry in
//! `tasks/*.toml`. External tasks need only the TOML.

use crate::app::App;
use crate::engine::task::{Registry, TaskKind};

mod alert;
mod clean;
mod fail;
mod instruments;
mod noop;
mod report;
mod run_backups;
mod run_stack_handler;
mod run_strategy_order_generator;
mod run_systems;
mod sleep;
mod update_fx_prices;
mod update_historical_prices;
mod update_multiple_adjusted_prices;
mod update_sampled_contracts;
mod update_strategy_capital;
mod update_total_capital;

/// Every Rust task kind, by handler name.
pub const KINDS: &[&dyn TaskKind<App>] = &[
    &noop::Noop,
    &sleep::Sleep,
    &fail::Fail,
    &run_backups::RunBackups,
    &clean::Clean,
    &update_fx_prices::UpdateFxPrices,
    &update_historical_prices::UpdateHistoricalPrices,
    &update_sampled_contracts::UpdateSampledContracts,
    &update_multiple_adjusted_prices::UpdateMultipleAdjustedPrices,
    &run_systems::RunSystems,
    &run_strategy_order_generator::RunStrategyOrderGenerator,
    &run_stack_handler::RunStackHandler,
    &update_total_capital::UpdateTotalCapital,
    &update_strategy_capital::UpdateStrategyCapital,
    &report::Report,
    &alert::Alert,
];

pub fn registry() -> Registry<App> {
    Registry::new(KINDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalogue::{Catalogue, TaskImpl};

    #[test]
    fn handler_names_are_unique_and_all_in_the_shipped_catalogue() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate handler name");
        let mut cat = Catalogue::default();
        for (file, text) in crate::shipped::TASKS {
            cat.add_file(file, text.as_bytes()).unwrap();
        }
        for name in names {
            assert!(
                cat.iter()
                    .any(|t| t.implementation == TaskImpl::Handler(name.to_string())),
                "handler `{name}` has no [[task]] entry in tasks/"
            );
        }
        let reg = registry();
        for t in cat.iter() {
            if let TaskImpl::Handler(h) = &t.implementation {
                assert!(
                    reg.get(h).is_some(),
                    "catalogue task `{}` names missing handler `{h}`",
                    t.name
                );
            }
        }
    }
}
