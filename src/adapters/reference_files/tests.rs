//! Tests of the parent module.

use super::*;

const IH: &str =
    "Instrument,Description,Pointsize,Currency,AssetClass,PerBlock,Percentage,PerTrade,Region\n";
const RH: &str =
    "Instrument,HoldRollCycle,RollOffsetDays,CarryOffset,PricedRollCycle,ExpiryOffset\n";

fn shipped() -> ReferenceSources<'static> {
    ReferenceSources {
        instruments: Source {
            path: "instrumentconfig.csv",
            text: SHIPPED_INSTRUMENT_CONFIG,
        },
        roll_config: Source {
            path: "rollconfig.csv",
            text: SHIPPED_ROLL_CONFIG,
        },
        spread_costs: Source {
            path: "spreadcosts.csv",
            text: SHIPPED_SPREAD_COSTS,
        },
    }
}

fn errors(r: Result<impl std::fmt::Debug, Diagnostics>) -> Vec<Diagnostic> {
    r.unwrap_err().0
}

#[test]
fn shipped_files_load_without_errors() {
    let (data, warnings) = parse_reference_data(&shipped(), Orphans::Error).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(data.instruments.len(), 586);
    assert_eq!(data.roll_parameters.len(), 512);
    assert_eq!(data.spread_costs.len(), 579);
    let sp = &data.instruments[&InstrumentCode::new("SP500").unwrap()];
    assert_eq!(sp.point_size, 50.0);
    assert_eq!(sp.currency, "USD");
    let swap = &data.instruments[&InstrumentCode::new("USIRS10_ICE").unwrap()];
    assert_eq!(swap.description, "Ten year dollar swapnote, ICE");
    let v2x = &data.roll_parameters[&InstrumentCode::new("V2X").unwrap()];
    assert_eq!(v2x.carry_offset, -1);
    let aud = &data.roll_parameters[&InstrumentCode::new("AUD").unwrap()];
    assert_eq!(aud.hold_cycle.letters(), "HMUZ");
}

#[test]
fn load_without_home_files_gives_the_shipped_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = load_reference_data(dir.path()).unwrap();
    assert_eq!(
        data,
        parse_reference_data(&shipped(), Orphans::Error).unwrap().0
    );
}

#[test]
fn write_then_parse_round_trips_the_shipped_data() {
    let (data, _) = parse_reference_data(&shipped(), Orphans::Error).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_reference_data(dir.path(), &data).unwrap();
    let back = load_reference_data(dir.path()).unwrap();
    assert_eq!(back, data);
    // The written files are in pysystemtrade's format, sorted by code.
    let text = std::fs::read_to_string(dir.path().join(INSTRUMENT_CONFIG_FILE)).unwrap();
    assert!(text.starts_with(IH));
    assert!(
        text.contains("USIRS10_ICE,\"Ten year dollar swapnote, ICE\",1000,USD,Bond,0,0,0,EMEA\n")
    );
    let codes: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted);
    // Writing the same data again changes nothing.
    let again = tempfile::tempdir().unwrap();
    write_reference_data(again.path(), &back).unwrap();
    for name in [INSTRUMENT_CONFIG_FILE, ROLL_CONFIG_FILE, SPREAD_COSTS_FILE] {
        assert_eq!(
            std::fs::read(dir.path().join(name)).unwrap(),
            std::fs::read(again.path().join(name)).unwrap()
        );
    }
}

#[test]
fn floats_round_trip_exactly() {
    let (mut data, _) = parse_reference_data(&shipped(), Orphans::Error).unwrap();
    let code = InstrumentCode::new("SP500").unwrap();
    let i = data.instruments.get_mut(&code).unwrap();
    i.point_size = 0.1 + 0.2;
    i.percentage = 1e-7;
    i.per_block = 1.0 / 3.0;
    data.spread_costs.insert(code, 1.234_567_891_234_567_8e18);
    let dir = tempfile::tempdir().unwrap();
    write_reference_data(dir.path(), &data).unwrap();
    assert_eq!(load_reference_data(dir.path()).unwrap(), data);
}

#[test]
fn invalid_data_is_not_written() {
    let (mut data, _) = parse_reference_data(&shipped(), Orphans::Error).unwrap();
    data.instruments
        .get_mut(&InstrumentCode::new("SP500").unwrap())
        .unwrap()
        .point_size = 0.0;
    let dir = tempfile::tempdir().unwrap();
    let e = write_reference_data(dir.path(), &data).unwrap_err();
    assert!(matches!(e, WriteReferenceError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("Pointsize"), "{e}");
    assert!(!dir.path().join(INSTRUMENT_CONFIG_FILE).exists());
}

#[test]
fn home_files_replace_shipped_ones_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(SPREAD_COSTS_FILE),
        "Instrument,SpreadCost\nSP500,0.5\n",
    )
    .unwrap();
    let data = load_reference_data(dir.path()).unwrap();
    assert_eq!(data.instruments.len(), 586);
    assert_eq!(data.roll_parameters.len(), 512);
    assert_eq!(data.spread_costs.len(), 1);
    assert_eq!(
        data.spread_costs[&InstrumentCode::new("SP500").unwrap()],
        0.5
    );
}

#[test]
fn roll_config_of_unknown_instrument_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(ROLL_CONFIG_FILE),
        format!("{RH}SP500,HMUZ,-5,1,HMUZ,18\nSP5OO,HMUZ,-5,1,HMUZ,18\n"),
    )
    .unwrap();
    let e = errors(load_reference_data(dir.path()));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        e[0].file,
        dir.path().join(ROLL_CONFIG_FILE).display().to_string()
    );
    assert_eq!(e[0].line, Some(3));
    assert!(
        e[0].message.contains("unknown instrument `SP5OO`"),
        "{}",
        e[0]
    );
    assert_eq!(e[0].help.as_deref(), Some("did you mean `SP500`?"));
}

#[test]
fn orphans_can_be_dropped_with_warnings() {
    let sources = ReferenceSources {
        spread_costs: Source {
            path: "spreadcosts.csv",
            text: "Instrument,SpreadCost\nSP500,0.25\nETHRR,0.0\n",
        },
        ..shipped()
    };
    let (data, warnings) = parse_reference_data(&sources, Orphans::Warn).unwrap();
    assert_eq!(data.spread_costs.len(), 1);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].line, Some(3));
    assert!(warnings[0].message.ends_with("row skipped"));
}

#[test]
fn all_bad_instrument_lines_are_reported() {
    let text = format!(
        "{IH}SP500,S&P,50,USD,Equity,0,0,0,US\n\
         ,no code,1,USD,Equity,0,0,0,US\n\
         SP 500,bad code,1,USD,Equity,0,0,0,US\n\
         SP500,again,50,USD,Equity,0,0,0,US\n\
         A,x,abc,USD,Equity,0,0,0,US\n\
         B,x,0,USD,Equity,0,0,0,US\n\
         C,x,1,usd,Equity,0,0,0,US\n\
         D,x,1,EURO,Equity,0,0,0,US\n\
         E,x,1,USD,Equity,-1,0,0,US\n\
         F,x,1,USD,Equity,,0,0,US\n\
         G,x,1,USD,Equity,0,0,0,Europe\n\
         H,\"quoted, with comma\",1,USD,Equity,0,0,0\n\
         I,,1,USD,,0,0,0,US\n"
    );
    let e = errors(parse_instruments("i.csv", &text));
    let lines: Vec<(usize, &str)> = e
        .iter()
        .map(|d| (d.line.unwrap(), d.message.as_str()))
        .collect();
    let expect = [
        (3, "missing instrument code"),
        (4, "invalid instrument code `SP 500`"),
        (5, "duplicate instrument `SP500` (first on line 2)"),
        (6, "`abc` is not a finite number"),
        (7, "must be more than 0, not 0"),
        (8, "invalid currency `usd`"),
        (9, "invalid currency `EURO`"),
        (10, "must be 0 or more, not -1"),
        (11, "missing value"),
        (12, "invalid region `Europe`"),
        (13, "expected 9 cells (as in the header), found 8"),
    ];
    assert_eq!(lines.len(), expect.len(), "{lines:#?}");
    for ((line, msg), (el, em)) in lines.iter().zip(expect) {
        assert_eq!(*line, el, "{msg}");
        assert!(
            msg.starts_with(em),
            "line {line}: `{msg}` should start with `{em}`"
        );
    }
    assert_eq!(e[5].key.as_deref(), Some("Currency"));
    assert_eq!(e[5].column, Some(7));
    assert_eq!(e[2].key.as_deref(), Some("Instrument"));
    // Blank description and asset class are fine.
    let ok = parse_instruments("i.csv", &format!("{IH}I,,1,USD,,0,0,0,US\n")).unwrap();
    assert_eq!(ok.len(), 1);
}

#[test]
fn all_bad_roll_lines_are_reported() {
    let text = format!(
        "{RH}AUD,HMUZ,-5,1,HMUZ,14\n\
         B,HMUA,-5,1,HMUZ,14\n\
         C,HMUZ,-5,2,HMUZ,14\n\
         D,HMUZ,-5,0,HMUZ,14\n\
         E,FGHZ,-5,1,HMUZ,14\n\
         F,HMUZ,soon,1,HMUZ,14\n\
         G,,-5,1,HMUZ,14\n\
         H,Z,-5.0,-1,FGHJKMNQUVXZ,14.0\n\
         AUD,HMUZ,-5,1,HMUZ,14\n"
    );
    let e = errors(parse_roll_config("r.csv", &text));
    let got: Vec<(usize, Option<&str>)> = e
        .iter()
        .map(|d| (d.line.unwrap(), d.key.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, Some("HoldRollCycle")),
            (4, Some("CarryOffset")),
            (5, Some("CarryOffset")),
            (6, Some("HoldRollCycle")),
            (7, Some("RollOffsetDays")),
            (8, Some("HoldRollCycle")),
            (10, Some("Instrument")),
        ],
        "{e:#?}"
    );
    assert!(e[0].message.contains("`A` is not a futures month letter"));
    assert!(e[1].message.contains("must be 1"));
    assert!(e[3]
        .message
        .starts_with("hold months `FG` not in the priced cycle `HMUZ`"));
    assert!(e[6].message.contains("first on line 2"));
    // Integral floats are accepted, as pandas writes them.
    let ok = parse_roll_config("r.csv", &format!("{RH}H,Z,-5.0,-1,FGHJKMNQUVXZ,14.0\n")).unwrap();
    assert_eq!(ok[&InstrumentCode::new("H").unwrap()].roll_offset_days, -5);
}

#[test]
fn blank_lines_keep_line_numbers_right() {
    let e = errors(parse_spread_costs(
        "s.csv",
        "\nInstrument,SpreadCost\n\nA,0.1\n\n\nB,x\n,\n",
    ));
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].line, e[0].column), (Some(7), Some(3)));
}

#[test]
fn bad_spread_costs_are_reported() {
    let e = errors(parse_spread_costs(
        "s.csv",
        "Instrument,SpreadCost\nA,0.1\nB,x\nC,-0.1\nA,0.2\n",
    ));
    let lines: Vec<usize> = e.iter().map(|d| d.line.unwrap()).collect();
    assert_eq!(lines, vec![3, 4, 5]);
}

#[test]
fn header_problems_are_reported() {
    let e = errors(parse_spread_costs("s.csv", ""));
    assert!(e[0].message.starts_with("empty file"));
    let e = errors(parse_spread_costs("s.csv", "Instrument,SpreadCots\nA,1\n"));
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(e[0].line, Some(1));
    assert_eq!(e[0].column, Some(12));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `SpreadCost`?"));
    assert!(e[1].message.starts_with("missing column `SpreadCost`"));
    // Any column order is fine.
    let ok = parse_spread_costs("s.csv", "SpreadCost,Instrument\n0.5,A\n").unwrap();
    assert_eq!(ok[&InstrumentCode::new("A").unwrap()], 0.5);
}

#[test]
fn non_utf8_home_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(SPREAD_COSTS_FILE),
        b"Instrument,SpreadCost\nSP500,0.5\xFF\n",
    )
    .unwrap();
    let e = errors(load_reference_data(dir.path()));
    assert_eq!(e[0].line, Some(2));
    assert!(e[0].message.contains("UTF-8"));
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn shipped_files_equal_pysystemtrade_csvconfig_except_orphans() {
    let Some(dir) = crate::adapters::pysystemtrade_csv::test_data_dir() else {
        return;
    };
    let original =
        std::fs::read_to_string(dir.join("csvconfig").join(INSTRUMENT_CONFIG_FILE)).unwrap();
    assert_eq!(original, SHIPPED_INSTRUMENT_CONFIG);
    for (name, shipped) in [
        (ROLL_CONFIG_FILE, SHIPPED_ROLL_CONFIG),
        (SPREAD_COSTS_FILE, SHIPPED_SPREAD_COSTS),
    ] {
        let original = std::fs::read_to_string(dir.join("csvconfig").join(name)).unwrap();
        let kept: String = original
            .lines()
            .filter(|l| !l.starts_with("ETHRR,") && !l.starts_with("STERLING3,"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(kept, shipped, "{name}");
    }
}
