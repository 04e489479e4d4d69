#!/usr/bin/env bash
# Rebuilds tests/data/ (the small data set kept in the repo) from the shared pysystemtrade data:
# one whole instrument (KR3, the golden instrument with the shortest history: from 2007) with
# everything its golden checks read, and pysystemtrade's golden rows for it. Files are copied
# unchanged, never computed by systrade. Usage: scripts/make-test-data.sh [SHARED_DATA_DIR]
set -euo pipefail
src="${1:-${SYSTRADE_TEST_DATA:-$(dirname "$0")/../../shared/data/pysystemtrade}}"
golden="$src/../../golden/backtest"
out="$(dirname "$0")/../tests/data"
[ -d "$src/csvconfig" ] || { echo "no pysystemtrade data at $src" >&2; exit 1; }
rm -rf "$out/pysystemtrade" "$out/golden"
mkdir -p "$out/pysystemtrade"/{csvconfig,multiple_prices_csv,adjusted_prices_csv,roll_calendars_csv,fx_prices_csv} "$out/golden/backtest/timeseries"
cp "$src"/csvconfig/*.csv "$out/pysystemtrade/csvconfig/"
for d in multiple_prices_csv adjusted_prices_csv roll_calendars_csv; do
  cp "$src/$d/KR3.csv" "$out/pysystemtrade/$d/"
done
cp "$src/fx_prices_csv/KRWUSD.csv" "$out/pysystemtrade/fx_prices_csv/"
cp "$golden/timeseries/KR3.csv" "$out/golden/backtest/timeseries/"
cp "$golden/README.md" "$out/golden/backtest/"
du -sh "$out"
