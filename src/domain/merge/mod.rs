//! Merging price series the way pysystemtrade's production code does:
//!
//! * [`spike_check_merge`] / [`spike_check_merge_series`]: append-only merge of newly downloaded
//!   bars into stored bars (old rows are never touched; only rows after the last stored
//!   timestamp are added), followed by the spike check on the merged closes from the merge join
//!   date onward (B3).
//! * [`merge_daily_and_hourly`]: the "merged" per-contract series, daily and hourly bars
//!   concatenated, duplicate timestamps resolved in favour of the daily bar (B4).
//! * [`update_multiple_prices`]: the daily multiple-prices update, merging each column with the
//!   latest closes of its current contract under the label-column rules (B6).
//! * [`full_merge`]: keep every existing non-NaN value, fill existing NaNs, append new timestamps.
//!
//! Inputs are assumed sorted by timestamp unless a function says otherwise; functions that
//! depend on it check it and return an error.

use super::contract::ContractId;
use super::series::{
    check_order, format_timestamp, ContractPrices, Micros, MultiplePrices, OrderError, PriceSeries,
};

/// The result of an append-only merge that passed the spike check.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome<T> {
    /// Old rows followed by the accepted new rows.
    pub merged: T,
    /// How many rows were added (0: nothing to write).
    pub new_rows: usize,
}

/// The first price that moved more than the spike threshold allows; nothing was merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "price spike at {}: value {value} moved {ratio:.2} times the average absolute daily change",
    format_timestamp(*.ts)
)]
pub struct SpikeFound {
    /// Timestamp of the offending price.
    pub ts: Micros,
    /// The price at `ts`.
    pub value: f64,
    /// Its absolute daily-unit change divided by the average absolute daily-unit change.
    pub ratio: f64,
}

/// Why a multiple-prices update failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    #[error("stored multiple prices are empty: nothing to update (build them first)")]
    EmptyStored,
    #[error("stored multiple prices have columns of different lengths ({rows} timestamps)")]
    Inconsistent { rows: usize },
    #[error("{column} series: {source}")]
    Unordered {
        column: &'static str,
        source: OrderError,
    },
    #[error("{column} contract unknown at {} after the merge (no earlier row to fill it from)", format_timestamp(*.ts))]
    MissingContract { column: &'static str, ts: Micros },
}

// ---------------------------------------------------------------------------------------------
// Append-only merge with spike check (B3)
// ---------------------------------------------------------------------------------------------

/// Which rows of `old` and `new` make up an append-only merge, in order.
struct AppendPlan {
    /// `(from_new, row)` per merged row.
    rows: Vec<(bool, usize)>,
    /// First timestamp taken from the new data; `None` when there was no old data (then
    /// everything is checked).
    join: Option<Micros>,
}

/// Plans pysystemtrade's append-only merge. `None`: nothing new, keep the old data as it is.
/// Old rows are all kept; new rows strictly after the last old timestamp are appended; the
/// concatenation is sorted (stably) and duplicate timestamps keep their first row.
fn plan_append(old_ts: &[Micros], new_ts: &[Micros]) -> Option<AppendPlan> {
    if new_ts.is_empty() {
        return None;
    }
    let mut rows: Vec<(Micros, bool, usize)> = Vec::with_capacity(old_ts.len() + new_ts.len());
    let join = match old_ts.last() {
        None => {
            rows.extend(new_ts.iter().enumerate().map(|(i, t)| (*t, true, i)));
            None
        }
        Some(&last_old) => {
            rows.extend(old_ts.iter().enumerate().map(|(i, t)| (*t, false, i)));
            let before = rows.len();
            rows.extend(
                new_ts
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| **t > last_old)
                    .map(|(i, t)| (*t, true, i)),
            );
            if rows.len() == before {
                return None;
            }
            rows[before..].iter().map(|r| r.0).min()
        }
    };
    // Stable: an already sorted input stays in place (a single run), and among equal
    // timestamps the earlier row is kept.
    rows.sort_by_key(|r| r.0);
    rows.dedup_by_key(|r| r.0);
    Some(AppendPlan {
        rows: rows.into_iter().map(|(_, n, i)| (n, i)).collect(),
        join,
    })
}

fn gather(plan: &[(bool, usize)], old: &[f64], new: &[f64]) -> Vec<f64> {
    plan.iter()
        .map(|(from_new, i)| if *from_new { new[*i] } else { old[*i] })
        .collect()
}

fn gather_ts(plan: &[(bool, usize)], old: &[Micros], new: &[Micros]) -> Vec<Micros> {
    plan.iter()
        .map(|(from_new, i)| if *from_new { new[*i] } else { old[*i] })
        .collect()
}

/// Merges newly downloaded bars into stored bars of one contract (append only) and spike-checks
/// the merged closes from the merge join date on (all of them when nothing was stored).
/// `threshold` is pysystemtrade's `max_price_spike` (8.0 by default).
pub fn spike_check_merge(
    old: &ContractPrices,
    new: &ContractPrices,
    threshold: f64,
) -> Result<MergeOutcome<ContractPrices>, SpikeFound> {
    let Some(plan) = plan_append(&old.ts, &new.ts) else {
        return Ok(MergeOutcome {
            merged: old.clone(),
            new_rows: 0,
        });
    };
    let rows = &plan.rows;
    let merged = ContractPrices {
        ts: gather_ts(rows, &old.ts, &new.ts),
        open: gather(rows, &old.open, &new.open),
        high: gather(rows, &old.high, &new.high),
        low: gather(rows, &old.low, &new.low),
        close: gather(rows, &old.close, &new.close),
        volume: gather(rows, &old.volume, &new.volume),
    };
    if let Some(spike) = first_spike(&merged.ts, &merged.close, plan.join, threshold) {
        return Err(spike);
    }
    let new_rows = rows.iter().filter(|(from_new, _)| *from_new).count();
    Ok(MergeOutcome { merged, new_rows })
}

/// [`spike_check_merge`] for a single-valued series (FX prices).
pub fn spike_check_merge_series(
    old: &PriceSeries,
    new: &PriceSeries,
    threshold: f64,
) -> Result<MergeOutcome<PriceSeries>, SpikeFound> {
    let Some(plan) = plan_append(&old.ts, &new.ts) else {
        return Ok(MergeOutcome {
            merged: old.clone(),
            new_rows: 0,
        });
    };
    let rows = &plan.rows;
    let merged = PriceSeries {
        ts: gather_ts(rows, &old.ts, &new.ts),
        value: gather(rows, &old.value, &new.value),
    };
    if let Some(spike) = first_spike(&merged.ts, &merged.value, plan.join, threshold) {
        return Err(spike);
    }
    let new_rows = rows.iter().filter(|(from_new, _)| *from_new).count();
    Ok(MergeOutcome { merged, new_rows })
}

/// Price changes scaled to one day assuming Brownian motion, `Δx / sqrt(Δt in days)`, one per
/// row from the second row on (index `i - 1` holds the change into row `i`). NaN where either
/// price is NaN.
pub fn changes_in_daily_units(ts: &[Micros], x: &[f64]) -> Vec<f64> {
    (1..ts.len().min(x.len()))
        .map(|i| {
            // As pandas: timedelta in nanoseconds / 1e9 = seconds, then / 86400 = days.
            let seconds = (ts[i] - ts[i - 1]).saturating_mul(1000) as f64 / 1e9;
            let days = seconds / 86_400.0;
            (x[i] - x[i - 1]) / days.powf(0.5)
        })
        .collect()
}

/// pandas `Series.ewm(span=span).mean()` with the defaults `adjust=True`, `ignore_na=False`,
/// `min_periods=0`: weights `(1-α)^k` on the k-th most recent point (the current one included),
/// α = 2/(span+1); a NaN input still ages the older weights; output is NaN until the first
/// observation.
pub fn ewma_mean(values: &[f64], span: f64) -> Vec<f64> {
    ewma_mean_com(values, (span - 1.0) / 2.0)
}

/// [`ewma_mean`] parameterised by centre of mass, as pandas `ewm(com)` (also what a bare
/// positional `ewm(x)` means): α = 1/(1+com).
pub fn ewma_mean_com(values: &[f64], com: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let Some(&first) = values.first() else {
        return out;
    };
    let alpha = 1.0 / (1.0 + com);
    let old_wt_factor = 1.0 - alpha;
    let new_wt = 1.0;
    let mut weighted = first;
    let mut old_wt = 1.0;
    out.push(weighted);
    for &cur in &values[1..] {
        let observed = !cur.is_nan();
        if !weighted.is_nan() {
            old_wt *= old_wt_factor;
            if observed {
                // Equal values are left alone (avoids rounding noise on constant series).
                if weighted != cur {
                    weighted = ((old_wt * weighted) + (new_wt * cur)) / (old_wt + new_wt);
                }
                old_wt += new_wt;
            }
        } else if observed {
            weighted = cur;
        }
        out.push(weighted);
    }
    out
}

/// Span of the average absolute daily change in the spike check.
const SPIKE_EWMA_SPAN: f64 = 500.0;

/// The first row at or after `from` (every row when `None`) whose absolute daily-unit change,
/// divided by its EWMA (span 500), exceeds `threshold`.
fn first_spike(
    ts: &[Micros],
    x: &[f64],
    from: Option<Micros>,
    threshold: f64,
) -> Option<SpikeFound> {
    let abs_changes: Vec<f64> = changes_in_daily_units(ts, x)
        .into_iter()
        .map(f64::abs)
        .collect();
    let average = ewma_mean(&abs_changes, SPIKE_EWMA_SPAN);
    let start = match from {
        // change k belongs to row k + 1
        Some(t) => ts.partition_point(|v| *v < t).max(1) - 1,
        None => 0,
    };
    (start..abs_changes.len()).find_map(|k| {
        let ratio = abs_changes[k] / average[k];
        (ratio > threshold).then(|| SpikeFound {
            ts: ts[k + 1],
            value: x[k + 1],
            ratio,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Daily + hourly → merged bars (B4)
// ---------------------------------------------------------------------------------------------

/// Concatenates hourly and daily bars, sorted by timestamp. Where both have a bar at the same
/// timestamp the daily bar wins, column by column as pandas' `groupby(level=0).last()` does:
/// the last non-NaN value at that timestamp, daily after hourly (so a NaN in the daily bar is
/// filled from the hourly bar). Duplicates within one input resolve the same way, later row
/// winning.
pub fn merge_daily_and_hourly(daily: &ContractPrices, hourly: &ContractPrices) -> ContractPrices {
    // (ts, from_daily, row); stable sort keeps hourly before daily and input order otherwise.
    let mut rows: Vec<(Micros, bool, usize)> = Vec::with_capacity(daily.len() + hourly.len());
    rows.extend(hourly.ts.iter().enumerate().map(|(i, t)| (*t, false, i)));
    rows.extend(daily.ts.iter().enumerate().map(|(i, t)| (*t, true, i)));
    rows.sort_by_key(|r| r.0);

    let mut out = ContractPrices::default();
    let mut start = 0;
    while start < rows.len() {
        let t = rows[start].0;
        let mut end = start + 1;
        while end < rows.len() && rows[end].0 == t {
            end += 1;
        }
        let group = &rows[start..end];
        let last_valid = |col: fn(&ContractPrices) -> &Vec<f64>| -> f64 {
            group
                .iter()
                .rev()
                .map(|(_, d, i)| col(if *d { daily } else { hourly })[*i])
                .find(|v| !v.is_nan())
                .unwrap_or(f64::NAN)
        };
        out.ts.push(t);
        out.open.push(last_valid(|c| &c.open));
        out.high.push(last_valid(|c| &c.high));
        out.low.push(last_valid(|c| &c.low));
        out.close.push(last_valid(|c| &c.close));
        out.volume.push(last_valid(|c| &c.volume));
        start = end;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Full merge (keep existing non-NaN, fill NaN, append new timestamps)
// ---------------------------------------------------------------------------------------------

/// Outer join of two sorted series: an existing non-NaN value always stays; an existing NaN is
/// replaced by the new value at that timestamp; timestamps only in `new` are added. Either side
/// empty: the other is returned as it is.
pub fn full_merge(old: &PriceSeries, new: &PriceSeries) -> PriceSeries {
    if old.is_empty() {
        return new.clone();
    }
    if new.is_empty() {
        return old.clone();
    }
    let mut out = PriceSeries {
        ts: Vec::with_capacity(old.len() + new.len()),
        value: Vec::with_capacity(old.len() + new.len()),
    };
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let take_old = j >= new.len() || (i < old.len() && old.ts[i] <= new.ts[j]);
        let take_new = i >= old.len() || (j < new.len() && new.ts[j] <= old.ts[i]);
        match (take_old, take_new) {
            (true, true) => {
                let v = if old.value[i].is_nan() {
                    new.value[j]
                } else {
                    old.value[i]
                };
                out.ts.push(old.ts[i]);
                out.value.push(v);
                i += 1;
                j += 1;
            }
            (true, false) => {
                out.ts.push(old.ts[i]);
                out.value.push(old.value[i]);
                i += 1;
            }
            _ => {
                out.ts.push(new.ts[j]);
                out.value.push(new.value[j]);
                j += 1;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Multiple prices update: label-column merge (B6)
// ---------------------------------------------------------------------------------------------

/// One price column with the contract each value came from; `None` = not known at that row
/// (filled forward when the columns are joined).
#[derive(Debug, Clone, Default, PartialEq)]
struct Labelled {
    ts: Vec<Micros>,
    value: Vec<f64>,
    label: Vec<Option<ContractId>>,
}

impl Labelled {
    fn len(&self) -> usize {
        self.ts.len()
    }
}

/// Where, from the start of the new data, stored and new labels disagree for the last time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LabelMatch {
    /// Labels differ on the last timestamp: the new data cannot be used.
    MismatchOnLastDay,
    /// All labels agree and both series start together: the whole series is merged.
    OriginalIndexMatchesNew,
    /// Rows up to and including `last_mismatch` are kept as stored; from `first_after` on,
    /// stored and new values are combined.
    From {
        first_after: Micros,
        last_mismatch: Micros,
    },
}

/// Compares stored and new labels over the union of timestamps from the first new timestamp
/// on, each side forward-filled within that period (a stored label missing at the start stays
/// missing and counts as a mismatch).
fn find_label_match(
    orig_ts: &[Micros],
    orig_label: &[ContractId],
    new_ts: &[Micros],
    new_label: &[ContractId],
) -> LabelMatch {
    let new_start = new_ts[0];
    let mut i = orig_ts.partition_point(|t| *t < new_start);
    let mut j = 0;
    let mut cur: Option<ContractId> = None;
    let mut newl: Option<ContractId> = None;
    let mut last_false: Option<Micros> = None;
    let mut after_last_false: Option<Micros> = None;
    let mut last_equal = true;
    while i < orig_ts.len() || j < new_ts.len() {
        let t = match (orig_ts.get(i), new_ts.get(j)) {
            (Some(a), Some(b)) => *a.min(b),
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => break,
        };
        if orig_ts.get(i) == Some(&t) {
            cur = Some(orig_label[i]);
            i += 1;
        }
        if new_ts.get(j) == Some(&t) {
            newl = Some(new_label[j]);
            j += 1;
        }
        let equal = cur.is_some() && cur == newl;
        if !equal {
            last_false = Some(t);
            after_last_false = None;
        } else if last_false.is_some() && after_last_false.is_none() {
            after_last_false = Some(t);
        }
        last_equal = equal;
    }
    if !last_equal {
        return LabelMatch::MismatchOnLastDay;
    }
    match (last_false, after_last_false) {
        (Some(last_mismatch), Some(first_after)) => LabelMatch::From {
            first_after,
            last_mismatch,
        },
        _ => {
            // Every label agrees.
            if orig_ts.first() == Some(&new_start) {
                LabelMatch::OriginalIndexMatchesNew
            } else {
                // Agreement at the first new timestamp implies a stored row there, so there is
                // a stored row before it unless the two series start together (handled above).
                let k = orig_ts.partition_point(|t| *t < new_start);
                match k.checked_sub(1) {
                    Some(prev) => LabelMatch::From {
                        first_after: new_start,
                        last_mismatch: orig_ts[prev],
                    },
                    None => LabelMatch::OriginalIndexMatchesNew,
                }
            }
        }
    }
}

/// pysystemtrade's `merge_data_series_with_label_column` for one price column: stored rows up
/// to the last label disagreement are kept as they are; after it, stored and new values are
/// combined (stored non-NaN kept, stored NaN filled, new timestamps appended); new rows are
/// labelled with their contract, a stored row at the first combined timestamp keeps its label,
/// other stored-only rows get no label (filled forward later).
///
/// Where pysystemtrade fails (all labels agree and both series start at the same timestamp: it
/// slices by a marker object), this labels combined rows from the new data, falling back to
/// the stored label.
fn merge_with_label_column(
    orig_ts: &[Micros],
    orig_value: &[f64],
    orig_label: &[ContractId],
    new_ts: &[Micros],
    new_value: &[f64],
    new_label: &[ContractId],
) -> Labelled {
    let keep_orig = || Labelled {
        ts: orig_ts.to_vec(),
        value: orig_value.to_vec(),
        label: orig_label.iter().copied().map(Some).collect(),
    };
    if new_ts.is_empty() {
        return keep_orig();
    }
    if orig_ts.is_empty() {
        return Labelled {
            ts: new_ts.to_vec(),
            value: new_value.to_vec(),
            label: new_label.iter().copied().map(Some).collect(),
        };
    }
    let (first_after, last_mismatch) =
        match find_label_match(orig_ts, orig_label, new_ts, new_label) {
            LabelMatch::MismatchOnLastDay => return keep_orig(),
            LabelMatch::OriginalIndexMatchesNew => (orig_ts[0], None),
            LabelMatch::From {
                first_after,
                last_mismatch,
            } => (first_after, Some(last_mismatch)),
        };

    let oi = orig_ts.partition_point(|t| *t < first_after);
    let ni = new_ts.partition_point(|t| *t < first_after);
    let old_part = PriceSeries {
        ts: orig_ts[oi..].to_vec(),
        value: orig_value[oi..].to_vec(),
    };
    let new_part = PriceSeries {
        ts: new_ts[ni..].to_vec(),
        value: new_value[ni..].to_vec(),
    };
    let merged = full_merge(&old_part, &new_part);

    // Labels of the combined rows: a stored row at `first_after` keeps its label; new rows
    // (from the last mismatch on) carry theirs; other stored-only rows get none.
    let label_at = |t: Micros| -> Option<ContractId> {
        let stored = || orig_ts.binary_search(&t).ok().map(|k| orig_label[k]);
        let fresh = || new_ts.binary_search(&t).ok().map(|k| new_label[k]);
        if t == first_after {
            if let Some(l) = stored() {
                return Some(l);
            }
        }
        match last_mismatch {
            Some(lm) if t >= lm => fresh(),
            Some(_) => None,
            None => fresh().or_else(stored),
        }
    };

    let keep = match last_mismatch {
        Some(lm) => orig_ts.partition_point(|t| *t <= lm),
        None => 0,
    };
    let mut out = Labelled {
        ts: Vec::with_capacity(keep + merged.len()),
        value: Vec::with_capacity(keep + merged.len()),
        label: Vec::with_capacity(keep + merged.len()),
    };
    out.ts.extend_from_slice(&orig_ts[..keep]);
    out.value.extend_from_slice(&orig_value[..keep]);
    out.label
        .extend(orig_label[..keep].iter().copied().map(Some));
    for (t, v) in merged.ts.iter().zip(&merged.value) {
        out.ts.push(*t);
        out.value.push(*v);
        out.label.push(label_at(*t));
    }
    out
}

/// The daily multiple-prices update: `price`, `forward` and `carry` are the merged closes of the
/// contracts in the stored last row's PRICE, FORWARD and CARRY columns. Each column is merged
/// under the label-column rules (see the module docs), then the three are outer-joined on
/// timestamp and the contract columns filled forward (prices are not filled).
pub fn update_multiple_prices(
    stored: &MultiplePrices,
    price: &PriceSeries,
    forward: &PriceSeries,
    carry: &PriceSeries,
) -> Result<MultiplePrices, MergeError> {
    if stored.is_empty() {
        return Err(MergeError::EmptyStored);
    }
    if !stored.is_consistent() {
        return Err(MergeError::Inconsistent { rows: stored.len() });
    }
    let order = |column: &'static str, ts: &[Micros]| {
        check_order(ts).map_err(|source| MergeError::Unordered { column, source })
    };
    order("stored multiple prices", &stored.ts)?;
    order("PRICE", &price.ts)?;
    order("FORWARD", &forward.ts)?;
    order("CARRY", &carry.ts)?;

    let column = |values: &[f64], labels: &[ContractId], new: &PriceSeries| {
        let current = labels[labels.len() - 1];
        let new_labels = vec![current; new.len()];
        merge_with_label_column(&stored.ts, values, labels, &new.ts, &new.value, &new_labels)
    };
    let p = column(&stored.price, &stored.price_contract, price);
    let f = column(&stored.forward, &stored.forward_contract, forward);
    let c = column(&stored.carry, &stored.carry_contract, carry);
    join_columns(&p, &f, &c)
}

/// Outer join of the three labelled columns on timestamp; contract columns filled forward.
fn join_columns(p: &Labelled, f: &Labelled, c: &Labelled) -> Result<MultiplePrices, MergeError> {
    let cols: [(&Labelled, &'static str); 3] = [(p, "PRICE"), (f, "FORWARD"), (c, "CARRY")];
    let mut pos = [0usize; 3];
    let mut last: [Option<ContractId>; 3] = [None; 3];
    let cap = p.len().max(f.len()).max(c.len());
    let mut out = MultiplePrices {
        ts: Vec::with_capacity(cap),
        price: Vec::with_capacity(cap),
        forward: Vec::with_capacity(cap),
        carry: Vec::with_capacity(cap),
        price_contract: Vec::with_capacity(cap),
        forward_contract: Vec::with_capacity(cap),
        carry_contract: Vec::with_capacity(cap),
    };
    loop {
        let next = (0..3)
            .filter_map(|k| cols[k].0.ts.get(pos[k]).copied())
            .min();
        let Some(t) = next else { break };
        let mut values = [f64::NAN; 3];
        let mut ids = [None; 3];
        for k in 0..3 {
            let (col, name) = cols[k];
            if col.ts.get(pos[k]) == Some(&t) {
                values[k] = col.value[pos[k]];
                if let Some(l) = col.label[pos[k]] {
                    last[k] = Some(l);
                }
                pos[k] += 1;
            }
            ids[k] = last[k];
            if ids[k].is_none() {
                return Err(MergeError::MissingContract {
                    column: name,
                    ts: t,
                });
            }
        }
        let [Some(pc), Some(fc), Some(cc)] = ids else {
            return Err(MergeError::MissingContract {
                column: "PRICE",
                ts: t,
            });
        };
        out.ts.push(t);
        out.price.push(values[0]);
        out.forward.push(values[1]);
        out.carry.push(values[2]);
        out.price_contract.push(pc);
        out.forward_contract.push(fc);
        out.carry_contract.push(cc);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
