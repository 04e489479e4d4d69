//! Which backups are kept: the newest `keep_daily` (whatever their dates), and beyond those the
//! newest backup of each ISO week (UTC) that has none of the daily ones, for the newest
//! `keep_weekly` such weeks. Everything else has expired. A kind belongs to the set, not to a
//! backup: a backup is daily while it is among the newest, then its week's weekly if it is the
//! newest of its week, then gone.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Daily,
    Weekly,
    Expired,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::Weekly => "weekly",
            Kind::Expired => "expired",
        }
    }
}

/// The kind of each backup, in the order given; `backups` are (name, time) and names break ties
/// of equal times (later name = newer).
pub fn classify(
    backups: &[(String, DateTime<Utc>)],
    keep_daily: u32,
    keep_weekly: u32,
) -> Vec<Kind> {
    let mut order: Vec<usize> = (0..backups.len()).collect();
    order.sort_by(|&a, &b| (backups[b].1, &backups[b].0).cmp(&(backups[a].1, &backups[a].0)));
    let mut kinds = vec![Kind::Expired; backups.len()];
    let week = |t: DateTime<Utc>| {
        let w = t.iso_week();
        (w.year(), w.week())
    };
    let mut daily_weeks = HashSet::new();
    let mut weekly_weeks = HashSet::new();
    for (rank, &i) in order.iter().enumerate() {
        let w = week(backups[i].1);
        if rank < keep_daily as usize {
            kinds[i] = Kind::Daily;
            daily_weeks.insert(w);
        } else if !daily_weeks.contains(&w)
            && !weekly_weeks.contains(&w)
            && weekly_weeks.len() < keep_weekly as usize
        {
            kinds[i] = Kind::Weekly;
            weekly_weeks.insert(w);
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        // 2024-07-01 is a Monday.
        DateTime::parse_from_rfc3339("2024-07-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::days(day as i64)
            + chrono::Duration::hours(hour as i64)
    }

    /// Unique names, as in a destination (equal times get different names).
    fn named(times: &[DateTime<Utc>]) -> Vec<(String, DateTime<Utc>)> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    format!("systrade-backup-{}-{i:03}", t.format("%Y%m%dT%H%M%S")),
                    *t,
                )
            })
            .collect()
    }

    #[test]
    fn the_newest_are_daily_and_older_weeks_keep_their_newest() {
        // One backup a day for four weeks (days 0..28), newest last.
        let times: Vec<_> = (0..28).map(|d| at(d, 23)).collect();
        let kinds = classify(&named(&times), 3, 2);
        // Daily: days 27, 26, 25 (week 4, days 21..27). Weekly: week 3's newest (day 20) and
        // week 2's (day 13). Week 1 expired.
        let kept: Vec<(u32, Kind)> = kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| **k != Kind::Expired)
            .map(|(d, k)| (d as u32, *k))
            .collect();
        assert_eq!(
            kept,
            [
                (13, Kind::Weekly),
                (20, Kind::Weekly),
                (25, Kind::Daily),
                (26, Kind::Daily),
                (27, Kind::Daily)
            ]
        );
        assert_eq!(classify(&[], 7, 4), Vec::<Kind>::new());
        assert_eq!(
            classify(&named(&[at(0, 1), at(0, 2)]), 1, 4),
            [Kind::Expired, Kind::Daily],
            "the same week as a daily one: no weekly"
        );
    }

    proptest! {
        #[test]
        fn kept_sets_hold_the_newest_and_one_per_week(
            hours in proptest::collection::vec(0u32..(24 * 60), 0..40),
            keep_daily in 1u32..6,
            keep_weekly in 0u32..5,
        ) {
            let times: Vec<_> = hours.iter().map(|h| at(0, *h)).collect();
            let backups = named(&times);
            let kinds = classify(&backups, keep_daily, keep_weekly);
            let newest = (0..backups.len()).max_by_key(|&i| (backups[i].1, backups[i].0.clone()));
            if let Some(n) = newest {
                prop_assert_eq!(kinds[n], Kind::Daily);
            }
            let daily = kinds.iter().filter(|k| **k == Kind::Daily).count();
            prop_assert_eq!(daily, backups.len().min(keep_daily as usize));
            let mut weeks = HashSet::new();
            for (i, k) in kinds.iter().enumerate() {
                if *k == Kind::Weekly {
                    let w = backups[i].1.iso_week();
                    prop_assert!(weeks.insert((w.year(), w.week())), "two weeklies in a week");
                    // It is the newest of its week.
                    let newest_of_week = backups.iter().all(|(n, t)| {
                        t.iso_week() != w || (*t, n) <= (backups[i].1, &backups[i].0)
                    });
                    prop_assert!(newest_of_week, "a weekly that is not its week's newest");
                }
                // No expired backup is newer than a kept daily one.
                if *k == Kind::Expired {
                    let older_than_dailies = backups.iter().zip(&kinds).all(|((n, t), kk)| {
                        *kk != Kind::Daily || (*t, n) > (backups[i].1, &backups[i].0)
                    });
                    prop_assert!(older_than_dailies, "an expired backup newer than a daily one");
                }
            }
            prop_assert!(weeks.len() <= keep_weekly as usize);
        }
    }
}
