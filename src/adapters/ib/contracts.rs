//! How systrade's instruments map to IB futures: pysystemtrade's `ib_config_futures.csv`
//! (`Instrument,IBSymbol,IBExchange,IBCurrency,IBMultiplier,priceMagnifier,IgnoreWeekly`),
//! shipped in `config/` and overridden by `<home>/config/ib_config_futures.csv`.
//!
//! - `IBCurrency` `NA` means the currency is not sent to IB (the symbol and exchange are enough).
//! - IB quotes some contracts in a different unit: our price = IB price × `priceMagnifier`, and
//!   our point size = `IBMultiplier` / `priceMagnifier`.
//! - A contract id with a day (`20261218`) is sent to IB as that expiry; one without
//!   (`20261200`) as the contract month `202612`.
//!
//! Spot FX maps through pysystemtrade's `ib_config_spot_FX.csv` (`CODE,CCY1,CCY2,INVERT`),
//! shipped and overridable the same way: `JPYUSD,USD,JPY,YES` asks IB for the pair USD.JPY
//! (yen per dollar) and inverts it into our rate, the USD value of one yen.

use std::collections::BTreeMap;
use std::path::Path;

use ibapi::contracts::{Contract, Currency, Exchange, SecurityType, Symbol};

use crate::domain::broker::BrokerError;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

pub const IB_CONFIG_FILE: &str = "ib_config_futures.csv";
pub const SHIPPED_IB_CONFIG: &str = include_str!("../../../config/ib_config_futures.csv");
pub const IB_SPOT_FX_FILE: &str = "ib_config_spot_FX.csv";
pub const SHIPPED_IB_SPOT_FX: &str = include_str!("../../../config/ib_config_spot_FX.csv");

const HEADER: [&str; 7] = [
    "Instrument",
    "IBSymbol",
    "IBExchange",
    "IBCurrency",
    "IBMultiplier",
    "priceMagnifier",
    "IgnoreWeekly",
];

/// A bad line in the IB config file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {detail}")]
pub struct IbConfigError {
    pub file: String,
    pub line: usize,
    pub detail: String,
}

/// One instrument's IB fields.
#[derive(Debug, Clone, PartialEq)]
pub struct IbInstrumentConfig {
    pub instrument: InstrumentCode,
    pub symbol: String,
    pub exchange: String,
    /// `None` for `NA`.
    pub currency: Option<String>,
    pub ib_multiplier: f64,
    pub price_magnifier: f64,
    pub ignore_weekly: bool,
}

impl IbInstrumentConfig {
    /// Our point size: IB's multiplier over the price magnifier.
    pub fn point_size(&self) -> f64 {
        self.ib_multiplier / self.price_magnifier
    }

    /// The IB contract for one of our contracts.
    pub fn ib_contract(&self, contract: ContractId) -> Contract {
        let month = if contract.day() == 0 {
            format!("{:04}{:02}", contract.year(), contract.month())
        } else {
            contract.to_string()
        };
        Contract {
            symbol: Symbol::from(self.symbol.as_str()),
            security_type: SecurityType::Future,
            exchange: Exchange::from(self.exchange.as_str()),
            currency: Currency::from(self.currency.as_deref().unwrap_or("")),
            multiplier: format_number(self.ib_multiplier),
            last_trade_date_or_contract_month: month,
            include_expired: true,
            ..Default::default()
        }
    }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// How one of our currencies is asked of IB: the pair `ccy1`.`ccy2` on IDEALPRO.
#[derive(Debug, Clone, PartialEq)]
pub struct IbSpotFx {
    /// Ours (`CODE` without its `USD`): `JPY`.
    pub currency: String,
    pub ccy1: String,
    pub ccy2: String,
    /// IB quotes USD in `currency` (USD.JPY): our rate is 1 / IB's.
    pub invert: bool,
}

impl IbSpotFx {
    /// IB's spot contract for the pair.
    pub fn ib_contract(&self) -> Contract {
        Contract::forex(self.ccy1.as_str(), self.ccy2.as_str()).build()
    }

    /// Our rate (USD per unit of the currency) from IB's price of the pair; `None` for a price
    /// that is not a positive number.
    pub fn our_rate(&self, ib_price: f64) -> Option<f64> {
        if !(ib_price.is_finite() && ib_price > 0.0) {
            return None;
        }
        Some(if self.invert {
            1.0 / ib_price
        } else {
            ib_price
        })
    }
}

/// Every instrument's IB fields, and every currency's IB pair.
#[derive(Debug, Clone, Default)]
pub struct IbContractMap {
    by_instrument: BTreeMap<InstrumentCode, IbInstrumentConfig>,
    spot_fx: BTreeMap<String, IbSpotFx>,
}

impl IbContractMap {
    /// Parses the CSV text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, IbConfigError> {
        let error = |line: usize, detail: String| IbConfigError {
            file: file.to_string(),
            line,
            detail,
        };
        let (mut reader, columns) = csv_with_columns(text, file, &HEADER)?;
        let mut by_instrument = BTreeMap::new();
        for (index, record) in reader.records().enumerate() {
            let line = index + 2;
            let record = record.map_err(|e| error(line, e.to_string()))?;
            let field = |i: usize| record.get(columns[i]).unwrap_or("").to_string();
            let number = |i: usize| -> Result<f64, IbConfigError> {
                let text = field(i);
                text.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| {
                        error(
                            line,
                            format!("`{}` must be a positive number, got `{text}`", HEADER[i]),
                        )
                    })
            };
            let instrument = InstrumentCode::new(&field(0)).map_err(|e| error(line, e))?;
            let symbol = field(1);
            let exchange = field(2);
            if symbol.is_empty() || exchange.is_empty() {
                return Err(error(line, "IBSymbol and IBExchange are required".into()));
            }
            let currency = Some(field(3)).filter(|c| !c.is_empty() && c != "NA");
            let ignore_weekly = match field(6).to_ascii_uppercase().as_str() {
                "TRUE" => true,
                "FALSE" | "" => false,
                other => {
                    return Err(error(
                        line,
                        format!("IgnoreWeekly must be TRUE or FALSE, got `{other}`"),
                    ))
                }
            };
            let config = IbInstrumentConfig {
                instrument: instrument.clone(),
                symbol,
                exchange,
                currency,
                ib_multiplier: number(4)?,
                price_magnifier: number(5)?,
                ignore_weekly,
            };
            if by_instrument.insert(instrument.clone(), config).is_some() {
                return Err(error(line, format!("{instrument} is listed twice")));
            }
        }
        Ok(Self {
            by_instrument,
            spot_fx: BTreeMap::new(),
        })
    }

    /// Replaces the spot FX pairs with those of `ib_config_spot_FX.csv` text; `file` names it
    /// in errors.
    pub fn with_spot_fx(mut self, text: &str, file: &str) -> Result<Self, IbConfigError> {
        self.spot_fx = parse_spot_fx(text, file)?;
        Ok(self)
    }

    /// The home's files where it has them, else the shipped ones.
    pub fn load(home_config_dir: &Path) -> Result<Self, IbConfigError> {
        let (text, file) = read_config(home_config_dir, IB_CONFIG_FILE, SHIPPED_IB_CONFIG)?;
        let (fx_text, fx_file) = read_config(home_config_dir, IB_SPOT_FX_FILE, SHIPPED_IB_SPOT_FX)?;
        Self::parse(&text, &file)?.with_spot_fx(&fx_text, &fx_file)
    }

    /// The IB pair of one of our currencies, or an error naming the file to edit.
    pub fn spot_fx(&self, currency: &str) -> Result<&IbSpotFx, BrokerError> {
        self.spot_fx
            .get(&currency.to_ascii_uppercase())
            .ok_or_else(|| BrokerError::UnknownCurrency {
                currency: currency.to_string(),
                detail: format!("no IB pair; add a row {currency}USD to {IB_SPOT_FX_FILE}"),
            })
    }

    /// Every currency with an IB pair.
    pub fn spot_fx_pairs(&self) -> impl Iterator<Item = &IbSpotFx> {
        self.spot_fx.values()
    }

    pub fn len(&self) -> usize {
        self.by_instrument.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_instrument.is_empty()
    }

    /// One instrument's fields, or an unknown-contract error naming the file to edit.
    pub fn get(&self, instrument: &InstrumentCode) -> Result<&IbInstrumentConfig, BrokerError> {
        self.by_instrument
            .get(instrument)
            .ok_or_else(|| BrokerError::UnknownContract {
                instrument: instrument.clone(),
                contract: String::new(),
                detail: format!("no IB mapping; add a row for it to {IB_CONFIG_FILE}"),
            })
    }

    /// The instrument an IB contract is, by symbol and exchange, and by multiplier where
    /// several instruments share a symbol (e.g. `MIB`, `MIB_mini`, `MIB_micro`).
    pub fn instrument_of(&self, contract: &Contract) -> Option<&IbInstrumentConfig> {
        let symbol = contract.symbol.to_string();
        let exchange = contract.exchange.to_string();
        let multiplier: Option<f64> = contract.multiplier.trim().parse().ok();
        let mut candidates = self
            .by_instrument
            .values()
            .filter(|c| c.symbol.eq_ignore_ascii_case(&symbol))
            .filter(|c| exchange.is_empty() || c.exchange.eq_ignore_ascii_case(&exchange));
        let first = candidates.next()?;
        let rest: Vec<&IbInstrumentConfig> = candidates.collect();
        if rest.is_empty() {
            return Some(first);
        }
        let multiplier = multiplier?;
        std::iter::once(first)
            .chain(rest)
            .find(|c| (c.ib_multiplier - multiplier).abs() < 1e-9)
    }
}

/// A CSV reader over `text` and the positions of the `wanted` columns in its header.
fn csv_with_columns<'t>(
    text: &'t str,
    file: &str,
    wanted: &[&str],
) -> Result<(csv::Reader<&'t [u8]>, Vec<usize>), IbConfigError> {
    let error = |detail: String| IbConfigError {
        file: file.to_string(),
        line: 1,
        detail,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| error(format!("unreadable header: {e}")))?
        .clone();
    let columns = wanted
        .iter()
        .map(|name| {
            headers
                .iter()
                .position(|h| h == *name)
                .ok_or_else(|| error(format!("missing column `{name}`")))
        })
        .collect::<Result<_, _>>()?;
    Ok((reader, columns))
}

/// The text of `<dir>/<name>` and its path, or the shipped text when the home has no such file.
fn read_config(dir: &Path, name: &str, shipped: &str) -> Result<(String, String), IbConfigError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text, path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((shipped.to_string(), format!("config/{name} (shipped)")))
        }
        Err(e) => Err(IbConfigError {
            file: path.display().to_string(),
            line: 0,
            detail: e.to_string(),
        }),
    }
}

/// `CODE,CCY1,CCY2,INVERT` rows: `CODE` is our currency followed by `USD` (our FX rates are
/// USD values), the pair is that currency and USD in IB's order, and `INVERT` is `YES` exactly
/// when IB's pair starts with USD.
fn parse_spot_fx(text: &str, file: &str) -> Result<BTreeMap<String, IbSpotFx>, IbConfigError> {
    let error = |line: usize, detail: String| IbConfigError {
        file: file.to_string(),
        line,
        detail,
    };
    let (mut reader, columns) = csv_with_columns(text, file, &["CODE", "CCY1", "CCY2", "INVERT"])?;
    let mut pairs = BTreeMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| error(line, e.to_string()))?;
        let field = |i: usize| record.get(columns[i]).unwrap_or("").to_ascii_uppercase();
        let (code, ccy1, ccy2) = (field(0), field(1), field(2));
        let currency = match code.strip_suffix("USD") {
            Some(c) if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                c.to_string()
            }
            _ => {
                return Err(error(
                    line,
                    format!("CODE must be a currency followed by USD (EURUSD), got `{code}`"),
                ))
            }
        };
        let is_currency = |c: &str| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic());
        if !is_currency(&ccy1) || !is_currency(&ccy2) || (ccy1 != "USD" && ccy2 != "USD") {
            return Err(error(
                line,
                format!("CCY1 and CCY2 must be a currency and USD, got `{ccy1}` and `{ccy2}`"),
            ));
        }
        let invert = match field(3).as_str() {
            "YES" => true,
            "NO" => false,
            other => {
                return Err(error(
                    line,
                    format!("INVERT must be YES or NO, got `{other}`"),
                ))
            }
        };
        if invert != (ccy1 == "USD") {
            return Err(error(
                line,
                format!(
                    "INVERT must be {} for the pair {ccy1}.{ccy2}: our rate is the USD value of one {currency}",
                    if ccy1 == "USD" { "YES" } else { "NO" }
                ),
            ));
        }
        let pair = IbSpotFx {
            currency: currency.clone(),
            ccy1,
            ccy2,
            invert,
        };
        if pairs.insert(currency.clone(), pair).is_some() {
            return Err(error(line, format!("{code} is listed twice")));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> InstrumentCode {
        InstrumentCode::new(s).expect("code")
    }

    #[test]
    fn the_shipped_file_parses_and_maps_corn_with_its_magnifier() {
        let map = IbContractMap::parse(SHIPPED_IB_CONFIG, "shipped").expect("parse");
        assert!(map.len() > 500, "{}", map.len());
        let corn = map.get(&code("CORN")).expect("CORN");
        assert_eq!(
            (corn.symbol.as_str(), corn.exchange.as_str()),
            ("ZC", "CBOT")
        );
        assert_eq!(corn.currency, None, "NA is not sent");
        assert_eq!(corn.point_size(), 50.0);
        let contract = corn.ib_contract(ContractId::parse("20261200").expect("id"));
        assert_eq!(contract.last_trade_date_or_contract_month, "202612");
        assert_eq!(contract.multiplier, "5000");
        let dated = corn.ib_contract(ContractId::parse("20261214").expect("id"));
        assert_eq!(dated.last_trade_date_or_contract_month, "20261214");
    }

    #[test]
    fn shared_symbols_are_told_apart_by_multiplier() {
        let map = IbContractMap::parse(SHIPPED_IB_CONFIG, "shipped").expect("parse");
        let mut contract = map
            .get(&code("MIB_mini"))
            .expect("MIB_mini")
            .ib_contract(ContractId::monthly(2026, 12));
        assert_eq!(
            map.instrument_of(&contract).map(|c| c.instrument.as_str()),
            Some("MIB_mini")
        );
        contract.multiplier = "0.2".into();
        assert_eq!(
            map.instrument_of(&contract).map(|c| c.instrument.as_str()),
            Some("MIB_micro")
        );
    }

    #[test]
    fn bad_rows_name_file_line_and_column() {
        let text =
            "Instrument,IBSymbol,IBExchange,IBCurrency,IBMultiplier,priceMagnifier,IgnoreWeekly\n\
                    SP500,ES,CME,USD,50,1,FALSE\n\
                    GOLD,GC,COMEX,USD,zero,1,FALSE\n";
        let err = IbContractMap::parse(text, "mine.csv").expect_err("bad multiplier");
        assert_eq!((err.file.as_str(), err.line), ("mine.csv", 3));
        assert!(err.detail.contains("IBMultiplier"), "{err}");
        let missing =
            IbContractMap::parse("Instrument,IBSymbol\nX,Y\n", "m.csv").expect_err("columns");
        assert!(missing.detail.contains("IBExchange"), "{missing}");
        let unknown = IbContractMap::default()
            .get(&code("SP500"))
            .expect_err("unknown");
        assert!(unknown.to_string().contains(IB_CONFIG_FILE), "{unknown}");
    }

    #[test]
    fn spot_fx_pairs_map_to_usd_values_inverting_usd_first_pairs() {
        let map = IbContractMap::default()
            .with_spot_fx(SHIPPED_IB_SPOT_FX, "shipped")
            .expect("parse");
        assert_eq!(map.spot_fx_pairs().count(), 12);
        let jpy = map.spot_fx("jpy").expect("JPY");
        let contract = jpy.ib_contract();
        assert_eq!(
            (contract.symbol.to_string(), contract.currency.to_string()),
            ("USD".to_string(), "JPY".to_string())
        );
        assert_eq!(contract.exchange.to_string(), "IDEALPRO");
        assert!((jpy.our_rate(150.0).expect("rate") - 1.0 / 150.0).abs() < 1e-15);
        assert_eq!(map.spot_fx("EUR").expect("EUR").our_rate(1.08), Some(1.08));
        assert_eq!(jpy.our_rate(0.0), None);
        let missing = map.spot_fx("XYZ").expect_err("unknown");
        assert!(missing.to_string().contains(IB_SPOT_FX_FILE), "{missing}");
    }

    #[test]
    fn bad_spot_fx_rows_name_file_and_line() {
        let header = "CODE,CCY1,CCY2,INVERT\nEURUSD,EUR,USD,NO\n";
        for (row, words) in [
            ("JPYUSD,USD,JPY,NO\n", "INVERT must be YES"),
            ("EUREUR,EUR,USD,NO\n", "CODE must be"),
            ("GBPUSD,GBP,EUR,NO\n", "a currency and USD"),
            ("GBPUSD,GBP,USD,maybe\n", "YES or NO"),
            ("EURUSD,EUR,USD,NO\n", "listed twice"),
        ] {
            let text = format!("{header}{row}");
            let err = IbContractMap::default()
                .with_spot_fx(&text, "fx.csv")
                .expect_err(row);
            assert_eq!((err.file.as_str(), err.line), ("fx.csv", 3), "{row}");
            assert!(err.detail.contains(words), "{row}: {err}");
        }
    }
}
