//! The simulated exchange: a deterministic, offline [`MarketDataSource`] with realistic futures
//! prices, the default market data source of `systrade demo` and the tests.
//!
//! # Model
//! - Each instrument has an underlying ("spot") log-price path, generated business day by
//!   business day from [`SimConfig::start`]: a random walk with drift regimes (a new annual drift
//!   ~ N(0, 0.6 × vol) every ~4 months on average), volatility regimes (calm 0.8×, volatile 1.6×,
//!   renormalised; calm spells ~150 days, volatile ~50), occasional fat-tailed shocks, and a weak
//!   pull towards a typical level (fast for vol indices). Annualised vol and level come from the
//!   instrument code (a table of common pysystemtrade codes, otherwise the asset class with a
//!   hash of the code): equity ~16 %, bonds ~6 %, STIR ~1 %, FX ~8 %, commodities ~25–35 %,
//!   vol indices ~80 %. FX futures on a currency (asset class `FX`, code `EUR`, `JPY`, …) share
//!   the path of that currency's USD rate served by `fx_rates`.
//! - Term structure: contract price = spot × exp(carry × years to expiry + basis + noise). The
//!   carry rate is an Ornstein–Uhlenbeck process around a per-instrument mean (positive or
//!   negative: contango or backwardation; vol indices in contango that inverts when the
//!   level spikes); `basis` is a seasonal term for Ags/energy plus a small static offset per
//!   contract, `noise` a tiny daily contract-specific term. Contracts converge to spot at expiry.
//! - Contracts exist for the months of the priced cycle (monthly ids, day `00`). The exact expiry
//!   ([`MarketDataSource::contract_expiry`]) is the approximate expiry of the roll parameters moved
//!   by 1–3 days and onto a business day (never equal to it); a contract trades from
//!   `life_days` before its expiry until its expiry, where `life_days` is at least 380 and long
//!   enough that the next held contract trades when we roll (see [`SimulatedExchange::contract_life`]).
//! - Bars: one daily bar per business day (Mon–Fri, no holidays) stamped 23:00 UTC, and 8 hourly
//!   bars stamped 14:00…21:00 UTC (each stamped at the end of its hour) for every business day of
//!   the contract's life; the daily bar is the aggregate of the hourly ones (same open, close,
//!   extremes and volume sum). Volume decays with time to expiry and drains in the last days
//!   before expiry, so the front contract is the most liquid and the next one takes over around
//!   the roll.
//! - FX (`fx_rates`): the currencies of the configured instruments (and
//!   [`SimConfig::extra_currencies`]), USD value of one unit, daily at 23:00, ~8 % vol (less for
//!   pegged or managed currencies). USD itself is not served (`UnknownCurrency`): it is 1.0.
//! - Nothing stamped after "now" (the wall clock at each call, or frozen with
//!   [`SimulatedExchange::with_now`]) and nothing before the first simulated business day is
//!   served; `contract_expiry` knows only contracts listed by "now", as a broker would.
//!
//! # Determinism
//! Every random draw is a hash (splitmix64) of the seed, the path or contract, the business-day
//! index and a draw number, so the same seed, instrument and contract give the same bars whatever
//! the order and ranges of requests. Changing [`SimConfig::start`] changes the paths (they start
//! on that day). Generated spot paths are cached in memory; generating ten years of daily bars of
//! a whole contract chain takes a few milliseconds in release builds.
//!
//! # Faults
//! [`SimConfig::spikes`] multiply closes on a day, [`SimConfig::gaps`] remove bars over a date
//! range, and [`SimConfig::unavailable`] makes every call fail with the retry-able
//! [`MarketDataError::Unavailable`].

mod model;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::domain::contract::ContractId;
use crate::domain::instrument::{Instrument, InstrumentCode, ReferenceData, RollParameters};
use crate::domain::ports::{Frequency, MarketDataError, MarketDataSource};
use crate::domain::series::{ContractPrices, FxPrices, Micros};

use model::{
    business_day_number, business_day_on_or_after, business_day_on_or_before, business_days_before,
    is_business_day, key, normal, text_hash, unit, Draws, PathParams, SpotPath, FIRST_HOUR, HOURS,
};

/// Settings of the simulated exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random path.
    pub seed: u64,
    /// The first simulated day (paths start on the first business day on or after it).
    pub start: NaiveDate,
    /// Bad prints to inject.
    pub spikes: Vec<SpikeRequest>,
    /// Missing data to inject.
    pub gaps: Vec<GapRequest>,
    /// When set, every call fails with `MarketDataError::Unavailable`.
    pub unavailable: bool,
    /// Currencies served by `fx_rates` besides those of the configured instruments.
    pub extra_currencies: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            start: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or(NaiveDate::MIN),
            spikes: Vec::new(),
            gaps: Vec::new(),
            unavailable: false,
            extra_currencies: Vec::new(),
        }
    }
}

/// Multiply the close (daily bar and last hourly bar) of `date` by `multiplier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeRequest {
    pub instrument: InstrumentCode,
    /// One contract, or every contract of the instrument when absent.
    #[serde(default)]
    pub contract: Option<ContractId>,
    pub date: NaiveDate,
    pub multiplier: f64,
}

/// Serve no bars (daily or hourly) on the dates `from..=to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRequest {
    pub instrument: InstrumentCode,
    /// One contract, or every contract of the instrument when absent.
    #[serde(default)]
    pub contract: Option<ContractId>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Per-instrument settings derived once.
#[derive(Debug, Clone)]
struct SimInstrument {
    instrument: Instrument,
    roll: RollParameters,
    /// Name of the spot path (`FX:EUR` is shared with the EUR rate).
    path: String,
    params: PathParams,
    /// Hash of (seed, code) for contract-level draws.
    key: u64,
    life_days: i64,
    basis_sd: f64,
    seasonal: f64,
    seasonal_phase: f64,
    volume_base: f64,
    /// Decay of volume with days to expiry.
    volume_tau: f64,
    /// Days before expiry over which volume drains.
    drain_days: f64,
}

/// One OHLCV bar.
#[derive(Debug, Clone, Copy)]
struct Bar {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

/// Hourly volume profile (U-shaped), summing to 1.
const HOURLY_VOLUME: [f64; HOURS] = [0.18, 0.12, 0.10, 0.09, 0.09, 0.10, 0.13, 0.19];

/// The last date ever simulated (contract ids stop at 2200).
fn max_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2200, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Microseconds of `date` at `hour`:00 UTC.
fn stamp(date: NaiveDate, hour: u32) -> Micros {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_micros() + i64::from(hour) * 3_600_000_000
}

/// The UTC date of a timestamp (clamped to chrono's range).
fn date_of(t: Micros) -> NaiveDate {
    match DateTime::from_timestamp_micros(t) {
        Some(dt) => dt.date_naive(),
        None if t < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

fn unavailable() -> MarketDataError {
    MarketDataError::Unavailable("the simulated exchange is switched off (sim.unavailable)".into())
}

/// A simulated futures exchange and FX feed; see the module documentation.
#[derive(Debug)]
pub struct SimulatedExchange {
    config: SimConfig,
    /// Fixed "now"; the wall clock at each call when `None`.
    now: Option<Micros>,
    instruments: BTreeMap<InstrumentCode, SimInstrument>,
    currencies: BTreeSet<String>,
    first_day: NaiveDate,
    /// `business_days_before(first_day)`: day index 0.
    first_number: i64,
    paths: Mutex<HashMap<String, SpotPath>>,
}

impl SimulatedExchange {
    /// An exchange listing these instruments. "Now" is the wall clock at each call.
    pub fn new(config: SimConfig, instruments: Vec<(Instrument, RollParameters)>) -> Self {
        let seed = config.seed;
        let mut currencies: BTreeSet<String> = config
            .extra_currencies
            .iter()
            .filter(|c| c.as_str() != "USD")
            .cloned()
            .collect();
        let mut map = BTreeMap::new();
        for (instrument, roll) in instruments {
            if instrument.currency != "USD" {
                currencies.insert(instrument.currency.clone());
            }
            let sim = Self::derive(seed, instrument, roll);
            map.insert(sim.instrument.code.clone(), sim);
        }
        let first_day = business_day_on_or_after(config.start.min(max_date()));
        Self {
            first_number: business_days_before(first_day),
            first_day,
            config,
            now: None,
            instruments: map,
            currencies,
            paths: Mutex::new(HashMap::new()),
        }
    }

    /// An exchange listing every instrument of the reference data that has roll parameters.
    pub fn from_reference(config: SimConfig, reference: &ReferenceData) -> Self {
        let instruments = reference
            .instruments
            .iter()
            .filter_map(|(code, i)| {
                reference
                    .roll_parameters(code)
                    .map(|r| (i.clone(), r.clone()))
            })
            .collect();
        Self::new(config, instruments)
    }

    /// Freeze "now": serve nothing stamped after `now` (tests use fixed dates).
    pub fn with_now(mut self, now: Micros) -> Self {
        self.now = Some(now);
        self
    }

    /// "Now" of the exchange: the fixed time, or the wall clock.
    pub fn now(&self) -> Micros {
        self.now
            .unwrap_or_else(|| chrono::Utc::now().timestamp_micros())
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The first simulated business day.
    pub fn first_day(&self) -> NaiveDate {
        self.first_day
    }

    /// Currencies served by `fx_rates`.
    pub fn currencies(&self) -> Vec<String> {
        self.currencies.iter().cloned().collect()
    }

    /// Listing date and exact expiry of a contract (bars are served for business days in
    /// between, inclusive, from the first simulated day and up to "now").
    pub fn contract_life(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
    ) -> Result<(NaiveDate, NaiveDate), MarketDataError> {
        self.check_available()?;
        let sim = self.instrument(code)?;
        let expiry = Self::expiry_of(self.config.seed, sim, contract)?;
        Ok((expiry - Duration::days(sim.life_days), expiry))
    }

    /// Contracts of the priced cycle trading on `date` (listed, not expired), nearest first.
    pub fn listed_contracts(
        &self,
        code: &InstrumentCode,
        date: NaiveDate,
    ) -> Result<Vec<ContractId>, MarketDataError> {
        self.check_available()?;
        let sim = self.instrument(code)?;
        let mut out = Vec::new();
        let years = sim.life_days / 365 + 2;
        for year in date.year() - 1..=date.year() + years as i32 {
            for &month in sim.roll.priced_cycle.months() {
                let Ok(c) = ContractId::new(year, month, 0) else {
                    continue;
                };
                let expiry = Self::expiry_of(self.config.seed, sim, c)?;
                if expiry >= date && expiry - Duration::days(sim.life_days) <= date {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// The model's annual carry rate of an instrument on a simulated business day up to "now"
    /// (a contract `t` years from expiry trades at about spot × exp(carry × t)); `None` on other
    /// days. For diagnostics and tests.
    pub fn carry_rate(
        &self,
        code: &InstrumentCode,
        date: NaiveDate,
    ) -> Result<Option<f64>, MarketDataError> {
        self.check_available()?;
        let sim = self.instrument(code)?;
        let Some(i) = self.index_of(date) else {
            return Ok(None);
        };
        if stamp(date, 23) > self.now() {
            return Ok(None);
        }
        let mut paths = self.lock();
        let path = self.path(&mut paths, &sim.path, &sim.params);
        path.ensure(i);
        Ok(Some(path.days()[i].carry))
    }

    // -- internals ------------------------------------------------------------------------------

    fn derive(seed: u64, instrument: Instrument, roll: RollParameters) -> SimInstrument {
        let code = instrument.code.as_str().to_string();
        let class = instrument.asset_class.to_ascii_lowercase();
        let h = text_hash(&code);
        let (path, params) =
            if class == "fx" && model::known_currency(&code).is_some() && code != "USD" {
                (format!("FX:{code}"), PathParams::for_currency(&code, seed))
            } else {
                (
                    format!("FUT:{code}"),
                    PathParams::for_instrument(&code, &instrument.asset_class, seed),
                )
            };
        // The longest wait between two held contracts, in days.
        let hold = roll.hold_cycle.months();
        let mut gap_months = 12;
        if hold.len() > 1 {
            gap_months = hold
                .windows(2)
                .map(|w| w[1] - w[0])
                .chain(hold.first().zip(hold.last()).map(|(f, l)| 12 + f - l))
                .max()
                .unwrap_or(12);
        }
        let hold_gap_days = i64::from(gap_months) * 31;
        let roll_days = i64::from((-roll.roll_offset_days).max(0));
        let life_days = (roll_days + hold_gap_days + 45).max(380);
        let priced_gap = 365.0 / roll.priced_cycle.months().len() as f64;
        let (seasonal, basis_sd, volume) = match class.as_str() {
            "equity" => (0.0, 0.0004, 150_000.0),
            "bond" => (0.0, 0.0003, 120_000.0),
            "stir" => (0.0, 0.0002, 80_000.0),
            "fx" => (0.0, 0.0002, 60_000.0),
            "ags" => (0.025, 0.004, 40_000.0),
            "oilgas" | "energy" => (0.02, 0.004, 60_000.0),
            "metals" => (0.0, 0.002, 30_000.0),
            "vol" => (0.0, 0.01, 25_000.0),
            _ => (0.0, 0.002, 5_000.0),
        };
        SimInstrument {
            key: key(&[seed, h]),
            path,
            params,
            life_days,
            basis_sd,
            seasonal: seasonal * (0.5 + unit(key(&[h, 11]))),
            seasonal_phase: 12.0 * unit(key(&[h, 12])),
            volume_base: volume * (0.5 + 1.5 * unit(key(&[h, 13]))),
            volume_tau: 0.7 * priced_gap,
            drain_days: (roll_days as f64).clamp(2.0, 0.5 * priced_gap),
            instrument,
            roll,
        }
    }

    fn check_available(&self) -> Result<(), MarketDataError> {
        if self.config.unavailable {
            Err(unavailable())
        } else {
            Ok(())
        }
    }

    fn instrument(&self, code: &InstrumentCode) -> Result<&SimInstrument, MarketDataError> {
        self.instruments
            .get(code)
            .ok_or_else(|| MarketDataError::UnknownInstrument(code.to_string()))
    }

    /// Exact expiry: the approximate expiry moved by ±1–3 days, onto a business day.
    fn expiry_of(
        seed: u64,
        sim: &SimInstrument,
        contract: ContractId,
    ) -> Result<NaiveDate, MarketDataError> {
        if contract.day() != 0 || !sim.roll.priced_cycle.contains(contract.month()) {
            return Err(MarketDataError::UnknownContract {
                instrument: sim.instrument.code.to_string(),
                contract,
            });
        }
        let approx = contract.approx_expiry(sim.roll.expiry_offset);
        const SHIFTS: [i64; 6] = [-3, -2, -1, 1, 2, 3];
        let pick = key(&[
            seed,
            text_hash(sim.instrument.code.as_str()),
            u64::from(contract.as_number()),
            17,
        ]);
        let shift = SHIFTS[(pick % SHIFTS.len() as u64) as usize];
        let shifted = approx + Duration::days(shift);
        Ok(if shift > 0 {
            business_day_on_or_after(shifted)
        } else {
            business_day_on_or_before(shifted)
        })
    }

    /// Day index of a simulated business day.
    fn index_of(&self, date: NaiveDate) -> Option<usize> {
        if !is_business_day(date) || date < self.first_day || date > max_date() {
            return None;
        }
        usize::try_from(business_days_before(date) - self.first_number).ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SpotPath>> {
        self.paths.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path<'a>(
        &self,
        paths: &'a mut HashMap<String, SpotPath>,
        name: &str,
        params: &PathParams,
    ) -> &'a mut SpotPath {
        paths.entry(name.to_string()).or_insert_with(|| {
            SpotPath::new(key(&[self.config.seed, text_hash(name)]), params.clone())
        })
    }

    /// Day indices `[first, last]` of the business days of `[from, to]` clipped to the
    /// simulation and to `[life_from, life_to]`; `None` when empty. `to` is already clipped to
    /// "now".
    fn day_range(
        &self,
        from: Micros,
        to: Micros,
        life_from: NaiveDate,
        life_to: NaiveDate,
    ) -> Option<(usize, usize)> {
        if from > to {
            return None;
        }
        let first = business_day_on_or_after(date_of(from).max(life_from).max(self.first_day));
        let last = business_day_on_or_before(date_of(to).min(life_to).min(max_date()));
        if first > last {
            return None;
        }
        Some((self.index_of(first)?, self.index_of(last)?))
    }

    fn date_of_index(&self, i: usize) -> NaiveDate {
        business_day_number(self.first_number + i as i64)
    }

    fn in_gap(&self, code: &InstrumentCode, contract: ContractId, date: NaiveDate) -> bool {
        self.config.gaps.iter().any(|g| {
            g.instrument == *code
                && g.contract.is_none_or(|c| c == contract)
                && g.from <= date
                && date <= g.to
        })
    }

    fn spike(&self, code: &InstrumentCode, contract: ContractId, date: NaiveDate) -> f64 {
        self.config
            .spikes
            .iter()
            .filter(|s| {
                s.instrument == *code && s.contract.is_none_or(|c| c == contract) && s.date == date
            })
            .map(|s| s.multiplier)
            .product()
    }

    /// The daily bar and the hourly bars of a contract on day `i`.
    fn bars_of_day(
        &self,
        sim: &SimInstrument,
        path: &SpotPath,
        contract: ContractId,
        expiry: NaiveDate,
        i: usize,
        date: NaiveDate,
    ) -> (Bar, [Bar; HOURS]) {
        let day = path.days()[i];
        let days_left = (expiry - date).num_days() as f64;
        let tte = days_left / 365.25;
        let cnum = u64::from(contract.as_number());
        // Log of contract / spot.
        let month = f64::from(contract.month());
        let seasonal =
            sim.seasonal * (std::f64::consts::TAU * (month + sim.seasonal_phase) / 12.0).sin();
        let basis = seasonal + sim.basis_sd * normal(key(&[sim.key, cnum, 7]));
        let draws = Draws::new(sim.key, i, cnum);
        let noise = 0.05 * day.sigma * draws.n(0);
        let shift = day.carry * tte + basis + noise;
        let intraday = path.intraday(i);

        // Volume: decays with time to expiry, drains just before expiry.
        let drain = ((days_left + 1.0) / (sim.drain_days + 4.0))
            .min(1.0)
            .powi(2);
        let weight =
            (-days_left / sim.volume_tau).exp() * drain + 0.01 * (-days_left / 250.0).exp();
        let regime = if day.volatile { 1.3 } else { 1.0 };
        let daily_volume = sim.volume_base * weight * regime * (0.35 * draws.n(1) - 0.06).exp();

        let spike = self.spike(&sim.instrument.code, contract, date);
        let mut hours = [Bar {
            open: 0.0,
            high: 0.0,
            low: 0.0,
            close: 0.0,
            volume: 0.0,
        }; HOURS];
        for (k, bar) in hours.iter_mut().enumerate() {
            let (o, c) = (intraday.pts[k], intraday.pts[k + 1]);
            *bar = Bar {
                open: (o + shift).exp(),
                close: (c + shift).exp(),
                high: (o.max(c) + intraday.up[k] + shift).exp(),
                low: (o.min(c) - intraday.down[k] + shift).exp(),
                volume: (daily_volume * HOURLY_VOLUME[k]).round(),
            };
        }
        if spike != 1.0 {
            let last = &mut hours[HOURS - 1];
            last.close *= spike;
            last.high = last.high.max(last.close);
            last.low = last.low.min(last.close);
        }
        let daily = Bar {
            open: hours[0].open,
            close: hours[HOURS - 1].close,
            high: hours.iter().map(|b| b.high).fold(f64::MIN, f64::max),
            low: hours.iter().map(|b| b.low).fold(f64::MAX, f64::min),
            volume: hours.iter().map(|b| b.volume).sum(),
        };
        (daily, hours)
    }
}

fn push(out: &mut ContractPrices, ts: Micros, bar: &Bar) {
    out.ts.push(ts);
    out.open.push(bar.open);
    out.high.push(bar.high);
    out.low.push(bar.low);
    out.close.push(bar.close);
    out.volume.push(bar.volume);
}

impl MarketDataSource for SimulatedExchange {
    fn contract_bars(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
        from: Micros,
        to: Micros,
    ) -> Result<ContractPrices, MarketDataError> {
        self.check_available()?;
        let sim = self.instrument(code)?;
        let expiry = Self::expiry_of(self.config.seed, sim, contract)?;
        let listing = expiry - Duration::days(sim.life_days);
        let mut out = ContractPrices::default();
        let to = to.min(self.now());
        let Some((i0, i1)) = self.day_range(from, to, listing, expiry) else {
            return Ok(out);
        };
        let (daily, hourly) = match frequency {
            Frequency::Daily => (true, false),
            Frequency::Hourly => (false, true),
            Frequency::Merged => (true, true),
        };
        let mut paths = self.lock();
        let path = self.path(&mut paths, &sim.path, &sim.params);
        path.ensure(i1);
        let path = &*path;
        for i in i0..=i1 {
            let date = self.date_of_index(i);
            if self.in_gap(code, contract, date) {
                continue;
            }
            let (day_bar, hours) = self.bars_of_day(sim, path, contract, expiry, i, date);
            if hourly {
                for (k, bar) in hours.iter().enumerate() {
                    let ts = stamp(date, FIRST_HOUR + k as u32);
                    if (from..=to).contains(&ts) {
                        push(&mut out, ts, bar);
                    }
                }
            }
            if daily {
                let ts = stamp(date, 23);
                if (from..=to).contains(&ts) {
                    push(&mut out, ts, &day_bar);
                }
            }
        }
        Ok(out)
    }

    fn fx_rates(
        &self,
        currency: &str,
        from: Micros,
        to: Micros,
    ) -> Result<FxPrices, MarketDataError> {
        self.check_available()?;
        if currency == "USD" || !self.currencies.contains(currency) {
            return Err(MarketDataError::UnknownCurrency(currency.to_string()));
        }
        let mut out = FxPrices::default();
        let to = to.min(self.now());
        let Some((i0, i1)) = self.day_range(from, to, NaiveDate::MIN, NaiveDate::MAX) else {
            return Ok(out);
        };
        let name = format!("FX:{currency}");
        let params = PathParams::for_currency(currency, self.config.seed);
        let mut paths = self.lock();
        let path = self.path(&mut paths, &name, &params);
        path.ensure(i1);
        for i in i0..=i1 {
            let ts = stamp(self.date_of_index(i), 23);
            if (from..=to).contains(&ts) {
                out.ts.push(ts);
                out.value.push(path.days()[i].x.exp());
            }
        }
        Ok(out)
    }

    fn contract_expiry(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Option<NaiveDate>, MarketDataError> {
        self.check_available()?;
        let sim = self.instrument(code)?;
        match Self::expiry_of(self.config.seed, sim, contract) {
            // Like a broker: only contracts listed by now are known.
            Ok(expiry) => {
                let listing = expiry - Duration::days(sim.life_days);
                Ok((stamp(listing, 0) <= self.now()).then_some(expiry))
            }
            Err(MarketDataError::UnknownContract { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
