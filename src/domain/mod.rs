//! The trading domain: instruments and roll parameters, futures contracts, price series
//! (per-contract bars, multiple prices, Panama-adjusted prices, FX), and the traits that storage
//! and market-data adapters implement. Nothing here knows of SQLite, Parquet, polars or brokers.

pub mod adjustment;
pub mod alerts;
pub mod auto_limits;
pub mod backtest;
pub mod bootstrap;
pub mod broker;
pub mod capital;
pub mod contract;
pub mod controls;
pub mod execution;
pub mod instrument;
pub mod merge;
pub mod metadata;
pub mod optimal;
pub mod orders;
pub mod overrides;
pub mod panama;
pub mod parallel;
pub mod ports;
pub mod position_limits;
pub mod price_update;
pub mod reports;
pub mod roll_prices;
pub mod roll_report;
pub mod rolls;
pub mod sampling;
pub mod series;
