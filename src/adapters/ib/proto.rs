//! The protobuf messages of the TWS API that the fake server speaks, with the
//! field tags of IB's `.proto` files (as generated in the `ibapi` crate, which
//! keeps its own copy private). Unknown fields are skipped on decode, so a
//! subset of a message's fields is enough.

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ComboLeg {
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub ratio: Option<i32>,
    #[prost(string, optional, tag = "3")]
    pub action: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub exchange: Option<String>,
    #[prost(int32, optional, tag = "5")]
    pub open_close: Option<i32>,
    #[prost(int32, optional, tag = "6")]
    pub short_sales_slot: Option<i32>,
    #[prost(string, optional, tag = "7")]
    pub designated_location: Option<String>,
    #[prost(int32, optional, tag = "8")]
    pub exempt_code: Option<i32>,
    #[prost(double, optional, tag = "9")]
    pub per_leg_price: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct DeltaNeutralContract {
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    #[prost(double, optional, tag = "2")]
    pub delta: Option<f64>,
    #[prost(double, optional, tag = "3")]
    pub price: Option<f64>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Contract {
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub symbol: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub sec_type: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub last_trade_date_or_contract_month: Option<String>,
    #[prost(double, optional, tag = "5")]
    pub strike: Option<f64>,
    #[prost(string, optional, tag = "6")]
    pub right: Option<String>,
    #[prost(double, optional, tag = "7")]
    pub multiplier: Option<f64>,
    #[prost(string, optional, tag = "8")]
    pub exchange: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub primary_exch: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub currency: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub local_symbol: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub trading_class: Option<String>,
    #[prost(string, optional, tag = "13")]
    pub sec_id_type: Option<String>,
    #[prost(string, optional, tag = "14")]
    pub sec_id: Option<String>,
    #[prost(string, optional, tag = "15")]
    pub description: Option<String>,
    #[prost(string, optional, tag = "16")]
    pub issuer_id: Option<String>,
    #[prost(message, optional, tag = "17")]
    pub delta_neutral_contract: Option<DeltaNeutralContract>,
    #[prost(bool, optional, tag = "18")]
    pub include_expired: Option<bool>,
    #[prost(string, optional, tag = "19")]
    pub combo_legs_descrip: Option<String>,
    #[prost(message, repeated, tag = "20")]
    pub combo_legs: Vec<ComboLeg>,
    #[prost(string, optional, tag = "21")]
    pub last_trade_date: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct AccountSummary {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tag: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub currency: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct ContractDataEnd {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct ErrorMessage {
    #[prost(int32, optional, tag = "1")]
    pub id: Option<i32>,
    #[prost(int64, optional, tag = "2")]
    pub error_time: Option<i64>,
    #[prost(int32, optional, tag = "3")]
    pub error_code: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub error_msg: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub advanced_order_reject_json: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct ManagedAccountsRequest {}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct AccountSummaryRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub group: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tags: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct IdsRequest {
    #[prost(int32, optional, tag = "1")]
    pub num_ids: Option<i32>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Position {
    #[prost(string, optional, tag = "1")]
    pub account: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "3")]
    pub position: Option<String>,
    #[prost(double, optional, tag = "4")]
    pub avg_cost: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct PositionsRequest {}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct IneligibilityReason {
    #[prost(string, optional, tag = "1")]
    pub id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub description: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CancelAccountSummary {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CurrentTime {
    #[prost(int64, optional, tag = "1")]
    pub current_time: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct PositionEnd {}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ContractDetails {
    #[prost(string, optional, tag = "1")]
    pub market_name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub min_tick: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub order_types: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub valid_exchanges: Option<String>,
    #[prost(int32, optional, tag = "5")]
    pub price_magnifier: Option<i32>,
    #[prost(int32, optional, tag = "6")]
    pub under_con_id: Option<i32>,
    #[prost(string, optional, tag = "7")]
    pub long_name: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub contract_month: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub industry: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub category: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub subcategory: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub time_zone_id: Option<String>,
    #[prost(string, optional, tag = "13")]
    pub trading_hours: Option<String>,
    #[prost(string, optional, tag = "14")]
    pub liquid_hours: Option<String>,
    #[prost(string, optional, tag = "15")]
    pub ev_rule: Option<String>,
    #[prost(double, optional, tag = "16")]
    pub ev_multiplier: Option<f64>,
    #[prost(map = "string, string", tag = "17")]
    pub sec_id_list: ::std::collections::HashMap<String, String>,
    #[prost(int32, optional, tag = "18")]
    pub agg_group: Option<i32>,
    #[prost(string, optional, tag = "19")]
    pub under_symbol: Option<String>,
    #[prost(string, optional, tag = "20")]
    pub under_sec_type: Option<String>,
    #[prost(string, optional, tag = "21")]
    pub market_rule_ids: Option<String>,
    #[prost(string, optional, tag = "22")]
    pub real_expiration_date: Option<String>,
    #[prost(string, optional, tag = "23")]
    pub stock_type: Option<String>,
    #[prost(string, optional, tag = "24")]
    pub min_size: Option<String>,
    #[prost(string, optional, tag = "25")]
    pub size_increment: Option<String>,
    #[prost(string, optional, tag = "26")]
    pub suggested_size_increment: Option<String>,
    #[prost(string, optional, tag = "27")]
    pub fund_name: Option<String>,
    #[prost(string, optional, tag = "28")]
    pub fund_family: Option<String>,
    #[prost(string, optional, tag = "29")]
    pub fund_type: Option<String>,
    #[prost(string, optional, tag = "30")]
    pub fund_front_load: Option<String>,
    #[prost(string, optional, tag = "31")]
    pub fund_back_load: Option<String>,
    #[prost(string, optional, tag = "32")]
    pub fund_back_load_time_interval: Option<String>,
    #[prost(string, optional, tag = "33")]
    pub fund_management_fee: Option<String>,
    #[prost(bool, optional, tag = "34")]
    pub fund_closed: Option<bool>,
    #[prost(bool, optional, tag = "35")]
    pub fund_closed_for_new_investors: Option<bool>,
    #[prost(bool, optional, tag = "36")]
    pub fund_closed_for_new_money: Option<bool>,
    #[prost(string, optional, tag = "37")]
    pub fund_notify_amount: Option<String>,
    #[prost(string, optional, tag = "38")]
    pub fund_minimum_initial_purchase: Option<String>,
    #[prost(string, optional, tag = "39")]
    pub fund_minimum_subsequent_purchase: Option<String>,
    #[prost(string, optional, tag = "40")]
    pub fund_blue_sky_states: Option<String>,
    #[prost(string, optional, tag = "41")]
    pub fund_blue_sky_territories: Option<String>,
    #[prost(string, optional, tag = "42")]
    pub fund_distribution_policy_indicator: Option<String>,
    #[prost(string, optional, tag = "43")]
    pub fund_asset_type: Option<String>,
    #[prost(string, optional, tag = "44")]
    pub cusip: Option<String>,
    #[prost(string, optional, tag = "45")]
    pub issue_date: Option<String>,
    #[prost(string, optional, tag = "46")]
    pub ratings: Option<String>,
    #[prost(string, optional, tag = "47")]
    pub bond_type: Option<String>,
    #[prost(double, optional, tag = "48")]
    pub coupon: Option<f64>,
    #[prost(string, optional, tag = "49")]
    pub coupon_type: Option<String>,
    #[prost(bool, optional, tag = "50")]
    pub convertible: Option<bool>,
    #[prost(bool, optional, tag = "51")]
    pub callable: Option<bool>,
    #[prost(bool, optional, tag = "52")]
    pub puttable: Option<bool>,
    #[prost(string, optional, tag = "53")]
    pub desc_append: Option<String>,
    #[prost(string, optional, tag = "54")]
    pub next_option_date: Option<String>,
    #[prost(string, optional, tag = "55")]
    pub next_option_type: Option<String>,
    #[prost(bool, optional, tag = "56")]
    pub next_option_partial: Option<bool>,
    #[prost(string, optional, tag = "57")]
    pub bond_notes: Option<String>,
    #[prost(message, repeated, tag = "58")]
    pub ineligibility_reason_list: Vec<IneligibilityReason>,
    #[prost(string, optional, tag = "59")]
    pub event_contract1: Option<String>,
    #[prost(string, optional, tag = "60")]
    pub event_contract_description1: Option<String>,
    #[prost(string, optional, tag = "61")]
    pub event_contract_description2: Option<String>,
    #[prost(string, optional, tag = "62")]
    pub min_algo_size: Option<String>,
    #[prost(string, optional, tag = "63")]
    pub last_price_precision: Option<String>,
    #[prost(string, optional, tag = "64")]
    pub last_size_precision: Option<String>,
    #[prost(string, optional, tag = "65")]
    pub settlement_method: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct StartApiRequest {
    #[prost(int32, optional, tag = "1")]
    pub client_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub optional_capabilities: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct NextValidId {
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ContractData {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(message, optional, tag = "3")]
    pub contract_details: Option<ContractDetails>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct ManagedAccounts {
    #[prost(string, optional, tag = "1")]
    pub accounts_list: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CancelPositions {}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct AccountSummaryEnd {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ContractDataRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct TickSnapshotEnd {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct HistoricalDataEnd {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub start_date_str: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub end_date_str: Option<String>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TickPrice {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    #[prost(double, optional, tag = "3")]
    pub price: Option<f64>,
    #[prost(string, optional, tag = "4")]
    pub size: Option<String>,
    #[prost(int32, optional, tag = "5")]
    pub attr_mask: Option<i32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CancelHistoricalData {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CancelMarketData {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HistoricalDataBar {
    #[prost(string, optional, tag = "1")]
    pub date: Option<String>,
    #[prost(double, optional, tag = "2")]
    pub open: Option<f64>,
    #[prost(double, optional, tag = "3")]
    pub high: Option<f64>,
    #[prost(double, optional, tag = "4")]
    pub low: Option<f64>,
    #[prost(double, optional, tag = "5")]
    pub close: Option<f64>,
    #[prost(string, optional, tag = "6")]
    pub volume: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub wap: Option<String>,
    #[prost(int32, optional, tag = "8")]
    pub bar_count: Option<i32>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MarketDataRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "3")]
    pub generic_tick_list: Option<String>,
    #[prost(bool, optional, tag = "4")]
    pub snapshot: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub regulatory_snapshot: Option<bool>,
    #[prost(map = "string, string", tag = "6")]
    pub market_data_options: ::std::collections::HashMap<String, String>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HistoricalDataRequest {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    #[prost(string, optional, tag = "3")]
    pub end_date_time: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub bar_size_setting: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub duration: Option<String>,
    #[prost(bool, optional, tag = "6")]
    pub use_rth: Option<bool>,
    #[prost(string, optional, tag = "7")]
    pub what_to_show: Option<String>,
    #[prost(int32, optional, tag = "8")]
    pub format_date: Option<i32>,
    #[prost(bool, optional, tag = "9")]
    pub keep_up_to_date: Option<bool>,
    #[prost(map = "string, string", tag = "10")]
    pub chart_options: ::std::collections::HashMap<String, String>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct TickSize {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    #[prost(string, optional, tag = "3")]
    pub size: Option<String>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HistoricalData {
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    #[prost(message, repeated, tag = "2")]
    pub historical_data_bars: Vec<HistoricalDataBar>,
}
