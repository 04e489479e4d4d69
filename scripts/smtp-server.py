#!/usr/bin/env python3
"""A small SMTP server for systrade's e-mail tests (aiosmtpd, from scripts/install-aiosmtpd.sh).

Listens on 127.0.0.1 (a free port unless --port is given), prints "PORT <n>" on stdout once it
accepts connections, and saves each message it accepts to --dir as NNNN.eml (the message as
received) with NNNN.json (envelope sender, recipients, the login used). Each file is written
under a temporary name and renamed, so a reader never sees half a message.

--tls none|starttls|implicit; --cert/--key for starttls and implicit; --user/--password turn on
AUTH (PLAIN and LOGIN; required for mail); --refuse-rcpt ADDRESS answers 550 for that recipient.
"""
import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, directory, refuse):
        self.directory = directory
        self.refuse = {a.lower() for a in refuse}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 <%s>: recipient refused" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, "%04d" % self.count)
        login = session.auth_data if session.authenticated else None
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": login,
            "tls": ssl_object is not None,
        }
        for ext, data in ((".eml", envelope.original_content), (".json", json.dumps(meta).encode())):
            tmp = base + ext + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, base + ext)
        return "250 2.0.0 accepted"


def main():
    # The tests read what was received, not the server's chatter (deprecations, aborted TLS
    # handshakes of the untrusted-certificate test).
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--refuse-rcpt", action="append", default=[])
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    context = None
    if a.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
    handler = Handler(a.dir, a.refuse_rcpt)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.user
            and auth_data.password.decode() == a.password
        )
        return AuthResult(
            success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None
        )

    def factory():
        kwargs = dict(hostname="localhost", ident="systrade-test-smtp")
        if a.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        if a.user is not None:
            kwargs.update(
                authenticator=authenticator,
                auth_required=True,
                # An implicit-TLS connection is encrypted from the start.
                auth_require_tls=a.tls == "starttls",
            )
        return SMTP(handler, **kwargs)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, "127.0.0.1", a.port, ssl=context if a.tls == "implicit" else None
        )
        port = server.sockets[0].getsockname()[1]
        print("PORT %d" % port, flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
