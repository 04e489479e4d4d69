//! The SQLite price metadata store on a temporary file.

use std::collections::BTreeMap;

use chrono::TimeZone;

use super::*;
use crate::adapters::store::sqlite::Durability;
use crate::domain::merge::SpikeFound;
use crate::domain::sampling::{reconcile, ExpiryLookup, StopReason};
use crate::domain::series::parse_timestamp;

async fn open() -> (tempfile::TempDir, SqliteRunStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
        .await
        .unwrap();
    (dir, store)
}

fn code(s: &str) -> InstrumentCode {
    InstrumentCode::new(s).unwrap()
}

fn c(s: &str) -> ContractId {
    ContractId::parse(s).unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 10, 7, minute, 0).unwrap()
}

fn stored(contract: &str, expiry: &str, exact: bool, sampling: bool) -> StoredContract {
    StoredContract {
        contract: c(contract),
        expiry: d(expiry),
        expiry_is_exact: exact,
        sampling,
    }
}

#[tokio::test]
async fn contracts_upsert_list_and_update() {
    let (_dir, store) = open().await;
    let sp = code("SP500");
    store
        .upsert_contract(&sp, &stored("20240600", "2024-06-15", false, true), at(0))
        .await
        .unwrap();
    store
        .upsert_contract(&sp, &stored("20240300", "2024-03-15", true, false), at(0))
        .await
        .unwrap();
    store
        .upsert_contract(
            &code("US10"),
            &stored("20240300", "2024-03-19", true, true),
            at(0),
        )
        .await
        .unwrap();

    let all = store.contracts(&sp).await.unwrap();
    let ids: Vec<String> = all.iter().map(|r| r.contract.to_string()).collect();
    assert_eq!(ids, ["20240300", "20240600"]);
    assert_eq!(
        all[0].stored(),
        stored("20240300", "2024-03-15", true, false)
    );
    assert_eq!(all[0].updated_at, at(0));
    let sampled = store.sampled_contracts(&sp).await.unwrap();
    assert_eq!(sampled.len(), 1);
    assert_eq!(sampled[0].contract, c("20240600"));
    assert_eq!(
        store.instruments_with_contracts().await.unwrap(),
        [code("SP500"), code("US10")]
    );

    // Upsert replaces.
    store
        .upsert_contract(&sp, &stored("20240600", "2024-06-21", true, true), at(1))
        .await
        .unwrap();
    let r = store.contract(&sp, c("20240600")).await.unwrap().unwrap();
    assert_eq!(
        (r.expiry, r.expiry_is_exact, r.updated_at),
        (d("2024-06-21"), true, at(1))
    );

    store
        .set_sampling(&sp, c("20240300"), true, at(2))
        .await
        .unwrap();
    store
        .set_expiry(&sp, c("20240300"), d("2024-03-14"), true, at(3))
        .await
        .unwrap();
    let r = store.contract(&sp, c("20240300")).await.unwrap().unwrap();
    assert!(r.sampling);
    assert_eq!((r.expiry, r.updated_at), (d("2024-03-14"), at(3)));

    assert!(store.contract(&sp, c("20250300")).await.unwrap().is_none());
    let err = store
        .set_sampling(&sp, c("20250300"), true, at(4))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        MetadataError::UnknownContract {
            instrument: sp.clone(),
            contract: c("20250300")
        }
    );
    assert!(store
        .set_expiry(&sp, c("20250300"), d("2025-03-15"), true, at(4))
        .await
        .is_err());
}

#[tokio::test]
async fn sampling_plans_apply_atomically() {
    let (_dir, store) = open().await;
    let sp = code("SP500");
    store
        .upsert_contract(&sp, &stored("20231200", "2023-12-15", true, true), at(0))
        .await
        .unwrap();
    store
        .upsert_contract(&sp, &stored("20240300", "2024-03-15", false, false), at(0))
        .await
        .unwrap();
    let table: Vec<StoredContract> = store
        .contracts(&sp)
        .await
        .unwrap()
        .iter()
        .map(ContractRecord::stored)
        .collect();
    let chain = [c("20240300"), c("20240600")];
    let lookups: BTreeMap<ContractId, ExpiryLookup> = [
        (c("20240300"), ExpiryLookup::Found(d("2024-03-15"))),
        (c("20240600"), ExpiryLookup::Unavailable),
    ]
    .into_iter()
    .collect();
    let plan = reconcile(
        &chain,
        &table,
        &lookups,
        [c("20240300"), c("20240600"), c("20231200")],
        14,
        d("2024-01-10"),
    );
    assert!(plan.needs_roll()); // the carry 20231200 expired
    store
        .apply_sampling_changes(&sp, &plan.changes, at(5))
        .await
        .unwrap();
    let after: Vec<StoredContract> = store
        .contracts(&sp)
        .await
        .unwrap()
        .iter()
        .map(ContractRecord::stored)
        .collect();
    assert_eq!(
        after,
        [
            stored("20231200", "2023-12-15", true, false),
            stored("20240300", "2024-03-15", true, true),
            stored("20240600", "2024-06-15", false, true),
        ]
    );

    // Applying the same plan again fails (the Add exists) and changes nothing.
    let err = store
        .apply_sampling_changes(&sp, &plan.changes, at(6))
        .await
        .unwrap_err();
    assert!(matches!(err, MetadataError::ContractExists { .. }), "{err}");
    let again: Vec<StoredContract> = store
        .contracts(&sp)
        .await
        .unwrap()
        .iter()
        .map(ContractRecord::stored)
        .collect();
    assert_eq!(again, after);
    // A change of an unknown contract fails as a whole too.
    let changes = [
        SamplingChange::StopSampling {
            contract: c("20240600"),
            reason: StopReason::NotInChain,
        },
        SamplingChange::StartSampling {
            contract: c("20990300"),
        },
    ];
    let err = store
        .apply_sampling_changes(&sp, &changes, at(7))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetadataError::UnknownContract { .. }),
        "{err}"
    );
    assert!(
        store
            .contract(&sp, c("20240600"))
            .await
            .unwrap()
            .unwrap()
            .sampling
    );
    store.apply_sampling_changes(&sp, &[], at(8)).await.unwrap();
}

#[tokio::test]
async fn roll_states_default_to_no_roll_and_keep_a_history() {
    let (_dir, store) = open().await;
    let sp = code("SP500");
    assert_eq!(store.roll_state(&sp).await.unwrap(), RollState::NoRoll);
    assert!(store.roll_states().await.unwrap().is_empty());

    // Same as the default: nothing recorded.
    assert_eq!(
        store
            .set_roll_state(&sp, None, RollState::NoRoll, at(0), None)
            .await
            .unwrap(),
        None
    );
    let change = store
        .set_roll_state(
            &sp,
            Some(RollState::NoRoll),
            RollState::Passive,
            at(1),
            Some("auto"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.from, change.to),
        (RollState::NoRoll, RollState::Passive)
    );
    assert_eq!(change.at, at(1));
    assert_eq!(change.note.as_deref(), Some("auto"));
    assert_eq!(store.roll_state(&sp).await.unwrap(), RollState::Passive);

    // A stale expectation is refused and changes nothing.
    let err = store
        .set_roll_state(
            &sp,
            Some(RollState::NoRoll),
            RollState::RollAdjusted,
            at(2),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        MetadataError::RollStateConflict {
            instrument: sp.clone(),
            expected: RollState::NoRoll,
            actual: RollState::Passive
        }
    );
    assert_eq!(store.roll_state(&sp).await.unwrap(), RollState::Passive);

    store
        .set_roll_state(&sp, None, RollState::RollAdjusted, at(3), Some("user"))
        .await
        .unwrap();
    store
        .set_roll_state(&sp, None, RollState::NoRoll, at(4), Some("rolled"))
        .await
        .unwrap();
    store
        .set_roll_state(&code("US10"), None, RollState::NoOpen, at(5), None)
        .await
        .unwrap();

    let states = store.roll_states().await.unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(
        (
            states[0].instrument.as_str(),
            states[0].state,
            states[0].updated_at
        ),
        ("SP500", RollState::NoRoll, at(4))
    );
    let history = store.roll_state_history(Some(&sp), 10).await.unwrap();
    let steps: Vec<(RollState, RollState)> = history.iter().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        steps,
        [
            (RollState::RollAdjusted, RollState::NoRoll),
            (RollState::Passive, RollState::RollAdjusted),
            (RollState::NoRoll, RollState::Passive),
        ]
    );
    assert_eq!(history[0].at, at(4));
    assert_eq!(store.roll_state_history(None, 10).await.unwrap().len(), 4);
    assert_eq!(
        store.roll_state_history(None, 1).await.unwrap()[0].instrument,
        code("US10")
    );
}

fn spike(subject: SpikeSubject, frequency: Frequency, when: &str, value: f64) -> NewSpike {
    NewSpike {
        subject,
        frequency,
        spike: SpikeFound {
            ts: parse_timestamp(when).unwrap(),
            value,
            ratio: 9.5,
        },
    }
}

fn contract_subject(i: &str, k: &str) -> SpikeSubject {
    SpikeSubject::Contract {
        instrument: code(i),
        contract: c(k),
    }
}

#[tokio::test]
async fn spikes_are_recorded_once_listed_and_resolved() {
    let (_dir, store) = open().await;
    let sp_hourly = spike(
        contract_subject("SP500", "20240300"),
        Frequency::Hourly,
        "2024-01-09 14:00:00",
        4800.5,
    );
    let first = store.record_spike(&sp_hourly, at(0)).await.unwrap();
    assert!(first.new);
    // The same spike again (next day's run): not duplicated.
    let again = store.record_spike(&sp_hourly, at(1)).await.unwrap();
    assert_eq!(
        again,
        SpikeRecorded {
            id: first.id,
            new: false
        }
    );
    // Same timestamp, other frequency or contract: different spikes.
    let daily = store
        .record_spike(
            &spike(
                contract_subject("SP500", "20240300"),
                Frequency::Daily,
                "2024-01-09 14:00:00",
                4800.5,
            ),
            at(1),
        )
        .await
        .unwrap();
    assert!(daily.new);
    let fx = spike(
        SpikeSubject::Fx {
            currency: "EUR".into(),
        },
        Frequency::Daily,
        "2024-01-09 23:00:00",
        1.5,
    );
    let fx_first = store.record_spike(&fx, at(2)).await.unwrap();
    assert!(fx_first.new);
    assert_eq!(
        store.record_spike(&fx, at(3)).await.unwrap().id,
        fx_first.id
    );

    let pending = store.spikes(&SpikeQuery::default()).await.unwrap();
    assert_eq!(pending.len(), 3);
    let p = &pending[0];
    assert_eq!(p.id, first.id);
    assert_eq!(p.subject, contract_subject("SP500", "20240300"));
    assert_eq!(p.frequency, Frequency::Hourly);
    assert_eq!(p.ts, parse_timestamp("2024-01-09 14:00:00").unwrap());
    assert_eq!((p.value, p.ratio), (4800.5, 9.5));
    assert_eq!(
        (p.detected_at, p.status, p.resolved_at),
        (at(0), SpikeStatus::Pending, None)
    );
    assert_eq!(
        p.describe(),
        "SP500 20240300 hourly: price spike at 2024-01-09 14:00:00: value 4800.5 moved 9.50 \
         times the average absolute daily change"
    );
    assert_eq!(pending[2].subject.to_string(), "FX EUR");
    let only_sp = store
        .spikes(&SpikeQuery {
            instrument: Some(code("SP500")),
            ..SpikeQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(only_sp.len(), 2);

    let accepted = store
        .resolve_spike(first.id, SpikeResolution::Accept, at(10))
        .await
        .unwrap();
    assert_eq!(
        (accepted.status, accepted.resolved_at),
        (SpikeStatus::Accepted, Some(at(10)))
    );
    let err = store
        .resolve_spike(first.id, SpikeResolution::Reject, at(11))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        MetadataError::SpikeAlreadyResolved {
            status: SpikeStatus::Accepted,
            ..
        }
    ));
    assert!(err.to_string().contains("already accepted"), "{err}");
    assert_eq!(
        store
            .resolve_spike(9999, SpikeResolution::Accept, at(11))
            .await
            .unwrap_err(),
        MetadataError::UnknownSpike { id: 9999 }
    );
    store
        .resolve_spike(fx_first.id, SpikeResolution::Reject, at(12))
        .await
        .unwrap();

    assert_eq!(store.spikes(&SpikeQuery::default()).await.unwrap().len(), 1);
    let all = store
        .spikes(&SpikeQuery {
            status: None,
            ..SpikeQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let rejected = store
        .spikes(&SpikeQuery {
            status: Some(SpikeStatus::Rejected),
            ..SpikeQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].id, fx_first.id);
    assert_eq!(
        store.spike(first.id).await.unwrap().unwrap().status,
        SpikeStatus::Accepted
    );
    assert!(store.spike(9999).await.unwrap().is_none());

    // Once resolved, finding the same spike again records a new pending one.
    let renewed = store.record_spike(&sp_hourly, at(20)).await.unwrap();
    assert!(renewed.new);
    assert_ne!(renewed.id, first.id);
    let limited = store
        .spikes(&SpikeQuery {
            status: None,
            limit: Some(2),
            ..SpikeQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
}

#[tokio::test]
async fn one_store_serves_every_trait_object() {
    let (_dir, store) = open().await;
    let store: std::sync::Arc<dyn PriceMetadataStore> = std::sync::Arc::new(store);
    assert_eq!(
        store.roll_state(&code("SP500")).await.unwrap(),
        RollState::NoRoll
    );
    assert!(store.contracts(&code("SP500")).await.unwrap().is_empty());
    assert!(store
        .spikes(&SpikeQuery::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn concurrent_writers_do_not_duplicate_or_lose_changes() {
    let (_dir, store) = open().await;
    let sp = code("SP500");
    let s = spike(
        contract_subject("SP500", "20240300"),
        Frequency::Daily,
        "2024-01-09 23:00:00",
        1.0,
    );
    let (a, b) = tokio::join!(store.record_spike(&s, at(0)), store.record_spike(&s, at(0)));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert!(a.new != b.new, "exactly one recorded: {a:?} {b:?}");

    // Two decisions made on the same read: exactly one applies.
    let (x, y) = tokio::join!(
        store.set_roll_state(
            &sp,
            Some(RollState::NoRoll),
            RollState::Passive,
            at(1),
            None
        ),
        store.set_roll_state(&sp, Some(RollState::NoRoll), RollState::NoOpen, at(1), None),
    );
    assert!(x.is_ok() != y.is_ok(), "{x:?} {y:?}");
    assert_eq!(
        store.roll_state_history(Some(&sp), 10).await.unwrap().len(),
        1
    );
}
