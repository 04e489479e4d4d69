//! How systrade's instruments map to IB futures: pysystemtrade's `ib_config_futures.csv`
//! (`Instrument,IBSymbol,IBExchange,IBCurrency,IBMultiplier,priceMagnifier,IgnoreWeekly`),
//! shipped in `config/` and overridden by `<home>/config/ib_config_futures.csv`.
//!
//! - `IBCurrency` `NA` means the currency is not sent to IB (the symbol and exchange are enough).
//! - IB quotes some contracts in a different unit: our price = IB price × `priceMagnifier`, and
//!   our point size = `IBMultiplier` / `priceMagnifier`.
//! - A contract id with a day (`20261218`) is sent to IB as that expiry; one without
//!   (`20261200`) as the contract month `202612`.

use std::collections::BTreeMap;
use std::path::Path;

use ibapi::contracts::{Contract, Currency, Exchange, SecurityType, Symbol};

use crate::domain::broker::BrokerError;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

pub const IB_CONFIG_FILE: &str = "ib_config_futures.csv";
pub const SHIPPED_IB_CONFIG: &str = include_str!("../../../config/ib_config_futures.csv");

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

/// Every instrument's IB fields.
#[derive(Debug, Clone, Default)]
pub struct IbContractMap {
    by_instrument: BTreeMap<InstrumentCode, IbInstrumentConfig>,
}

impl IbContractMap {
    /// Parses the CSV text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, IbConfigError> {
        let error = |line: usize, detail: String| IbConfigError {
            file: file.to_string(),
            line,
            detail,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| error(1, format!("unreadable header: {e}")))?
            .clone();
        let columns: Vec<usize> = HEADER
            .iter()
            .map(|name| {
                headers
                    .iter()
                    .position(|h| h == *name)
                    .ok_or_else(|| error(1, format!("missing column `{name}`")))
            })
            .collect::<Result<_, _>>()?;
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
        Ok(Self { by_instrument })
    }

    /// The home's file if it has one, else the shipped one.
    pub fn load(home_config_dir: &Path) -> Result<Self, IbConfigError> {
        let path = home_config_dir.join(IB_CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::parse(SHIPPED_IB_CONFIG, "config/ib_config_futures.csv (shipped)")
            }
            Err(e) => Err(IbConfigError {
                file: path.display().to_string(),
                line: 0,
                detail: e.to_string(),
            }),
        }
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
}
