//! The tables of `systrade orders list`: one per stack, with ids, parent and children, strategy,
//! instrument, contract(s), trade, fill, prices, type and status, and times.

use crate::cli::output::{local, local_opt, table};

/// A stack's table, or `none` when it is empty.
fn stack_table(header: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "  none\n".into();
    }
    table(header, rows)
}
use crate::domain::orders::{BrokerOrder, ContractLeg, ContractOrder, InstrumentOrder, OrderId};

fn ids(ids: &[OrderId]) -> String {
    if ids.is_empty() {
        "-".into()
    } else {
        ids.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn price(p: Option<f64>) -> String {
    p.map_or_else(|| "-".into(), |p| format!("{p}"))
}

/// The order type, its limit price and its flags (manual, roll).
fn kind(
    order_type: impl std::fmt::Display,
    limit: Option<f64>,
    manual: bool,
    roll: bool,
) -> String {
    let mut s = order_type.to_string();
    if let Some(l) = limit {
        s.push_str(&format!(" {l}"));
    }
    if manual {
        s.push_str(", manual");
    }
    if roll {
        s.push_str(", roll");
    }
    s
}

/// Where an instrument order stands.
pub fn instrument_status(o: &InstrumentOrder) -> &'static str {
    let filled = o.trade != 0 && o.remaining() == 0;
    match (o.active, o.cancel_requested) {
        (true, true) => "cancelling",
        (true, false) if filled => "filled",
        (true, false) if o.fill != 0 => "part-filled",
        (true, false) => "working",
        (false, _) if filled || o.trade == 0 => "done",
        (false, true) => "cancelled",
        (false, false) => "closed unfilled",
    }
}

pub fn instrument_rows(orders: &[InstrumentOrder]) -> Vec<Vec<String>> {
    orders
        .iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                ids(&o.children),
                o.strategy.clone(),
                o.instrument.to_string(),
                format!("{:+}", o.trade),
                format!("{:+}", o.fill),
                price(o.filled_price),
                kind(o.order_type, o.limit_price, o.manual, o.roll_order),
                instrument_status(o).to_string(),
                local(o.generated_at),
                local_opt(o.completed_at),
            ]
        })
        .collect()
}

pub fn instrument_table(orders: &[InstrumentOrder]) -> String {
    stack_table(
        &[
            "id",
            "children",
            "strategy",
            "instrument",
            "trade",
            "fill",
            "fill_price",
            "type",
            "status",
            "generated",
            "completed",
        ],
        &instrument_rows(orders),
    )
}

/// A leg as `20261200 +2 (filled +1 at 4000.5)`.
fn leg(l: &ContractLeg) -> String {
    let mut s = format!("{} {:+}", l.contract, l.trade);
    if l.fill != 0 {
        s.push_str(&format!(" (filled {:+}", l.fill));
        if let Some(p) = l.filled_price {
            s.push_str(&format!(" at {p}"));
        }
        s.push(')');
    }
    s
}

pub fn contract_rows(orders: &[ContractOrder]) -> Vec<Vec<String>> {
    orders
        .iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.parent.to_string(),
                ids(&o.children),
                o.strategy.clone(),
                o.instrument.to_string(),
                o.legs.iter().map(leg).collect::<Vec<_>>().join("; "),
                kind(o.order_type, o.limit_price, o.manual, o.roll_order),
                price(o.reference_price),
                if o.is_filled() {
                    "filled"
                } else if o.active {
                    "working"
                } else {
                    "closed"
                }
                .to_string(),
                local(o.generated_at),
                local_opt(o.completed_at),
            ]
        })
        .collect()
}

pub fn contract_table(orders: &[ContractOrder]) -> String {
    stack_table(
        &[
            "id",
            "parent",
            "children",
            "strategy",
            "instrument",
            "legs",
            "type",
            "ref_price",
            "status",
            "generated",
            "completed",
        ],
        &contract_rows(orders),
    )
}

pub fn broker_rows(orders: &[BrokerOrder]) -> Vec<Vec<String>> {
    orders
        .iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.parent.to_string(),
                o.strategy.clone(),
                o.instrument.to_string(),
                o.contract.to_string(),
                format!("{:+}", o.trade),
                format!("{:+}", o.fill),
                price(o.filled_price),
                format!(
                    "{} ({})",
                    kind(o.order_type, o.limit_price, false, false),
                    o.algo
                ),
                o.status.as_str().to_string(),
                o.broker_id.clone().unwrap_or_else(|| "-".into()),
                o.order_ref.clone(),
                local(o.created_at),
                local_opt(o.submitted_at),
                local_opt(o.fill_time),
                o.reason.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect()
}

pub fn broker_table(orders: &[BrokerOrder]) -> String {
    stack_table(
        &[
            "id",
            "parent",
            "strategy",
            "instrument",
            "contract",
            "trade",
            "fill",
            "fill_price",
            "type",
            "status",
            "broker_id",
            "order_ref",
            "created",
            "submitted",
            "filled",
            "reason",
        ],
        &broker_rows(orders),
    )
}
