//! Position breaks (§B23): where the system's contract positions disagree with the broker's
//! (an external break: the instrument is locked until it is resolved), and where the strategy
//! positions summed per instrument disagree with the contract positions summed per instrument
//! (an internal break: reported, not locked, as pysystemtrade does).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ContractPosition, StrategyPosition};
use crate::domain::broker::BrokerPosition;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

/// A contract whose position the system and the broker see differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalBreak {
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    pub system: i64,
    pub broker: i64,
}

/// An instrument whose strategy positions do not add up to its contract positions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternalBreak {
    pub instrument: InstrumentCode,
    pub strategies: i64,
    pub contracts: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PositionBreaks {
    pub external: Vec<ExternalBreak>,
    pub internal: Vec<InternalBreak>,
}

impl PositionBreaks {
    pub fn is_empty(&self) -> bool {
        self.external.is_empty() && self.internal.is_empty()
    }

    /// Instruments with an external break, sorted, once each.
    pub fn instruments_to_lock(&self) -> Vec<InstrumentCode> {
        let mut out: Vec<InstrumentCode> =
            self.external.iter().map(|b| b.instrument.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The breaks between the three position views; a missing position is 0.
pub fn position_breaks(
    strategy: &[StrategyPosition],
    contract: &[ContractPosition],
    broker: &[BrokerPosition],
) -> PositionBreaks {
    let mut by_contract: BTreeMap<(InstrumentCode, ContractId), (i64, i64)> = BTreeMap::new();
    for p in contract {
        by_contract
            .entry((p.instrument.clone(), p.contract))
            .or_default()
            .0 += p.position;
    }
    for p in broker {
        by_contract
            .entry((p.instrument.clone(), p.contract))
            .or_default()
            .1 += p.quantity;
    }
    let external = by_contract
        .into_iter()
        .filter(|(_, (system, broker))| system != broker)
        .map(|((instrument, contract), (system, broker))| ExternalBreak {
            instrument,
            contract,
            system,
            broker,
        })
        .collect();
    let mut by_instrument: BTreeMap<InstrumentCode, (i64, i64)> = BTreeMap::new();
    for p in strategy {
        by_instrument.entry(p.instrument.clone()).or_default().0 += p.position;
    }
    for p in contract {
        by_instrument.entry(p.instrument.clone()).or_default().1 += p.position;
    }
    let internal = by_instrument
        .into_iter()
        .filter(|(_, (s, c))| s != c)
        .map(|(instrument, (strategies, contracts))| InternalBreak {
            instrument,
            strategies,
            contracts,
        })
        .collect();
    PositionBreaks { external, internal }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> InstrumentCode {
        InstrumentCode::new(s).expect("code")
    }

    #[test]
    fn breaks_are_found_at_both_levels() {
        let dec = ContractId::monthly(2026, 12);
        let mar = ContractId::monthly(2027, 3);
        let strategy = vec![StrategyPosition {
            strategy: "demo".into(),
            instrument: code("SP500"),
            position: 3,
        }];
        let contract = vec![
            ContractPosition {
                instrument: code("SP500"),
                contract: dec,
                position: 2,
            },
            ContractPosition {
                instrument: code("SP500"),
                contract: mar,
                position: 1,
            },
        ];
        let mut broker = vec![
            BrokerPosition {
                instrument: code("SP500"),
                contract: dec,
                quantity: 2,
            },
            BrokerPosition {
                instrument: code("SP500"),
                contract: mar,
                quantity: 1,
            },
        ];
        assert!(position_breaks(&strategy, &contract, &broker).is_empty());
        broker[1].quantity = 2;
        broker.push(BrokerPosition {
            instrument: code("GOLD"),
            contract: dec,
            quantity: -1,
        });
        let breaks = position_breaks(&strategy[..0], &contract, &broker);
        assert_eq!(breaks.external.len(), 2);
        assert_eq!(
            breaks.instruments_to_lock(),
            vec![code("GOLD"), code("SP500")]
        );
        assert_eq!(
            breaks.internal,
            vec![InternalBreak {
                instrument: code("SP500"),
                strategies: 0,
                contracts: 3
            }]
        );
    }
}
