//! The integration test binary: drives the real `systrade` binary on temporary homes.
//! One binary with modules (see Cargo.toml `[[test]]`), so the crate links once.

mod alerts;
mod architecture;
mod backtest;
mod broker_faults;
mod broker_ib;
mod broker_market;
mod capital;
mod cli;
mod controls;
mod crash;
mod dag_props;
mod daily;
mod email;
mod execution;
mod order_crash;
mod order_lifecycle;
mod order_scenarios;
mod orders_cli;
mod price_tasks;
mod prices;
mod reports;
mod reports2;
mod reports_html;
mod reports_pandl;
mod reports_reconcile;
mod reports_status;
mod roll;
mod roll_positions;
mod secrets;
mod stopping;
mod store_damage;
mod strategies;
mod support;
mod trade_limits;
mod validation;
