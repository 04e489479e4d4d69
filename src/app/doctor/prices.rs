//! The `price_files` check: every Parquet file under `<home>/data` (and the roll backups there)
//! read whole through the price store, so a file cut short, garbage, or of the wrong schema is
//! found and named; then the files against each other and against the stores' metadata: every
//! instrument with multiple prices has adjusted prices ending with them (within three days), no
//! series ends in the future, and every instrument the contract table, the roll states or the
//! optimal positions name has both. Files are read on every core.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Check, Doctor, Status};
use crate::adapters::parquet::ParquetPriceStore;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::metadata::{ContractStore, RollStateStore};
use crate::domain::optimal::OptimalPositionStore;
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::series::{format_timestamp, Micros};

const NAME: &str = "price_files";

/// A series file, by where it lies under a store root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Series {
    Multiple(InstrumentCode),
    Adjusted(InstrumentCode),
    Fx(String),
    RollCalendar(InstrumentCode),
    Contract(InstrumentCode, ContractId, Frequency),
}

/// One file to read: its store root (the data dir, or a roll backup's directory) and series.
struct Item {
    path: PathBuf,
    root: PathBuf,
    series: Series,
}

/// What a whole read found.
#[derive(Debug, Clone, Copy)]
struct Read {
    rows: usize,
    last: Option<Micros>,
    /// Multiple prices: the priced contract of the last row.
    priced: Option<ContractId>,
}

fn classify(rel: &Path) -> Option<Series> {
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    let code = |s: &str| InstrumentCode::new(s).ok();
    match parts.as_slice() {
        ["multiple", f] => Some(Series::Multiple(code(f.strip_suffix(".parquet")?)?)),
        ["adjusted", f] => Some(Series::Adjusted(code(f.strip_suffix(".parquet")?)?)),
        ["fx", f] => Some(Series::Fx(f.strip_suffix(".parquet")?.to_string())),
        ["roll_calendars", f] => Some(Series::RollCalendar(code(f.strip_suffix(".parquet")?)?)),
        ["contracts", c, f] => {
            let stem = f.strip_suffix(".parquet")?;
            let (id, freq) = stem.split_once('.')?;
            let freq = match freq {
                "daily" => Frequency::Daily,
                "hourly" => Frequency::Hourly,
                "merged" => Frequency::Merged,
                _ => return None,
            };
            Some(Series::Contract(
                code(c)?,
                ContractId::parse(id).ok()?,
                freq,
            ))
        }
        _ => None,
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads one file whole through the store (a panic of the Parquet reader is damage too).
fn read(item: &Item) -> Result<Read, String> {
    let store = ParquetPriceStore::new(item.root.clone());
    let run = || -> Result<Option<Read>, crate::domain::ports::PriceStoreError> {
        let of = |rows: usize, ts: &[Micros]| Read {
            rows,
            last: ts.last().copied(),
            priced: None,
        };
        Ok(match &item.series {
            Series::Multiple(c) => store.read_multiple(c)?.map(|m| Read {
                priced: m.price_contract.last().copied(),
                ..of(m.len(), &m.ts)
            }),
            Series::Adjusted(c) => store.read_adjusted(c)?.map(|s| of(s.len(), &s.ts)),
            Series::Fx(c) => store.read_fx(c)?.map(|s| of(s.len(), &s.ts)),
            Series::RollCalendar(c) => store.read_roll_calendar(c)?.map(|s| of(s.len(), &s.ts)),
            Series::Contract(c, id, f) => {
                store.read_contract(c, *id, *f)?.map(|s| of(s.len(), &s.ts))
            }
        })
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(Some(r))) => Ok(r),
        Ok(Ok(None)) => Err("disappeared while it was read".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "{}: the Parquet reader failed on it (damaged file)",
            item.path.display()
        )),
    }
}

/// Reads every item on up to `threads` threads, results in the items' order.
fn read_all(items: &[Item]) -> Vec<Result<Read, String>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(read).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("the reading thread failed".into()); chunk])
            })
            .collect()
    })
}

/// The repair of the damaged or missing file at `path`.
fn repair(series: &Series, path: &Path, in_backup: bool) -> String {
    let file = path.display();
    let restore = format!(
        "or restore {file} from a backup of the home (`systrade restore BACKUP --home NEW`)"
    );
    if in_backup {
        return format!(
            "{file} is a roll backup: `systrade roll CODE --confirm` drops the instrument's roll \
             backups once its roll is right"
        );
    }
    match series {
        Series::Multiple(c) => format!(
            "import {c} again (`systrade import pysystemtrade DIR`) {restore}; then `systrade \
             prices regenerate-adjusted {c}`"
        ),
        Series::Adjusted(c) => format!(
            "`systrade prices regenerate-adjusted {c}` rebuilds {file} from the multiple prices"
        ),
        Series::Fx(_) | Series::RollCalendar(_) => {
            format!("import it again (`systrade import pysystemtrade DIR`) {restore}")
        }
        Series::Contract(_, _, Frequency::Merged) => format!(
            "move {file} aside: `systrade trigger daily update_historical_prices` rebuilds the \
             merged bars from the daily and hourly ones"
        ),
        Series::Contract(..) => format!(
            "move {file} aside and run `systrade trigger daily update_historical_prices` (the \
             bars the market still serves come back), {restore}"
        ),
    }
}

pub async fn price_files(d: &Doctor) -> Check {
    let data = d.home.data_dir();
    let backups = data.join("roll_backups");
    let mut paths = Vec::new();
    if let Err(e) = files_under(&data, &mut paths) {
        return Check::bad(
            NAME,
            Status::Damage,
            format!("{} cannot be listed: {e}", data.display()),
            Vec::new(),
            "check the directory's permissions",
        );
    }
    paths.sort();
    let mut damage: Vec<(String, String)> = Vec::new();
    let mut warnings: Vec<(String, String)> = Vec::new();
    let mut items = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') && name.contains(".tmp-") {
            warnings.push((
                format!("{}: left by an interrupted write", path.display()),
                format!("delete it: `rm {}`", path.display()),
            ));
            continue;
        }
        if !name.ends_with(".parquet") {
            continue;
        }
        // A roll backup's files lie under roll_backups/CODE/TIME/ in the store's layout.
        let root = match path.strip_prefix(&backups) {
            Ok(rest) => match rest.iter().take(2).collect::<PathBuf>() {
                r if r.iter().count() == 2 => backups.join(r),
                _ => data.clone(),
            },
            Err(_) => data.clone(),
        };
        let rel = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
        match classify(&rel) {
            Some(series) => items.push(Item { path, root, series }),
            None => warnings.push((
                format!("{}: not a price file of systrade's layout", path.display()),
                "move it out of the data directory".into(),
            )),
        }
    }
    let results = read_all(&items);
    let mut rows = 0usize;
    let mut read: BTreeMap<Series, Read> = BTreeMap::new();
    let future = d.now.timestamp_micros() + 86_400_000_000;
    for (item, result) in items.iter().zip(results) {
        let in_backup = item.root != data;
        match result {
            Ok(r) => {
                rows += r.rows;
                if r.last.is_some_and(|t| t > future) {
                    warnings.push((
                        format!(
                            "{}: ends in the future ({} UTC)",
                            item.path.display(),
                            r.last.map(format_timestamp).unwrap_or_default()
                        ),
                        "check the machine's clock and the source of these prices".into(),
                    ));
                }
                if !in_backup {
                    read.insert(item.series.clone(), r);
                }
            }
            Err(e) => {
                let detail = if e.contains(&item.path.display().to_string()) {
                    e
                } else {
                    format!("{}: {e}", item.path.display())
                };
                damage.push((detail, repair(&item.series, &item.path, in_backup)));
            }
        }
    }
    consistency(d, &data, &read, &mut damage, &mut warnings).await;
    let files = items.len();
    if damage.is_empty() && warnings.is_empty() {
        return Check::ok(
            NAME,
            format!(
                "{files} Parquet files under {} read whole ({rows} rows), consistent with each \
                 other and the metadata",
                data.display()
            ),
        );
    }
    let status = if damage.is_empty() {
        Status::Warning
    } else {
        Status::Damage
    };
    let found = format!(
        "{} damaged or missing price file{}, {} warning{} ({files} files read)",
        damage.len(),
        if damage.len() == 1 { "" } else { "s" },
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    let mut fixes: Vec<String> = Vec::new();
    let mut details = Vec::new();
    for (detail, fix) in damage.into_iter().chain(warnings) {
        details.push(format!("{detail} — {fix}"));
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    Check::bad(NAME, status, found, details, fixes.join("; "))
}

/// How far the adjusted prices may end before the multiple prices: pysystemtrade's shipped
/// adjusted series end up to a day before its multiple prices.
const ADJUSTED_LAG_MICROS: Micros = 3 * 86_400_000_000;

/// Adjusted prices that end after the multiple prices, or well before them (an update that
/// wrote the multiple prices and not the adjusted ones).
fn out_of_step(adjusted: Option<Micros>, multiple: Option<Micros>) -> bool {
    match (adjusted, multiple) {
        (Some(a), Some(m)) => a > m || m - a > ADJUSTED_LAG_MICROS,
        (None, Some(_)) | (Some(_), None) => true,
        (None, None) => false,
    }
}

/// The series against each other and against the metadata in the run store.
async fn consistency(
    d: &Doctor,
    data: &Path,
    read: &BTreeMap<Series, Read>,
    damage: &mut Vec<(String, String)>,
    warnings: &mut Vec<(String, String)>,
) {
    let file = |kind: &str, code: &InstrumentCode| data.join(kind).join(format!("{code}.parquet"));
    let mut multiple: BTreeMap<InstrumentCode, Read> = BTreeMap::new();
    let mut adjusted: BTreeMap<InstrumentCode, Read> = BTreeMap::new();
    let mut bars: BTreeSet<(InstrumentCode, ContractId)> = BTreeSet::new();
    let mut with_bars: BTreeSet<InstrumentCode> = BTreeSet::new();
    for (series, r) in read {
        match series {
            Series::Multiple(c) => {
                multiple.insert(c.clone(), *r);
            }
            Series::Adjusted(c) => {
                adjusted.insert(c.clone(), *r);
            }
            Series::Contract(c, id, Frequency::Daily) => {
                bars.insert((c.clone(), *id));
                with_bars.insert(c.clone());
            }
            Series::Contract(c, ..) => {
                with_bars.insert(c.clone());
            }
            _ => {}
        }
    }
    for (code, m) in &multiple {
        match adjusted.get(code) {
            None => damage.push((
                format!(
                    "{} is missing (data/multiple/{code}.parquet has {} rows)",
                    file("adjusted", code).display(),
                    m.rows
                ),
                repair(
                    &Series::Adjusted(code.clone()),
                    &file("adjusted", code),
                    false,
                ),
            )),
            Some(a) if out_of_step(a.last, m.last) => warnings.push((
                format!(
                    "{code}: the adjusted prices end at {} but the multiple prices at {}",
                    a.last.map(format_timestamp).unwrap_or_else(|| "-".into()),
                    m.last.map(format_timestamp).unwrap_or_else(|| "-".into())
                ),
                format!("`systrade prices regenerate-adjusted {code}`"),
            )),
            Some(_) => {}
        }
        if let Some(priced) = m.priced.filter(|_| with_bars.contains(code)) {
            if !bars.contains(&(code.clone(), priced)) {
                warnings.push((
                    format!(
                        "{}: the priced contract's daily bars are missing (data/multiple/{code}.parquet prices {priced})",
                        data.join("contracts").join(code.as_str()).join(format!("{priced}.daily.parquet")).display()
                    ),
                    "`systrade trigger daily update_historical_prices` collects them".into(),
                ));
            }
        }
    }
    // Adjusted prices alone are fine: pysystemtrade's data ships some instruments so (and
    // nothing here updates them); an instrument the metadata names needs both (below).
    let Ok(store) = &d.store else {
        return;
    };
    // Instruments the metadata says had prices: those of the contract table whose bars are
    // here, those with a roll state, and those with optimal positions.
    let mut named: BTreeMap<InstrumentCode, &'static str> = BTreeMap::new();
    if let Ok(codes) = store.instruments_with_contracts().await {
        for c in codes.into_iter().filter(|c| with_bars.contains(c)) {
            named.entry(c).or_insert("the contract table");
        }
    }
    if let Ok(states) = store.roll_states().await {
        for s in states {
            named.entry(s.instrument).or_insert("its roll state");
        }
    }
    if let Ok(positions) = store.latest_optimal_positions(None).await {
        for p in positions {
            named.entry(p.instrument).or_insert("its optimal positions");
        }
    }
    for (code, by) in &named {
        if !multiple.contains_key(code) {
            damage.push((
                format!(
                    "{} is missing, but {by} names {code}",
                    file("multiple", code).display()
                ),
                repair(
                    &Series::Multiple(code.clone()),
                    &file("multiple", code),
                    false,
                ),
            ));
        }
        if let Ok(sampled) = store.sampled_contracts(code).await {
            for c in sampled.iter().filter(|_| with_bars.contains(code)) {
                if !bars.contains(&(code.clone(), c.contract)) {
                    warnings.push((
                        format!(
                            "{code} {}: sampled (the contract table) but it has no daily bars",
                            c.contract
                        ),
                        "`systrade trigger daily update_historical_prices` collects them".into(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_classified_by_the_store_layout() {
        let code = |s: &str| InstrumentCode::new(s).unwrap();
        assert_eq!(
            classify(Path::new("multiple/SP500.parquet")),
            Some(Series::Multiple(code("SP500")))
        );
        assert_eq!(
            classify(Path::new("contracts/CORN/20240300.merged.parquet")),
            Some(Series::Contract(
                code("CORN"),
                ContractId::parse("20240300").unwrap(),
                Frequency::Merged
            ))
        );
        assert_eq!(
            classify(Path::new("fx/EUR.parquet")),
            Some(Series::Fx("EUR".into()))
        );
        assert_eq!(classify(Path::new("contracts/CORN/x.weekly.parquet")), None);
        assert_eq!(classify(Path::new("other/SP500.parquet")), None);
    }

    #[test]
    fn adjusted_prices_may_end_up_to_three_days_before_the_multiple_ones() {
        let day = 86_400_000_000;
        assert!(!out_of_step(Some(10 * day), Some(10 * day)));
        assert!(!out_of_step(Some(10 * day - day / 2), Some(10 * day)));
        assert!(out_of_step(Some(6 * day), Some(10 * day)));
        assert!(out_of_step(Some(11 * day), Some(10 * day)));
        assert!(out_of_step(None, Some(day)));
    }
}
