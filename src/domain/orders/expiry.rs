//! §E decision (issue 14): a contract is not traded after its expiry. The stack handler checks
//! the contract of every leg it would spawn for an instrument order against the contract table;
//! a leg in a contract whose expiry (exact or approximate) is before today leaves the order on
//! the stack, unspawned, with a warning saying which roll state gets the instrument trading
//! again. A contract missing from the table is not refused (its expiry is unknown).

use chrono::NaiveDate;

use super::OrderId;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

/// Whether a contract expiring on `expiry` may no longer be traded on `today` (the day after
/// its expiry and later, as the "YOU NEED TO ROLL" check of sampling).
pub fn is_expired(expiry: NaiveDate, today: NaiveDate) -> bool {
    expiry < today
}

/// The warning for an instrument order not spawned because `contract` expired: names the
/// instrument, the order, the contract and its expiry, and the roll state to set — `force` to
/// roll a position still held in the priced contract, else `roll_adjusted` to roll the prices
/// onto the forward contract.
pub fn expired_contract_warning(
    instrument: &InstrumentCode,
    order: OrderId,
    contract: ContractId,
    expiry: NaiveDate,
    priced_position: i64,
) -> String {
    let what = if priced_position != 0 {
        format!(
            "set `systrade roll {instrument} --state force` to roll the position of \
             {priced_position:+} into the forward contract"
        )
    } else {
        format!(
            "set `systrade roll {instrument} --state roll_adjusted` to roll the prices onto the \
             forward contract"
        )
    };
    format!(
        "{instrument}: order {order} is not traded: contract {contract} expired on {expiry}; {what}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn expired_from_the_day_after_expiry() {
        assert!(!is_expired(d("2026-12-18"), d("2026-12-18")));
        assert!(is_expired(d("2026-12-18"), d("2026-12-19")));
        assert!(!is_expired(d("2026-12-18"), d("2026-12-07")));
    }

    #[test]
    fn the_warning_names_instrument_contract_expiry_and_state() {
        let sp = InstrumentCode::new("SP500").unwrap();
        let c = ContractId::parse("20261200").unwrap();
        let w = expired_contract_warning(&sp, 12, c, d("2026-12-18"), -2);
        assert_eq!(
            w,
            "SP500: order 12 is not traded: contract 20261200 expired on 2026-12-18; set \
             `systrade roll SP500 --state force` to roll the position of -2 into the forward \
             contract"
        );
        let w = expired_contract_warning(&sp, 3, c, d("2026-12-18"), 0);
        assert!(
            w.ends_with("--state roll_adjusted` to roll the prices onto the forward contract"),
            "{w}"
        );
    }
}
