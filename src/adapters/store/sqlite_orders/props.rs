//! Properties of the SQLite order store's fill path over random order families and execution
//! reports: instrument orders (signed trades over two strategies and two instruments) spawned
//! into one or two single-leg contract orders, or zero-roll parents with a two-leg spread; one
//! broker order per leg (some left `created`); executions split into several reports, partial
//! fills, repeated reports (same exec id), reports after the order was marked cancelled,
//! over-fills, reports that are not ours, and archiving in between — applied in a random order.
//!
//! After each sequence: every level's fills equal the positions they moved (broker orders →
//! contract positions, contract legs → their broker orders, instrument orders → strategy
//! positions, instruments: strategy and contract positions differ by exactly what zero-roll
//! spreads moved), every fill beyond an order's quantity is a recorded over-fill that locked
//! the instrument, a repeated execution is `Duplicate` and changes nothing, and the recorded
//! position changes add up to every position.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::adapters::store::sqlite::Durability;

const STRATEGIES: [&str; 2] = ["alpha", "beta"];
const INSTRUMENTS: [&str; 2] = ["SP500", "GOLD"];

fn contracts() -> [ContractId; 2] {
    [ContractId::monthly(2026, 12), ContractId::monthly(2027, 3)]
}

fn code(i: usize) -> InstrumentCode {
    InstrumentCode::new(INSTRUMENTS[i]).expect("code")
}

fn at(sec: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + i64::from(sec), 0)
        .single()
        .expect("time")
}

/// How an instrument order is spawned.
#[derive(Debug, Clone)]
enum Shape {
    /// One contract order in `contracts()[c]`.
    One(usize),
    /// Two single-leg contract orders (a passive roll's split): `first` contracts of the trade
    /// in the near contract, the rest in the far one.
    Two(i64),
    /// A zero-roll parent with one spread contract order: −q in `contracts()[near]`, +q in the
    /// other.
    Spread(usize),
}

/// What happens to one leg's broker order.
#[derive(Debug, Clone)]
struct LegPlan {
    /// Quarters of the leg filled (4: all).
    quarters: u8,
    /// Executions the fill is split into.
    chunks: u8,
    /// Contracts filled beyond the leg (a fill racing a cancel).
    over: i64,
    /// Reports repeated with the same exec id.
    repeats: Vec<prop::sample::Index>,
    /// The order is marked cancelled somewhere in the sequence.
    cancel: bool,
    /// Marked `sent` before any report (else left `created`).
    sent: bool,
}

#[derive(Debug, Clone)]
struct OrderPlan {
    strategy: usize,
    instrument: usize,
    /// Signed, never 0.
    trade: i64,
    shape: Shape,
    legs: [LegPlan; 2],
}

#[derive(Debug, Clone)]
struct Scenario {
    orders: Vec<OrderPlan>,
    foreign: u8,
    completions: u8,
    shuffle: u64,
}

fn leg_plan() -> impl Strategy<Value = LegPlan> {
    (
        prop_oneof![3 => Just(4u8), 2 => 0u8..4],
        1u8..=3,
        prop_oneof![5 => Just(0i64), 1 => 1i64..=2],
        prop::collection::vec(any::<prop::sample::Index>(), 0..=2),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(quarters, chunks, over, repeats, cancel, sent)| LegPlan {
            quarters,
            chunks,
            over,
            repeats,
            cancel,
            sent,
        })
}

fn order_plan() -> impl Strategy<Value = OrderPlan> {
    (
        0..STRATEGIES.len(),
        0..INSTRUMENTS.len(),
        1i64..=6,
        any::<bool>(),
        prop_oneof![
            3 => (0usize..2).prop_map(Shape::One),
            2 => (1i64..6).prop_map(Shape::Two),
            1 => (0usize..2).prop_map(Shape::Spread),
        ],
        leg_plan(),
        leg_plan(),
    )
        .prop_map(|(strategy, instrument, size, buy, shape, a, b)| {
            // A split needs two contracts at least, and both legs non-empty.
            let shape = match shape {
                Shape::Two(first) if size < 2 => Shape::One(usize::from(first % 2 == 0)),
                Shape::Two(first) => Shape::Two(1 + (first - 1) % (size - 1)),
                other => other,
            };
            OrderPlan {
                strategy,
                instrument,
                trade: if buy { size } else { -size },
                shape,
                legs: [a, b],
            }
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(order_plan(), 1..8),
        0u8..=2,
        0u8..=2,
        any::<u64>(),
    )
        .prop_map(|(orders, foreign, completions, shuffle)| Scenario {
            orders,
            foreign,
            completions,
            shuffle,
        })
}

/// A broker order as written, with what the test needs of its family.
#[derive(Debug, Clone)]
struct Written {
    order: BrokerOrder,
    instrument_order: OrderId,
    zero_roll: bool,
}

#[derive(Debug, Clone)]
enum Event {
    /// An execution report of `written[bo]`.
    Report {
        bo: usize,
        exec_id: String,
        qty: i64,
    },
    Cancel {
        bo: usize,
    },
    /// A report for an order_ref that is not ours.
    Foreign {
        exec_id: String,
    },
    Complete,
}

/// The part of `fill` beyond `trade` (fills in the trade's direction only).
fn excess(trade: i64, fill: i64) -> i64 {
    if trade != 0 && fill.signum() == trade.signum() && fill.abs() > trade.abs() {
        fill - trade
    } else {
        0
    }
}

/// Splits `total` (≥ 0) into at most `chunks` positive parts.
fn split(total: i64, chunks: u8) -> Vec<i64> {
    let k = i64::from(chunks).clamp(1, total.max(1));
    if total == 0 {
        return Vec::new();
    }
    let mut parts = vec![total / k; k as usize];
    if let Some(last) = parts.last_mut() {
        *last += total % k;
    }
    parts
}

/// Deterministic Fisher–Yates with splitmix64.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

/// Writes every family (instrument order, contract orders, one broker order per leg) and
/// returns the broker orders with the events of their legs' plans, shuffled.
async fn write_families(
    store: &SqliteRunStore,
    s: &Scenario,
) -> Result<(Vec<Written>, Vec<Event>), OrderError> {
    let c = contracts();
    let mut written = Vec::new();
    let mut events = Vec::new();
    for (n, plan) in s.orders.iter().enumerate() {
        let zero_roll = matches!(plan.shape, Shape::Spread(_));
        let new = NewInstrumentOrder {
            strategy: if zero_roll {
                ROLL_PSEUDO_STRATEGY.into()
            } else {
                STRATEGIES[plan.strategy].into()
            },
            instrument: code(plan.instrument),
            trade: if zero_roll { 0 } else { plan.trade },
            order_type: if zero_roll {
                OrderType::ZeroRoll
            } else {
                OrderType::Market
            },
            limit_price: None,
            reference_price: None,
            reference_contract: None,
            reference_time: Some(at(0)),
            generated_at: at(0),
            manual: !zero_roll,
            roll_order: zero_roll,
        };
        let AddOutcome::Added { order: io } = store.add_instrument_order(&new).await? else {
            return Err(OrderError::Refused(format!("order {n} was not added")));
        };
        let children: Vec<Vec<(ContractId, i64)>> = match plan.shape {
            Shape::One(k) => vec![vec![(c[k], plan.trade)]],
            Shape::Two(first) => {
                let sign = plan.trade.signum();
                vec![
                    vec![(c[0], sign * first)],
                    vec![(c[1], plan.trade - sign * first)],
                ]
            }
            Shape::Spread(near) => vec![vec![(c[near], -plan.trade), (c[1 - near], plan.trade)]],
        };
        let new_children: Vec<NewContractOrder> = children
            .iter()
            .map(|legs| NewContractOrder {
                legs: legs.clone(),
                order_type: OrderType::Market,
                limit_price: None,
                reference_price: None,
            })
            .collect();
        let ids = store.spawn_contract_orders(io.id, &new_children).await?;
        let legs = ids
            .iter()
            .zip(&children)
            .flat_map(|(id, legs)| legs.iter().map(move |l| (*id, *l)));
        for (leg_no, (co, (contract, trade))) in legs.enumerate() {
            let lp = &plan.legs[leg_no.min(1)];
            let bo = store
                .add_broker_order(&NewBrokerOrder {
                    parent: co,
                    contract,
                    trade,
                    order_type: OrderType::Market,
                    limit_price: None,
                    algo: "market".into(),
                    side_price: None,
                    offside_price: None,
                    mid_price: None,
                    created_at: at(1),
                })
                .await?;
            let expected_ref = format!("systrade-{}-{}", bo.id, at(1).timestamp_micros());
            if bo.order_ref != expected_ref || bo.status != BrokerOrderStatus::Created {
                return Err(OrderError::Refused(format!(
                    "broker order written as {bo:?}, expected order_ref {expected_ref}"
                )));
            }
            if lp.sent {
                store
                    .update_broker_order(
                        bo.id,
                        &BrokerOrderUpdate {
                            status: Some(BrokerOrderStatus::Sent),
                            broker_id: Some(format!("B{}", bo.id)),
                            ..Default::default()
                        },
                    )
                    .await?;
            }
            let i = written.len();
            let filled = trade.abs() * i64::from(lp.quarters) / 4;
            let mut reports: Vec<Event> = split(filled, lp.chunks)
                .into_iter()
                .chain((lp.over > 0).then_some(lp.over))
                .enumerate()
                .map(|(j, q)| Event::Report {
                    bo: i,
                    exec_id: format!("x{}-{j}", bo.id),
                    qty: q * trade.signum(),
                })
                .collect();
            if !reports.is_empty() {
                let again: Vec<Event> = lp
                    .repeats
                    .iter()
                    .map(|r| reports[r.index(reports.len())].clone())
                    .collect();
                reports.extend(again);
            }
            events.extend(reports);
            if lp.cancel {
                events.push(Event::Cancel { bo: i });
            }
            written.push(Written {
                order: bo,
                instrument_order: io.id,
                zero_roll,
            });
        }
    }
    events.extend((0..s.foreign).map(|k| Event::Foreign {
        exec_id: format!("foreign-{k}"),
    }));
    events.extend((0..s.completions).map(|_| Event::Complete));
    shuffle(&mut events, s.shuffle);
    Ok((written, events))
}

/// Everything a report could change.
type Snapshot = (
    Vec<StrategyPosition>,
    Vec<ContractPosition>,
    Vec<(OrderId, i64, String)>,
    i64,
);

async fn snapshot(store: &SqliteRunStore) -> Result<Snapshot, OrderError> {
    let mut bos = store.broker_orders(true).await?;
    bos.extend(store.broker_orders(false).await?);
    let mut fills: Vec<_> = bos
        .into_iter()
        .map(|b| (b.id, b.fill, b.status.as_str().to_string()))
        .collect();
    fills.sort();
    let executions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_executions")
        .fetch_one(store.pool())
        .await
        .map_err(db)?;
    Ok((
        store.strategy_positions().await?,
        store.contract_positions().await?,
        fills,
        executions,
    ))
}

fn execution(bo: &BrokerOrder, exec_id: &str, qty: i64, n: usize) -> Execution {
    Execution {
        exec_id: exec_id.into(),
        broker_id: format!("B{}", bo.id),
        order_ref: bo.order_ref.clone(),
        instrument: bo.instrument.clone(),
        contract: bo.contract,
        quantity: qty,
        price: 100.0 + n as f64 * 0.25,
        ts: at(2),
        commission: 1.0,
        commission_currency: "USD".into(),
    }
}

/// Applies the events, checking each outcome against a model of what was applied.
async fn run_scenario(s: &Scenario) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let fail = |e: OrderError| TestCaseError::fail(e.to_string());
    let (written, events) = write_families(&store, s).await.map_err(fail)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut model_fill: HashMap<OrderId, i64> = HashMap::new();
    // Broker orders marked cancelled, and the instruments a fill reached after that.
    let mut cancelled: HashSet<usize> = HashSet::new();
    let mut late: BTreeSet<InstrumentCode> = BTreeSet::new();
    for (n, event) in events.iter().enumerate() {
        match event {
            Event::Report { bo, exec_id, qty } => {
                let w = &written[*bo];
                let before = if seen.contains(exec_id) {
                    Some(snapshot(&store).await.map_err(fail)?)
                } else {
                    None
                };
                let e = execution(&w.order, exec_id, *qty, n);
                let outcome = store.apply_execution(&e, at(3)).await.map_err(fail)?;
                match before {
                    Some(before) => {
                        prop_assert_eq!(&outcome, &FillOutcome::Duplicate, "report {}", exec_id);
                        let after = snapshot(&store).await.map_err(fail)?;
                        prop_assert_eq!(
                            before,
                            after,
                            "a repeated report {} changed something",
                            exec_id
                        );
                    }
                    None => {
                        seen.insert(exec_id.clone());
                        if cancelled.contains(bo) {
                            late.insert(w.order.instrument.clone());
                        }
                        let fill = model_fill.entry(w.order.id).or_default();
                        let over =
                            excess(w.order.trade, *fill + qty) - excess(w.order.trade, *fill);
                        *fill += qty;
                        prop_assert_eq!(
                            outcome,
                            FillOutcome::Applied {
                                broker_order: w.order.id,
                                instrument_order: w.instrument_order,
                                instrument: w.order.instrument.clone(),
                                overfill: over,
                                late: cancelled.contains(bo),
                            }
                        );
                    }
                }
            }
            Event::Cancel { bo } => {
                cancelled.insert(*bo);
                store
                    .update_broker_order(
                        written[*bo].order.id,
                        &BrokerOrderUpdate {
                            status: Some(BrokerOrderStatus::Cancelled),
                            reason: Some("cancelled on request".into()),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(fail)?;
            }
            Event::Foreign { exec_id } => {
                let before = snapshot(&store).await.map_err(fail)?;
                let mut e = execution(&written[0].order, exec_id, 1, n);
                e.order_ref = format!("someone-else-{exec_id}");
                let outcome = store.apply_execution(&e, at(3)).await.map_err(fail)?;
                prop_assert_eq!(outcome, FillOutcome::NotOurs);
                prop_assert_eq!(before, snapshot(&store).await.map_err(fail)?);
            }
            Event::Complete => {
                store.complete_orders(false, at(4)).await.map_err(fail)?;
            }
        }
    }
    check_invariants(&store, &written, &model_fill, seen.len(), &late).await
}

/// The invariants of the module docs, on the store's state.
async fn check_invariants(
    store: &SqliteRunStore,
    written: &[Written],
    model_fill: &HashMap<OrderId, i64>,
    applied: usize,
    late: &BTreeSet<InstrumentCode>,
) -> Result<(), TestCaseError> {
    let fail = |e: OrderError| TestCaseError::fail(e.to_string());
    let mut bos = store.broker_orders(true).await.map_err(fail)?;
    bos.extend(store.broker_orders(false).await.map_err(fail)?);
    let mut cos = store.contract_orders(true).await.map_err(fail)?;
    cos.extend(store.contract_orders(false).await.map_err(fail)?);
    let mut ios = store.instrument_orders(true).await.map_err(fail)?;
    ios.extend(store.instrument_orders(false).await.map_err(fail)?);
    prop_assert_eq!(bos.len(), written.len());
    let zero_roll: HashMap<OrderId, bool> =
        written.iter().map(|w| (w.order.id, w.zero_roll)).collect();

    // Broker orders: the model's fills; per contract, the contract position.
    let mut by_contract: BTreeMap<(InstrumentCode, ContractId), i64> = BTreeMap::new();
    let mut rolled: BTreeMap<InstrumentCode, i64> = BTreeMap::new();
    for b in &bos {
        prop_assert_eq!(
            b.fill,
            model_fill.get(&b.id).copied().unwrap_or(0),
            "broker order {}",
            b.id
        );
        *by_contract
            .entry((b.instrument.clone(), b.contract))
            .or_default() += b.fill;
        if zero_roll.get(&b.id).copied().unwrap_or(false) {
            *rolled.entry(b.instrument.clone()).or_default() += b.fill;
        }
    }
    let contract_positions: BTreeMap<(InstrumentCode, ContractId), i64> = store
        .contract_positions()
        .await
        .map_err(fail)?
        .into_iter()
        .map(|p| ((p.instrument, p.contract), p.position))
        .collect();
    by_contract.retain(|_, q| *q != 0);
    let nonzero: BTreeMap<_, _> = contract_positions
        .iter()
        .filter(|(_, q)| **q != 0)
        .map(|(k, q)| (k.clone(), *q))
        .collect();
    prop_assert_eq!(&by_contract, &nonzero, "broker fills vs contract positions");

    // Contract legs: the fills of their broker orders.
    for co in &cos {
        for leg in &co.legs {
            let below: i64 = bos
                .iter()
                .filter(|b| b.parent == co.id && b.contract == leg.contract)
                .map(|b| b.fill)
                .sum();
            prop_assert_eq!(
                leg.fill,
                below,
                "contract order {} leg {}",
                co.id,
                leg.contract
            );
        }
    }

    // Instrument orders: their legs' fills; per (strategy, instrument), the strategy position.
    let mut by_strategy: BTreeMap<(String, InstrumentCode), i64> = BTreeMap::new();
    for io in &ios {
        let legs: i64 = cos
            .iter()
            .filter(|c| c.parent == io.id)
            .flat_map(|c| c.legs.iter().map(|l| l.fill))
            .sum();
        if io.order_type == OrderType::ZeroRoll {
            prop_assert_eq!(io.fill, 0, "zero-roll parent {} moved", io.id);
        } else {
            prop_assert_eq!(io.fill, legs, "instrument order {}", io.id);
            *by_strategy
                .entry((io.strategy.clone(), io.instrument.clone()))
                .or_default() += io.fill;
        }
    }
    by_strategy.retain(|_, q| *q != 0);
    let strategy_positions: BTreeMap<(String, InstrumentCode), i64> = store
        .strategy_positions()
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|p| p.position != 0)
        .map(|p| ((p.strategy, p.instrument), p.position))
        .collect();
    prop_assert_eq!(
        &by_strategy,
        &strategy_positions,
        "instrument fills vs strategy positions"
    );

    // Per instrument: strategies and contracts differ by what zero-roll spreads moved.
    for i in 0..INSTRUMENTS.len() {
        let c = code(i);
        let s: i64 = strategy_positions
            .iter()
            .filter(|((_, x), _)| *x == c)
            .map(|(_, q)| q)
            .sum();
        let k: i64 = contract_positions
            .iter()
            .filter(|((x, _), _)| *x == c)
            .map(|(_, q)| q)
            .sum();
        prop_assert_eq!(
            k - s,
            rolled.get(&c).copied().unwrap_or(0),
            "instrument {}",
            c
        );
    }

    // Over-fills: whatever is beyond an order is recorded, and locked its instrument.
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT broker_order_id, SUM(overfill), COUNT(*) FROM order_executions GROUP BY broker_order_id",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let recorded: HashMap<OrderId, (i64, i64)> =
        rows.into_iter().map(|(b, s, n)| (b, (s, n))).collect();
    prop_assert_eq!(
        recorded.values().map(|(_, n)| *n).sum::<i64>(),
        applied as i64,
        "one execution row per exec id"
    );
    let mut overfilled: BTreeSet<InstrumentCode> = BTreeSet::new();
    let mut family_over: HashMap<OrderId, i64> = HashMap::new();
    for b in &bos {
        let over = recorded.get(&b.id).map_or(0, |r| r.0);
        prop_assert_eq!(
            excess(b.trade, b.fill),
            over,
            "broker order {} trade {} fill {}",
            b.id,
            b.trade,
            b.fill
        );
        if over != 0 {
            overfilled.insert(b.instrument.clone());
        }
        if let Some(w) = written.iter().find(|w| w.order.id == b.id) {
            *family_over.entry(w.instrument_order).or_default() += over.abs();
        }
    }
    for io in ios.iter().filter(|o| o.order_type != OrderType::ZeroRoll) {
        let beyond = excess(io.trade, io.fill).abs();
        let recorded = family_over.get(&io.id).copied().unwrap_or(0);
        prop_assert!(
            beyond <= recorded,
            "instrument order {} is {} beyond its trade with {} recorded",
            io.id,
            beyond,
            recorded
        );
    }
    let locked: BTreeSet<InstrumentCode> = store
        .locks()
        .await
        .map_err(fail)?
        .into_iter()
        .map(|l| l.instrument)
        .collect();
    // Locked: over-filled, or filled after its order was cancelled.
    overfilled.extend(late.iter().cloned());
    prop_assert_eq!(
        locked,
        overfilled,
        "locked instruments vs over-filled or late-filled ones"
    );

    // Every position change is recorded with the position it produced.
    let changes: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT level, strategy, instrument, contract, change, position FROM position_changes ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut running: BTreeMap<(String, String, String, String), i64> = BTreeMap::new();
    for (level, strategy, instrument, contract, change, position) in changes {
        let p = running
            .entry((level.clone(), strategy, instrument, contract))
            .or_default();
        *p += change;
        prop_assert_eq!(*p, position, "a {} position change", level);
    }
    for ((level, strategy, instrument, contract), p) in running {
        let stored = if level == "strategy" {
            let key = (strategy, code_of(&instrument)?);
            strategy_positions.get(&key).copied().unwrap_or(0)
        } else {
            let contract = ContractId::parse(&contract).map_err(TestCaseError::fail)?;
            contract_positions
                .get(&(code_of(&instrument)?, contract))
                .copied()
                .unwrap_or(0)
        };
        prop_assert_eq!(p, stored, "recorded changes vs the {} position", level);
    }
    Ok(())
}

fn code_of(s: &str) -> Result<InstrumentCode, TestCaseError> {
    InstrumentCode::new(s).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn fills_move_every_level_once_and_overfills_are_recorded(s in scenario()) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        rt.block_on(run_scenario(&s))?;
    }
}

#[test]
fn split_and_excess() {
    assert_eq!(split(5, 3), vec![1, 1, 3]);
    assert_eq!(split(2, 3), vec![1, 1]);
    assert!(split(0, 2).is_empty());
    assert_eq!(excess(5, 7), 2);
    assert_eq!(excess(-5, -6), -1);
    assert_eq!(excess(5, 5), 0);
    assert_eq!(excess(5, -1), 0);
}
