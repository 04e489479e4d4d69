//! Interactive Brokers: the TWS socket protocol (`wire`, `proto`) and a fake
//! TWS / IB Gateway (`fake_server`) that tests and `systrade broker fake-ib` run. The fake
//! answers requests as encoding-free `fake_messages`, written in the protobuf encoding
//! (`fake_proto`, for `ibapi`) or the older text encoding (`fake_text`, for `ib_async`).

pub mod broker;
mod calls;
pub mod contracts;
pub mod fake_data;
pub mod fake_home;
pub mod fake_messages;
pub mod fake_orders;
pub mod fake_proto;
pub mod fake_server;
pub mod fake_text;
pub mod ib_orders;
mod market_data;
pub mod probe;
pub mod proto;
pub mod proto_orders;
pub mod wire;
