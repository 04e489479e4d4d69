//! Table tests of the sampled chain and its reconciliation with the contract table.

use super::*;
use crate::domain::instrument::{InstrumentCode, RollCycle};

fn c(s: &str) -> ContractId {
    ContractId::parse(s).unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn params(priced: &str, hold: &str, expiry_offset: i32) -> RollParameters {
    RollParameters {
        code: InstrumentCode::new("TEST").unwrap(),
        hold_cycle: RollCycle::parse(hold).unwrap(),
        roll_offset_days: -5,
        carry_offset: -1,
        priced_cycle: RollCycle::parse(priced).unwrap(),
        expiry_offset,
    }
}

fn ids(v: &[ContractId]) -> Vec<String> {
    v.iter().map(|c| c.to_string()).collect()
}

#[test]
fn chain_ends_one_priced_contract_after_the_furthest_and_reaches_back_100_days() {
    // (price, forward, carry, priced cycle, expiry offset, today, expected chain)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        i32,
        &'a str,
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        (
            "20240300",
            "20240600",
            "20231200",
            "HMUZ",
            14,
            "2024-01-10",
            &["20231200", "20240300", "20240600", "20240900"],
        ),
        // The furthest is the carry (carry offset +1).
        (
            "20240300",
            "20240600",
            "20240900",
            "HMUZ",
            14,
            "2024-01-10",
            &["20231200", "20240300", "20240600", "20240900", "20241200"],
        ),
        // Monthly priced cycle: every month back to the cutoff.
        (
            "20240200",
            "20240300",
            "20240100",
            "FGHJKMNQUVXZ",
            20,
            "2024-01-10",
            &[
                "20231000", "20231100", "20231200", "20240100", "20240200", "20240300", "20240400",
            ],
        ),
        // A furthest month outside the priced cycle: the chain ends at the next cycle month.
        (
            "20240300",
            "20240500",
            "20240100",
            "HMUZ",
            14,
            "2024-01-10",
            &["20231200", "20240300", "20240600"],
        ),
        // Year wrap.
        (
            "20241200",
            "20250300",
            "20240900",
            "HMUZ",
            14,
            "2024-11-01",
            &["20240900", "20241200", "20250300", "20250600"],
        ),
    ];
    for (p, f, cr, cycle, offset, today, expected) in cases {
        let chain = sampled_chain([c(p), c(f), c(cr)], &params(cycle, "Z", *offset), d(today));
        assert_eq!(ids(&chain), *expected, "case {p} {f} {cr} {cycle} {today}");
    }
}

#[test]
fn chain_cutoff_includes_an_expiry_exactly_100_days_ago() {
    // 2024-01-10 - 100 days = 2023-10-02; 20231000 with offset 1 expires 2023-10-02.
    let p = params("FGHJKMNQUVXZ", "Z", 1);
    let chain = sampled_chain([c("20231200"); 3], &p, d("2024-01-10"));
    assert_eq!(chain.first().copied(), Some(c("20231000")));
    let chain = sampled_chain([c("20231200"); 3], &p, d("2024-01-11"));
    assert_eq!(chain.first().copied(), Some(c("20231100")));
}

#[test]
fn stale_multiple_prices_give_an_empty_chain() {
    let chain = sampled_chain(
        [c("20200300"); 3],
        &params("HMUZ", "Z", 14),
        d("2024-01-10"),
    );
    assert!(chain.is_empty());
}

fn stored(contract: &str, expiry: &str, exact: bool, sampling: bool) -> StoredContract {
    StoredContract {
        contract: c(contract),
        expiry: d(expiry),
        expiry_is_exact: exact,
        sampling,
    }
}

fn lookups(v: &[(&str, ExpiryLookup)]) -> BTreeMap<ContractId, ExpiryLookup> {
    v.iter().map(|(k, l)| (c(k), *l)).collect()
}

const TODAY: &str = "2024-01-10";
const KEY: [&str; 3] = ["20240300", "20240600", "20231200"];

fn run(
    chain: &[&str],
    table: &[StoredContract],
    looked_up: &[(&str, ExpiryLookup)],
) -> SamplingPlan {
    let chain: Vec<ContractId> = chain.iter().map(|s| c(s)).collect();
    reconcile(
        &chain,
        table,
        &lookups(looked_up),
        [c(KEY[0]), c(KEY[1]), c(KEY[2])],
        14,
        d(TODAY),
    )
}

#[test]
fn reconciliation_rules() {
    use ExpiryLookup::*;
    struct Case {
        name: &'static str,
        chain: &'static [&'static str],
        table: Vec<StoredContract>,
        lookups: Vec<(&'static str, ExpiryLookup)>,
        changes: Vec<SamplingChange>,
        sampling: &'static [&'static str],
    }
    let cases = vec![
        Case {
            name: "new chain contract: added sampling, approximate expiry",
            chain: &["20240300"],
            table: vec![],
            lookups: vec![("20240300", Unavailable)],
            changes: vec![SamplingChange::Add {
                contract: c("20240300"),
                expiry: d("2024-03-15"),
                expiry_is_exact: false,
                sampling: true,
                stop_reason: None,
            }],
            sampling: &["20240300"],
        },
        Case {
            name: "new chain contract with a known expiry: added with it",
            chain: &["20240300"],
            table: vec![],
            lookups: vec![("20240300", Found(d("2024-03-19")))],
            changes: vec![SamplingChange::Add {
                contract: c("20240300"),
                expiry: d("2024-03-19"),
                expiry_is_exact: true,
                sampling: true,
                stop_reason: None,
            }],
            sampling: &["20240300"],
        },
        Case {
            name: "new chain contract not listed: recorded, not sampling",
            chain: &["20240900"],
            table: vec![],
            lookups: vec![("20240900", NotFound)],
            changes: vec![SamplingChange::Add {
                contract: c("20240900"),
                expiry: d("2024-09-15"),
                expiry_is_exact: false,
                sampling: false,
                stop_reason: Some(StopReason::NotFound),
            }],
            sampling: &[],
        },
        Case {
            name: "expired chain contract not in the table: recorded, not sampling",
            chain: &["20231200"],
            table: vec![],
            lookups: vec![("20231200", Found(d("2023-12-15")))],
            changes: vec![SamplingChange::Add {
                contract: c("20231200"),
                expiry: d("2023-12-15"),
                expiry_is_exact: true,
                sampling: false,
                stop_reason: Some(StopReason::Expired {
                    expiry: d("2023-12-15"),
                }),
            }],
            sampling: &[],
        },
        Case {
            name: "expired chain contract already stopped: no change",
            chain: &["20231200"],
            table: vec![stored("20231200", "2023-12-15", true, false)],
            lookups: vec![("20231200", Found(d("2023-12-15")))],
            changes: vec![],
            sampling: &[],
        },
        Case {
            name: "stored chain contract not sampling: starts",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-21", true, false)],
            lookups: vec![("20240600", Found(d("2024-06-21")))],
            changes: vec![SamplingChange::StartSampling {
                contract: c("20240600"),
            }],
            sampling: &["20240600"],
        },
        Case {
            name: "expiry changed: updated",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-15", false, true)],
            lookups: vec![("20240600", Found(d("2024-06-21")))],
            changes: vec![SamplingChange::UpdateExpiry {
                contract: c("20240600"),
                from: d("2024-06-15"),
                to: d("2024-06-21"),
                expiry_is_exact: true,
            }],
            sampling: &["20240600"],
        },
        Case {
            name: "approximate expiry confirmed: marked exact",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-15", false, true)],
            lookups: vec![("20240600", Found(d("2024-06-15")))],
            changes: vec![SamplingChange::UpdateExpiry {
                contract: c("20240600"),
                from: d("2024-06-15"),
                to: d("2024-06-15"),
                expiry_is_exact: true,
            }],
            sampling: &["20240600"],
        },
        Case {
            name: "same exact expiry: no change",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-21", true, true)],
            lookups: vec![("20240600", Found(d("2024-06-21")))],
            changes: vec![],
            sampling: &["20240600"],
        },
        Case {
            name: "source unavailable: nothing changes on its account",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-15", false, true)],
            lookups: vec![("20240600", Unavailable)],
            changes: vec![],
            sampling: &["20240600"],
        },
        Case {
            name: "no answer at all counts as unavailable",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-15", false, true)],
            lookups: vec![],
            changes: vec![],
            sampling: &["20240600"],
        },
        Case {
            name: "sampling contract not found: stops",
            chain: &["20240600"],
            table: vec![stored("20240600", "2024-06-15", false, true)],
            lookups: vec![("20240600", NotFound)],
            changes: vec![SamplingChange::StopSampling {
                contract: c("20240600"),
                reason: StopReason::NotFound,
            }],
            sampling: &[],
        },
        Case {
            name: "sampling contract expired: stops",
            chain: &[],
            table: vec![stored("20231200", "2023-12-15", true, true)],
            lookups: vec![("20231200", Unavailable)],
            changes: vec![SamplingChange::StopSampling {
                contract: c("20231200"),
                reason: StopReason::Expired {
                    expiry: d("2023-12-15"),
                },
            }],
            sampling: &[],
        },
        Case {
            name: "expiry today is not expired",
            chain: &["20240100"],
            table: vec![stored("20240100", TODAY, true, true)],
            lookups: vec![],
            changes: vec![],
            sampling: &["20240100"],
        },
        Case {
            name: "exact expiry earlier than thought: updated, then stops as expired",
            chain: &["20240100"],
            table: vec![stored("20240100", "2024-01-15", false, true)],
            lookups: vec![("20240100", Found(d("2024-01-09")))],
            changes: vec![
                SamplingChange::UpdateExpiry {
                    contract: c("20240100"),
                    from: d("2024-01-15"),
                    to: d("2024-01-09"),
                    expiry_is_exact: true,
                },
                SamplingChange::StopSampling {
                    contract: c("20240100"),
                    reason: StopReason::Expired {
                        expiry: d("2024-01-09"),
                    },
                },
            ],
            sampling: &[],
        },
        Case {
            name: "sampling contract out of the chain: stops",
            chain: &["20240300"],
            table: vec![
                stored("20240300", "2024-03-15", true, true),
                stored("20250300", "2025-03-15", true, true),
            ],
            lookups: vec![("20250300", Found(d("2025-03-15")))],
            changes: vec![SamplingChange::StopSampling {
                contract: c("20250300"),
                reason: StopReason::NotInChain,
            }],
            sampling: &["20240300"],
        },
        Case {
            name: "stopped contract out of the chain: left alone",
            chain: &["20240300"],
            table: vec![
                stored("20240300", "2024-03-15", true, true),
                stored("20200300", "2020-03-15", false, false),
            ],
            lookups: vec![],
            changes: vec![],
            sampling: &["20240300"],
        },
    ];
    for case in cases {
        let plan = run(case.chain, &case.table, &case.lookups);
        assert_eq!(plan.changes, case.changes, "{}", case.name);
        assert_eq!(ids(&plan.sampling), case.sampling, "{}", case.name);
    }
}

#[test]
fn look_ups_cover_the_chain_and_sampling_contracts() {
    let table = [
        stored("20240300", "2024-03-15", true, true),
        stored("20230300", "2023-03-15", true, false),
        stored("20250300", "2025-03-15", true, true),
    ];
    let chain = [c("20240600"), c("20240300")];
    assert_eq!(
        ids(&contracts_to_look_up(&chain, &table)),
        ["20240300", "20240600", "20250300"]
    );
}

#[test]
fn an_expired_key_contract_means_you_need_to_roll() {
    // Key contracts: price 20240300, forward 20240600, carry 20231200.
    let table = [
        stored("20231200", "2023-12-15", true, false),
        stored("20240300", "2024-03-15", true, true),
    ];
    let plan = run(&["20240300", "20240600"], &table, &[]);
    assert!(plan.needs_roll());
    assert_eq!(
        plan.expired_key_contracts,
        vec![ExpiredKeyContract {
            role: ContractRole::Carry,
            contract: c("20231200"),
            expiry: d("2023-12-15"),
        }]
    );
    let warning = plan.roll_warning("SP500").unwrap();
    assert!(
        warning.contains("carry contract 20231200 expired 2023-12-15"),
        "{warning}"
    );
    assert!(warning.contains("YOU NEED TO ROLL"), "{warning}");
}

#[test]
fn key_contracts_use_looked_up_then_approximate_expiries() {
    // The price contract 20240300 is not in the table: approximate expiry 2024-03-15, alive.
    let plan = run(&[], &[], &[]);
    assert_eq!(plan.expired_key_contracts.len(), 1, "{plan:?}"); // the carry 20231200
                                                                 // A looked-up exact expiry in the past makes the price contract expired.
    let plan = run(
        &["20240300"],
        &[],
        &[("20240300", ExpiryLookup::Found(d("2024-01-09")))],
    );
    let roles: Vec<ContractRole> = plan.expired_key_contracts.iter().map(|k| k.role).collect();
    assert_eq!(roles, [ContractRole::Price, ContractRole::Carry]);
    // Nothing expired: no warning.
    let plan = reconcile(
        &[],
        &[],
        &BTreeMap::new(),
        [c("20240300"), c("20240600"), c("20240900")],
        14,
        d(TODAY),
    );
    assert!(!plan.needs_roll());
    assert_eq!(plan.roll_warning("SP500"), None);
}

#[test]
fn changes_read_well() {
    let add = SamplingChange::Add {
        contract: c("20240300"),
        expiry: d("2024-03-15"),
        expiry_is_exact: false,
        sampling: true,
        stop_reason: None,
    };
    assert_eq!(
        add.to_string(),
        "contract 20240300 added and sampling (expiry 2024-03-15, approximate)"
    );
    let stop = SamplingChange::StopSampling {
        contract: c("20231200"),
        reason: StopReason::Expired {
            expiry: d("2023-12-15"),
        },
    };
    assert_eq!(
        stop.to_string(),
        "contract 20231200 stopped sampling: expired on 2023-12-15"
    );
    assert_eq!(stop.contract(), c("20231200"));
}

#[test]
fn current_contracts_are_the_last_rows() {
    let mut m = MultiplePrices::default();
    assert_eq!(current_contracts(&m), None);
    m.ts = vec![1, 2];
    m.price = vec![1.0, 2.0];
    m.forward = vec![1.0, 2.0];
    m.carry = vec![1.0, 2.0];
    m.price_contract = vec![c("20231200"), c("20240300")];
    m.forward_contract = vec![c("20240300"), c("20240600")];
    m.carry_contract = vec![c("20230900"), c("20231200")];
    assert_eq!(
        current_contracts(&m),
        Some([c("20240300"), c("20240600"), c("20231200")])
    );
}

#[test]
fn market_data_answers_become_lookups() {
    use crate::domain::ports::MarketDataError;
    let cases = [
        (
            Ok(Some(d("2024-03-15"))),
            ExpiryLookup::Found(d("2024-03-15")),
        ),
        (Ok(None), ExpiryLookup::NotFound),
        (
            Err(MarketDataError::UnknownContract {
                instrument: "SP500".into(),
                contract: c("20240300"),
            }),
            ExpiryLookup::NotFound,
        ),
        (
            Err(MarketDataError::Unavailable("timeout".into())),
            ExpiryLookup::Unavailable,
        ),
        (
            Err(MarketDataError::UnknownInstrument("SP500".into())),
            ExpiryLookup::Unavailable,
        ),
    ];
    for (result, expected) in cases {
        assert_eq!(ExpiryLookup::from_source(&result), expected, "{result:?}");
    }
}
