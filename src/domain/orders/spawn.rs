//! Spawning contract orders from an instrument order by the instrument's roll state (§B16),
//! and the force-roll orders of §B17, as pure decisions.

use serde::Serialize;

use crate::domain::contract::ContractId;
use crate::domain::rolls::RollState;

/// What to do with a new instrument order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "plan", rename_all = "snake_case")]
pub enum SpawnPlan {
    /// One contract order per entry: (contract, trade).
    Children { legs: Vec<(ContractId, i64)> },
    /// No children now: the order waits on the stack (and why).
    Wait { reason: String },
}

/// The contract orders for `trade` in an instrument whose priced contract holds
/// `priced_position`, by roll state (§B16):
/// - `no_roll`, `no_open`: all in the priced contract;
/// - `passive`: reducing trades in the priced contract, opening ones in the forward, a trade
///   through zero split (priced gets −q, the forward the rest);
/// - `close`, `roll_adjusted`: wait;
/// - `force`, `force_outright`: a trade that reduces the priced position as `passive`, else wait.
pub fn plan_children(
    state: RollState,
    trade: i64,
    priced: ContractId,
    forward: Option<ContractId>,
    priced_position: i64,
) -> SpawnPlan {
    if trade == 0 {
        return SpawnPlan::Children { legs: Vec::new() };
    }
    match state {
        RollState::NoRoll | RollState::NoOpen => SpawnPlan::Children {
            legs: vec![(priced, trade)],
        },
        RollState::Passive => passive(trade, priced, forward, priced_position),
        RollState::Force | RollState::ForceOutright => {
            if priced_position != 0 && trade.signum() == -priced_position.signum() {
                passive(trade, priced, forward, priced_position)
            } else {
                SpawnPlan::Wait {
                    reason: format!(
                        "roll state {state}: only trades that reduce the priced position are spawned"
                    ),
                }
            }
        }
        RollState::Close | RollState::RollAdjusted => SpawnPlan::Wait {
            reason: format!("roll state {state}: orders wait until the roll is done"),
        },
    }
}

fn passive(trade: i64, priced: ContractId, forward: Option<ContractId>, q: i64) -> SpawnPlan {
    let Some(forward) = forward else {
        return SpawnPlan::Wait {
            reason: "passive roll without a forward contract".into(),
        };
    };
    let legs = if q == 0 || trade.signum() == q.signum() {
        vec![(forward, trade)]
    } else if (q + trade) == 0 || (q + trade).signum() == q.signum() {
        vec![(priced, trade)]
    } else {
        vec![(priced, -q), (forward, trade + q)]
    };
    SpawnPlan::Children { legs }
}

/// A force-roll order (§B17) for an instrument whose priced contract holds `q` ≠ 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ForceRoll {
    /// `force`: one spread contract order [priced −q, forward +q] under a zero-trade parent.
    Spread { legs: Vec<(ContractId, i64)> },
    /// `force_outright`: two outright contract orders under a zero-trade parent.
    Outright { legs: Vec<(ContractId, i64)> },
    /// `close`: the strategy with the largest position trades −q in the priced contract.
    Close { trade: i64 },
}

/// The force-roll order for `state`, or `None` when the state does not roll now or nothing
/// is held.
pub fn force_roll(
    state: RollState,
    priced: ContractId,
    forward: ContractId,
    q: i64,
) -> Option<ForceRoll> {
    if q == 0 {
        return None;
    }
    match state {
        RollState::Force => Some(ForceRoll::Spread {
            legs: vec![(priced, -q), (forward, q)],
        }),
        RollState::ForceOutright => Some(ForceRoll::Outright {
            legs: vec![(priced, -q), (forward, q)],
        }),
        RollState::Close => Some(ForceRoll::Close { trade: -q }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(m: u32) -> ContractId {
        ContractId::monthly(2026, m)
    }

    fn legs(plan: SpawnPlan) -> Vec<(ContractId, i64)> {
        match plan {
            SpawnPlan::Children { legs } => legs,
            SpawnPlan::Wait { reason } => panic!("waits: {reason}"),
        }
    }

    #[test]
    fn no_roll_trades_the_priced_contract() {
        assert_eq!(
            legs(plan_children(RollState::NoRoll, 3, c(3), Some(c(6)), 2)),
            vec![(c(3), 3)]
        );
    }

    #[test]
    fn passive_closes_in_the_priced_and_opens_in_the_forward() {
        let p = |t, q| legs(plan_children(RollState::Passive, t, c(3), Some(c(6)), q));
        assert_eq!(p(2, 0), vec![(c(6), 2)], "nothing held: forward");
        assert_eq!(p(2, 3), vec![(c(6), 2)], "increasing: forward");
        assert_eq!(p(-2, 3), vec![(c(3), -2)], "reducing: priced");
        assert_eq!(p(-3, 3), vec![(c(3), -3)], "to zero: priced");
        assert_eq!(
            p(5, -2),
            vec![(c(3), 2), (c(6), 3)],
            "the inventory's example"
        );
    }

    #[test]
    fn forced_and_closing_states_hold_what_they_must() {
        assert!(matches!(
            plan_children(RollState::Close, 1, c(3), Some(c(6)), 2),
            SpawnPlan::Wait { .. }
        ));
        assert!(matches!(
            plan_children(RollState::Force, 1, c(3), Some(c(6)), 2),
            SpawnPlan::Wait { .. }
        ));
        assert_eq!(
            legs(plan_children(RollState::Force, -1, c(3), Some(c(6)), 2)),
            vec![(c(3), -1)]
        );
        assert_eq!(
            force_roll(RollState::Force, c(3), c(6), 2),
            Some(ForceRoll::Spread {
                legs: vec![(c(3), -2), (c(6), 2)]
            })
        );
        assert_eq!(
            force_roll(RollState::Close, c(3), c(6), -2),
            Some(ForceRoll::Close { trade: 2 })
        );
        assert_eq!(force_roll(RollState::Passive, c(3), c(6), 2), None);
    }
}
