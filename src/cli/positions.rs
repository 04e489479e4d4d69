//! `systrade positions`: without a subcommand, the positions the system holds — per strategy and
//! instrument, per contract — beside the broker's, with the breaks between them (§B23) and the
//! instrument locks; `positions optimal` / `positions history`: the optimal positions
//! run_systems stored (§B11), per strategy and instrument — the unrounded notional position, its
//! buffer edges, the reference price and contract, the date of the prices and when it was
//! computed — latest or as history.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{local, print_json, table};
use super::CliError;
use crate::domain::broker::BrokerPosition;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::optimal::{OptimalPosition, OptimalPositionStore};
use crate::domain::orders::breaks::{position_breaks, PositionBreaks};
use crate::domain::orders::{ContractPosition, InstrumentLock, OrderStore, StrategyPosition};
use crate::engine::diagnostic::did_you_mean;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PositionsArgs {
    /// Without a subcommand: as JSON: {"strategy_positions": [{strategy, instrument,
    /// position}], "contract_positions": [{instrument, contract, position}],
    /// "broker_positions": [{instrument, contract, quantity}] or null when the broker could not
    /// be asked, "breaks": {"external": [...], "internal": [...]}, "locks": [...],
    /// "broker_error": null or the reason}.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<PositionsCommand>,
}

#[derive(Subcommand, Debug)]
pub enum PositionsCommand {
    /// The latest optimal position of every strategy and instrument.
    Optimal(OptimalArgs),
    /// Every optimal position stored for one strategy and instrument, oldest first.
    History(HistoryArgs),
}

#[derive(Args, Debug)]
pub struct OptimalArgs {
    /// Only this strategy.
    #[arg(long)]
    pub strategy: Option<String>,
    /// As JSON: {"positions": [{strategy, instrument, computed_at, date, optimal, lower, upper,
    /// reference_price, reference_contract}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The strategy (one of strategies.weights in the config).
    #[arg(long)]
    pub strategy: String,
    /// The instrument code.
    #[arg(long)]
    pub instrument: String,
    /// As JSON (same objects as `positions optimal --json`).
    #[arg(long)]
    pub json: bool,
}

pub async fn positions(opts: &GlobalOpts, a: PositionsArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let Some(command) = a.command else {
        return show_positions(&ctx, a.json).await;
    };
    let store: &dyn OptimalPositionStore = ctx.store.as_ref();
    let (rows, json) = match command {
        PositionsCommand::Optimal(o) => {
            let rows = store
                .latest_optimal_positions(o.strategy.as_deref())
                .await?;
            if rows.is_empty() && !o.json {
                let which = o
                    .strategy
                    .map(|s| format!(" for strategy `{s}`"))
                    .unwrap_or_default();
                outln!("no optimal positions{which} yet: they are stored by the run_systems task of the daily workflow");
                return Ok(0);
            }
            (rows, o.json)
        }
        PositionsCommand::History(h) => {
            let code = InstrumentCode::new(&h.instrument)
                .map_err(|e| CliError::Invalid(format!("--instrument: {e}")))?;
            let reference = ctx.app().reference_data()?;
            if reference.instrument(&code).is_none() {
                let help = did_you_mean(
                    code.as_str(),
                    reference.instruments.keys().map(|c| c.as_str()),
                )
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
                return Err(CliError::Invalid(format!(
                    "--instrument: unknown instrument `{code}` (not in the reference data){help}"
                ))
                .into());
            }
            let rows = store.optimal_position_history(&h.strategy, &code).await?;
            if rows.is_empty() && !h.json {
                outln!(
                    "no optimal positions for strategy `{}` and instrument {code}",
                    h.strategy
                );
                return Ok(0);
            }
            (rows, h.json)
        }
    };
    if json {
        print_json(&json!({ "positions": rows }))?;
    } else {
        print_table(&rows)?;
    }
    Ok(0)
}

fn print_table(rows: &[OptimalPosition]) -> anyhow::Result<()> {
    let header = [
        "strategy",
        "instrument",
        "date",
        "optimal",
        "lower",
        "upper",
        "ref_price",
        "ref_contract",
        "computed_at",
    ];
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                p.strategy.clone(),
                p.instrument.to_string(),
                p.date.to_string(),
                format!("{:.3}", p.optimal),
                format!("{:.3}", p.lower),
                format!("{:.3}", p.upper),
                format!("{}", p.reference_price),
                p.reference_contract
                    .map_or_else(|| "-".to_string(), |c| c.to_string()),
                p.computed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    out!("{}", table(&header, &body));
    Ok(())
}

/// The three position views, the breaks between them and the instrument locks, as
/// `systrade positions` and `systrade orders breaks` show them.
pub(super) struct PositionView {
    pub strategy: Vec<StrategyPosition>,
    pub contract: Vec<ContractPosition>,
    /// `None` when the broker could not be asked (`broker_error` says why).
    pub broker: Option<Vec<BrokerPosition>>,
    pub broker_error: Option<String>,
    /// External breaks only when the broker's positions are known.
    pub breaks: PositionBreaks,
    pub locks: Vec<InstrumentLock>,
}

impl PositionView {
    /// From the stored positions and what the broker said (`Err`: why it could not be asked).
    pub fn new(
        strategy: Vec<StrategyPosition>,
        contract: Vec<ContractPosition>,
        broker: Result<Vec<BrokerPosition>, String>,
        locks: Vec<InstrumentLock>,
    ) -> PositionView {
        let (broker, broker_error) = match broker {
            Ok(b) => (Some(b), None),
            Err(e) => (None, Some(e)),
        };
        let breaks = match &broker {
            Some(b) => position_breaks(&strategy, &contract, b),
            // Against an unknown broker every contract would look broken: internal breaks only.
            None => PositionBreaks {
                external: Vec::new(),
                internal: position_breaks(&strategy, &contract, &[]).internal,
            },
        };
        PositionView {
            strategy,
            contract,
            broker,
            broker_error,
            breaks,
            locks,
        }
    }

    /// Reads the stored positions and locks and asks the broker for its positions (the broker
    /// is closed after: IB gives its client id back).
    pub async fn load(ctx: &Ctx) -> anyhow::Result<PositionView> {
        let orders: &dyn OrderStore = ctx.store.as_ref();
        let strategy = orders.strategy_positions().await?;
        let contract = orders.contract_positions().await?;
        let locks = orders.locks().await?;
        let broker = ctx.broker();
        let held = broker
            .positions()
            .await
            .map_err(|e| format!("{} broker: {e}", broker.kind()));
        broker.close().await;
        Ok(PositionView::new(strategy, contract, held, locks))
    }

    pub fn breaks_json(&self) -> serde_json::Value {
        json!({ "external": self.breaks.external, "internal": self.breaks.internal })
    }

    /// One row per instrument and contract: system position, broker position (`?` when
    /// unknown), the strategies' positions in the instrument (on its first row), and a BREAK
    /// marker. Rows where everything is 0 are left out.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let mut by_contract: BTreeMap<(InstrumentCode, ContractId), (i64, i64)> = BTreeMap::new();
        for p in &self.contract {
            by_contract
                .entry((p.instrument.clone(), p.contract))
                .or_default()
                .0 += p.position;
        }
        for p in self.broker.iter().flatten() {
            by_contract
                .entry((p.instrument.clone(), p.contract))
                .or_default()
                .1 += p.quantity;
        }
        by_contract.retain(|_, (system, broker)| *system != 0 || *broker != 0);
        let mut strategies: BTreeMap<InstrumentCode, Vec<String>> = BTreeMap::new();
        for p in self.strategy.iter().filter(|p| p.position != 0) {
            strategies
                .entry(p.instrument.clone())
                .or_default()
                .push(format!("{} {:+}", p.strategy, p.position));
        }
        let instruments: BTreeSet<InstrumentCode> = by_contract
            .keys()
            .map(|(i, _)| i.clone())
            .chain(strategies.keys().cloned())
            .collect();
        let broker_known = self.broker.is_some();
        let mut rows = Vec::new();
        for instrument in instruments {
            let internal = self
                .breaks
                .internal
                .iter()
                .find(|b| b.instrument == instrument);
            let mut first = true;
            let mut row = |contract: String, system: String, broker: String, external: bool| {
                let mut marks = Vec::new();
                if external {
                    marks.push("system != broker".to_string());
                }
                if let (true, Some(b)) = (first, internal) {
                    marks.push(format!(
                        "strategies {} != contracts {}",
                        b.strategies, b.contracts
                    ));
                }
                let strategy_text = if first {
                    strategies
                        .get(&instrument)
                        .map(|s| s.join(", "))
                        .unwrap_or_else(|| "-".into())
                } else {
                    String::new()
                };
                rows.push(vec![
                    instrument.to_string(),
                    contract,
                    system,
                    broker,
                    strategy_text,
                    if marks.is_empty() {
                        String::new()
                    } else {
                        format!("BREAK: {}", marks.join("; "))
                    },
                ]);
                first = false;
            };
            let contracts: Vec<_> = by_contract
                .iter()
                .filter(|((i, _), _)| *i == instrument)
                .collect();
            if contracts.is_empty() {
                row("-".into(), "0".into(), broker_cell(broker_known, 0), false);
            }
            for ((_, contract), (system, broker)) in contracts {
                let external = self
                    .breaks
                    .external
                    .iter()
                    .any(|b| b.instrument == instrument && b.contract == *contract);
                row(
                    contract.to_string(),
                    system.to_string(),
                    broker_cell(broker_known, *broker),
                    external,
                );
            }
        }
        rows
    }

    /// The breaks and locks sections, for humans.
    pub fn breaks_text(&self) -> String {
        let mut out = String::new();
        if let Some(e) = &self.broker_error {
            out.push_str(&format!(
                "BROKER POSITIONS UNKNOWN: {e}\n  external breaks (system vs broker) cannot be checked\n"
            ));
        }
        let b = &self.breaks;
        if b.is_empty() {
            out.push_str(if self.broker_error.is_some() {
                "no internal breaks\n"
            } else {
                "no breaks: strategies, contracts and broker agree\n"
            });
        } else {
            out.push_str(&format!(
                "BREAKS: {} external, {} internal\n",
                b.external.len(),
                b.internal.len()
            ));
        }
        if !b.external.is_empty() {
            out.push_str("  external (system vs broker, per contract; the stack handler locks these instruments):\n");
            for e in &b.external {
                out.push_str(&format!(
                    "    {} {}: system {}, broker {} (difference {:+})\n",
                    e.instrument,
                    e.contract,
                    e.system,
                    e.broker,
                    e.broker - e.system
                ));
            }
        }
        if !b.internal.is_empty() {
            out.push_str("  internal (strategies vs contracts, per instrument):\n");
            for i in &b.internal {
                out.push_str(&format!(
                    "    {}: strategies {}, contracts {} (difference {:+})\n",
                    i.instrument,
                    i.strategies,
                    i.contracts,
                    i.contracts - i.strategies
                ));
            }
        }
        if !b.is_empty() {
            out.push_str(
                "  to resolve: `systrade orders balance` records a trade done outside the system\n",
            );
        }
        if self.locks.is_empty() {
            out.push_str("no instruments locked\n");
        } else {
            out.push_str("locked instruments (no orders are spawned or sent for them):\n");
            for l in &self.locks {
                out.push_str(&format!(
                    "  {} since {}: {}\n",
                    l.instrument,
                    local(l.locked_at),
                    l.reason
                ));
            }
        }
        out
    }
}

fn broker_cell(known: bool, quantity: i64) -> String {
    if known {
        quantity.to_string()
    } else {
        "?".into()
    }
}

/// Exit code of a position view: 1 when the broker could not be asked.
pub(super) fn view_exit_code(view: &PositionView) -> i32 {
    if let Some(e) = &view.broker_error {
        eprintln!("error: the broker's positions are unknown: {e}");
        1
    } else {
        0
    }
}

/// `systrade positions` without a subcommand.
async fn show_positions(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let view = PositionView::load(ctx).await?;
    if json {
        print_json(&json!({
            "strategy_positions": view.strategy,
            "contract_positions": view.contract,
            "broker_positions": view.broker,
            "breaks": view.breaks_json(),
            "locks": view.locks,
            "broker_error": view.broker_error,
        }))?;
    } else {
        let rows = view.rows();
        if rows.is_empty() {
            if view.broker.is_some() {
                outln!("no positions: no strategy, contract or broker positions");
            } else {
                outln!("no strategy or contract positions");
            }
        } else {
            out!(
                "{}",
                table(
                    &[
                        "instrument",
                        "contract",
                        "system",
                        "broker",
                        "strategies",
                        "break"
                    ],
                    &rows
                )
            );
        }
        outln!();
        out!("{}", view.breaks_text());
    }
    Ok(view_exit_code(&view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> InstrumentCode {
        InstrumentCode::new(s).expect("code")
    }

    fn view(broker: Result<Vec<BrokerPosition>, String>) -> PositionView {
        let dec = ContractId::monthly(2026, 12);
        PositionView::new(
            vec![
                StrategyPosition {
                    strategy: "demo".into(),
                    instrument: code("SP500"),
                    position: 2,
                },
                StrategyPosition {
                    strategy: "trend".into(),
                    instrument: code("US10"),
                    position: 0,
                },
            ],
            vec![ContractPosition {
                instrument: code("SP500"),
                contract: dec,
                position: 3,
            }],
            broker,
            Vec::new(),
        )
    }

    #[test]
    fn rows_show_both_kinds_of_break() {
        let v = view(Ok(vec![
            BrokerPosition {
                instrument: code("SP500"),
                contract: ContractId::monthly(2026, 12),
                quantity: 3,
            },
            BrokerPosition {
                instrument: code("GOLD"),
                contract: ContractId::monthly(2027, 2),
                quantity: -1,
            },
        ]));
        assert_eq!(
            v.rows(),
            vec![
                vec![
                    "GOLD",
                    "20270200",
                    "0",
                    "-1",
                    "-",
                    "BREAK: system != broker"
                ],
                vec![
                    "SP500",
                    "20261200",
                    "3",
                    "3",
                    "demo +2",
                    "BREAK: strategies 2 != contracts 3"
                ],
            ]
        );
        let text = v.breaks_text();
        assert!(text.contains("BREAKS: 1 external, 1 internal"), "{text}");
        assert!(
            text.contains("GOLD 20270200: system 0, broker -1"),
            "{text}"
        );
        assert!(text.contains("SP500: strategies 2, contracts 3"), "{text}");
        assert!(text.contains("no instruments locked"), "{text}");
    }

    #[test]
    fn an_unknown_broker_shows_question_marks_and_no_external_breaks() {
        let v = view(Err("sim broker: broker disconnected: drill".into()));
        assert!(v.breaks.external.is_empty());
        assert_eq!(v.breaks.internal.len(), 1);
        assert_eq!(v.rows()[0][3], "?");
        let text = v.breaks_text();
        assert!(
            text.starts_with("BROKER POSITIONS UNKNOWN: sim broker"),
            "{text}"
        );
        assert_eq!(view_exit_code(&v), 1);
    }

    #[test]
    fn agreeing_positions_have_no_break() {
        let mut v = view(Ok(vec![BrokerPosition {
            instrument: code("SP500"),
            contract: ContractId::monthly(2026, 12),
            quantity: 3,
        }]));
        v.strategy[0].position = 3;
        v.breaks = position_breaks(&v.strategy, &v.contract, v.broker.as_deref().unwrap_or(&[]));
        assert_eq!(
            v.rows(),
            vec![vec!["SP500", "20261200", "3", "3", "demo +3", ""]]
        );
        assert!(v.breaks_text().contains("no breaks"));
        assert_eq!(view_exit_code(&v), 0);
    }
}
