//! Adapters: implementations of the traits that the engine and the domain define.
//! `store::sqlite` is the embedded default run store.

pub mod broker_market;
pub mod ib;
pub mod parquet;
pub mod pysystemtrade_csv;
pub mod reference_files;
pub mod sim_broker;
pub mod sim_market;
pub mod smtp;
pub mod store;
