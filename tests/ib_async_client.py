#!/usr/bin/env python3
"""Drives a TWS / IB Gateway (the fake one in the tests) with ib_async, an independent
client library that speaks the classic text encoding of the TWS API.

Usage: ib_async_client.py HOST PORT CLIENT_ID [MAX_VERSION]

MAX_VERSION lowers the top of the server-version range ib_async offers (157..178), to
exercise the fields that differ between versions.

Connects (with ib_async's start-up sync: positions, open and completed orders, account
updates, executions), then asks for managed accounts, the account summary, positions,
contract details of the ES Dec-2026 future, daily and hourly bars, a quote snapshot and
streamed quotes; buys 1 at market and waits for the fill and its commission, reads
executions and fills; places a limit order far from the market, lists open trades and
orders, cancels it and waits for the cancel, reads completed orders; places another limit
order and cancels it with a global cancel.

Prints one JSON object with what it got. Exits non-zero on any failure (a request that
times out or fails, a message ib_async cannot decode, an order that does not fill or
cancel).
"""

import json
import logging
import math
import sys
import time

from ib_async import IB, Future, LimitOrder, MarketOrder

TIMEOUT = 10.0


class Failure(Exception):
    pass


class ErrorLog(logging.Handler):
    """Keeps every error ib_async's decoder logs (a message it could not read)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(self.format(record))


def wait_for(ib, what, condition):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise Failure(f"timed out waiting for {what}")
        ib.sleep(0.05)


def number(x):
    """A float for JSON: NaN (no value) becomes null."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def fill_json(fill):
    ex = fill.execution
    return {
        "exec_id": ex.execId,
        "order_id": ex.orderId,
        "order_ref": ex.orderRef,
        "account": ex.acctNumber,
        "side": ex.side,
        "shares": number(ex.shares),
        "price": number(ex.price),
        "con_id": fill.contract.conId,
        "commission": number(fill.commissionReport.commission),
        "commission_currency": fill.commissionReport.currency,
    }


def trade_json(trade):
    return {
        "order_id": trade.order.orderId,
        "perm_id": trade.order.permId,
        "action": trade.order.action,
        "order_type": trade.order.orderType,
        "order_ref": trade.order.orderRef,
        "status": trade.orderStatus.status,
        "filled": number(trade.orderStatus.filled),
        "avg_fill_price": number(trade.orderStatus.avgFillPrice),
        "fills": [fill_json(f) for f in trade.fills],
    }


def run(host, port, client_id, max_version):
    decoder_errors = ErrorLog()
    logging.getLogger("ib_async.Decoder").addHandler(decoder_errors)
    api_errors = []
    ib = IB()
    if max_version is not None:
        ib.client.MaxClientVersion = max_version
    ib.errorEvent += lambda req_id, code, text, contract: api_errors.append(
        {"req_id": req_id, "code": code, "text": text}
    )
    out = {}

    started = time.monotonic()
    ib.connect(host, port, clientId=client_id, timeout=TIMEOUT, raiseSyncErrors=True)
    out["connect_seconds"] = round(time.monotonic() - started, 3)
    out["server_version"] = ib.client.serverVersion()
    out["managed_accounts"] = ib.managedAccounts()
    out["account_values"] = [
        {"account": v.account, "tag": v.tag, "value": v.value, "currency": v.currency}
        for v in ib.accountValues()
    ]
    out["portfolio"] = [
        {
            "account": p.account,
            "con_id": p.contract.conId,
            "position": p.position,
            "market_price": p.marketPrice,
        }
        for p in ib.portfolio()
    ]

    out["account_summary"] = [
        {"account": v.account, "tag": v.tag, "value": v.value, "currency": v.currency}
        for v in ib.accountSummary()
    ]
    out["positions"] = [
        {
            "account": p.account,
            "con_id": p.contract.conId,
            "symbol": p.contract.symbol,
            "position": p.position,
            "avg_cost": p.avgCost,
        }
        for p in ib.reqPositions()
    ]
    out["current_time"] = ib.reqCurrentTime().isoformat()

    wanted = Future(
        symbol="ES", lastTradeDateOrContractMonth="202612", exchange="CME", currency="USD"
    )
    details = ib.reqContractDetails(wanted)
    if len(details) != 1:
        raise Failure(f"expected one contract for ES 202612, got {len(details)}")
    contract = details[0].contract
    out["contract_details"] = [
        {
            "con_id": d.contract.conId,
            "symbol": d.contract.symbol,
            "sec_type": d.contract.secType,
            "last_trade": d.contract.lastTradeDateOrContractMonth,
            "multiplier": d.contract.multiplier,
            "exchange": d.contract.exchange,
            "currency": d.contract.currency,
            "min_tick": d.minTick,
            "long_name": d.longName,
            "time_zone": d.timeZoneId,
        }
        for d in details
    ]

    for name, duration, bar_size in [("daily", "10 D", "1 day"), ("hourly", "1 D", "1 hour")]:
        bars = ib.reqHistoricalData(
            contract,
            endDateTime="",
            durationStr=duration,
            barSizeSetting=bar_size,
            whatToShow="TRADES",
            useRTH=False,
            formatDate=1,
            timeout=TIMEOUT,
        )
        if not bars:
            raise Failure(f"no {name} bars")
        out[f"{name}_bars"] = [
            {"date": str(b.date), "open": b.open, "close": b.close, "volume": b.volume}
            for b in bars
        ]

    (ticker,) = ib.reqTickers(contract)
    out["quote"] = {
        "bid": number(ticker.bid),
        "ask": number(ticker.ask),
        "last": number(ticker.last),
        "bid_size": number(ticker.bidSize),
        "ask_size": number(ticker.askSize),
        "last_size": number(ticker.lastSize),
    }

    streaming = ib.reqMktData(contract, "", False, False)
    wait_for(ib, "streamed ticks", lambda: number(streaming.ask) is not None)
    out["streamed_quote"] = {"bid": number(streaming.bid), "ask": number(streaming.ask)}
    ib.cancelMktData(contract)

    market = ib.placeOrder(contract, MarketOrder("BUY", 1, orderRef="systrade-ib-async"))
    wait_for(ib, "the market order to fill", lambda: market.orderStatus.status == "Filled")
    wait_for(
        ib,
        "the commission report",
        lambda: market.fills and market.fills[0].commissionReport.execId != "",
    )
    out["market_order"] = trade_json(market)
    out["executions"] = [fill_json(f) for f in ib.reqExecutions()]
    out["fills"] = [fill_json(f) for f in ib.fills()]

    limit_price = out["quote"]["bid"] - 100.0
    limit = ib.placeOrder(
        contract, LimitOrder("BUY", 1, limit_price, orderRef="systrade-ib-async-limit")
    )
    wait_for(ib, "the limit order to work", lambda: limit.orderStatus.status == "Submitted")
    out["open_trades"] = [trade_json(t) for t in ib.openTrades()]
    out["all_open_orders"] = [trade_json(t) for t in ib.reqAllOpenOrders()]
    ib.cancelOrder(limit.order)
    wait_for(ib, "the cancel", lambda: limit.orderStatus.status == "Cancelled")
    out["limit_order"] = trade_json(limit)
    out["open_trades_after_cancel"] = [trade_json(t) for t in ib.openTrades()]
    out["completed_orders"] = [
        {"perm_id": t.order.permId, "status": t.orderStatus.status}
        for t in ib.reqCompletedOrders(False)
    ]

    far_ask = out["quote"]["ask"] + 100.0
    working = ib.placeOrder(
        contract, LimitOrder("SELL", 1, far_ask, orderRef="systrade-ib-async-gc")
    )
    wait_for(ib, "the sell limit to work", lambda: working.orderStatus.status == "Submitted")
    ib.reqGlobalCancel()
    wait_for(ib, "the global cancel", lambda: working.orderStatus.status == "Cancelled")
    out["global_cancel"] = trade_json(working)

    ib.disconnect()
    out["api_errors"] = api_errors
    out["decoder_errors"] = decoder_errors.records
    if decoder_errors.records:
        raise Failure(f"ib_async could not decode: {decoder_errors.records}")
    return out


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    host, port, client_id = argv[1], int(argv[2]), int(argv[3])
    max_version = int(argv[4]) if len(argv) == 5 else None
    try:
        out = run(host, port, client_id, max_version)
    except Exception as e:  # noqa: BLE001 - any failure is the script's failure
        print(f"ib_async client failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
