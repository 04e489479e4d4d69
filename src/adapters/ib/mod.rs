//! Interactive Brokers: the TWS socket protocol (`wire`, `proto`) and a fake
//! TWS / IB Gateway (`fake_server`) that tests and `systrade broker fake-ib` run.

pub mod broker;
mod calls;
pub mod contracts;
pub mod fake_data;
pub mod fake_home;
pub mod fake_orders;
pub mod fake_server;
pub mod ib_orders;
pub mod proto;
pub mod proto_orders;
pub mod wire;
