#!/usr/bin/env python3
"""nbd_fuzz.py: hostile and broken NBD clients against one server, every answer checked.

Run by bench/nbd-fuzz.sh (which starts a node and creates the volumes); it also runs against any
NBD server on its own: see --help. Standard library only.

For --duration seconds, --workers threads each run attack episodes in rotation (random bytes,
mutated handshakes, mutated requests, pipelined READs never read, partial WRITEs, slowloris, a
connection flood). Every byte the server sends is checked against a model of what the client
sent (the NBD spec, doc/proto.md of NetworkBlockDevice/nbd): magics, option reply types and
lengths, reply cookies against the requests in flight, error values, structured reply chunks.
A connection the server closes is fine; an answer that breaks the spec is a violation.
Meanwhile a canary process (its own interpreter, so the fuzzer's threads cannot delay it) writes
and reads back 4 KiB every 200 ms and opens a new connection for a 4 KiB READ every 2 s, and a
monitor samples the server's RSS every second. The table at the end ends in a RESULT line.
"""

import argparse
import collections
import errno
import json
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

# ---------------------------------------------------------------- protocol constants
NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCTURED_MAGIC = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META, OPT_SET_META, OPT_EXTENDED_HEADERS = 9, 10, 11
DEFINED_OPTIONS = {1, 2, 3, 5, 6, 7, 8, 9, 10, 11}

REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR = 1 << 31
REP_ERRORS = {REP_ERR + i for i in range(1, 11)}  # UNSUP .. EXT_HEADER_REQD
INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 0, 1, 2, 3

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
CMD_TRIM, CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 4, 5, 6, 7
RANGED = {CMD_READ, CMD_WRITE, CMD_TRIM, CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS}
FLAG_FUA, FLAG_NO_HOLE, FLAG_DF, FLAG_REQ_ONE, FLAG_FAST_ZERO = 1, 2, 4, 8, 16
KNOWN_CMD_FLAGS = 0x1F

TFLAG_HAS_FLAGS, TFLAG_SEND_WRITE_ZEROES, TFLAG_SEND_DF, TFLAG_SEND_FAST_ZERO = 1, 1 << 6, 1 << 7, 1 << 11

CHUNK_NONE, CHUNK_DATA, CHUNK_HOLE, CHUNK_BLOCK_STATUS = 0, 1, 2, 5
CHUNK_ERROR, CHUNK_ERROR_OFFSET = (1 << 15) + 1, (1 << 15) + 2
NBD_ERRORS = {1, 5, 12, 22, 28, 75, 95, 108}  # EPERM EIO ENOMEM EINVAL ENOSPC EOVERFLOW ENOTSUP ESHUTDOWN

MAX_STRING = 4096
MAX_OPTION_REPLY = 64 << 10  # longer than any reply the spec allows (strings <= 4096 bytes)
MAX_PAYLOAD = 32 << 20  # what every server advertises; reads above it are refused or split
KIB = 1 << 10
MIB = 1 << 20

KINDS = ["random", "handshake", "requests", "pipeline", "partial-write", "slowloris", "flood"]


def now():
    return time.monotonic()


def option(code, data=b"", length=None):
    return struct.pack(">QII", IHAVEOPT, code, len(data) if length is None else length) + data


def go_data(name, infos=()):
    n = name if isinstance(name, bytes) else name.encode()
    return struct.pack(">I", len(n)) + n + struct.pack(">H", len(infos)) + b"".join(struct.pack(">H", i) for i in infos)


def meta_data(name, queries):
    n = name if isinstance(name, bytes) else name.encode()
    out = struct.pack(">I", len(n)) + n + struct.pack(">I", len(queries))
    for q in queries:
        qb = q if isinstance(q, bytes) else q.encode()
        out += struct.pack(">I", len(qb)) + qb
    return out


def request(cmd, cookie, offset, length, flags=0, magic=REQUEST_MAGIC):
    return struct.pack(">IHHQQI", magic, flags, cmd, cookie, offset & (2**64 - 1), length & (2**32 - 1))


# ---------------------------------------------------------------- errors
class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Timeout(Exception):
    """The server sent nothing within the time given."""


class Violation(Exception):
    """An answer that breaks the NBD spec."""


# ---------------------------------------------------------------- statistics
class KindStats:
    FIELDS = ["conns", "sent", "replies", "violations", "closes", "stalls", "refused", "errors"]

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.kinds = {k: KindStats() for k in KINDS}
        self.violation_samples = []
        self.error_samples = []

    def add(self, kind, field, n=1):
        with self.lock:
            s = self.kinds[kind]
            setattr(s, field, getattr(s, field) + n)

    def violation(self, kind, message, context=""):
        with self.lock:
            self.kinds[kind].violations += 1
            if len(self.violation_samples) < 20:
                self.violation_samples.append(f"[{kind}] {message}{'; ' + context if context else ''}")

    def error(self, kind, text):
        with self.lock:
            self.kinds[kind].errors += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"[{kind}] {text}")


# ---------------------------------------------------------------- connection
class Conn:
    """A TCP connection with a receive buffer: fill(n) waits until n bytes are buffered."""

    def __init__(self, host, port, source=None, timeout=2.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if source:
                self.sock.bind((source, 0))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise
        self.buf = bytearray()
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def send(self, data, deadline=None):
        """Sends all of data, or as much as the server takes before deadline (returns the count)."""
        view = memoryview(data)
        sent = 0
        try:
            while sent < len(view):
                left = None if deadline is None else deadline - now()
                if left is not None and left <= 0:
                    return sent
                self.sock.settimeout(left if left is not None else 30.0)
                try:
                    sent += self.sock.send(view[sent:sent + (4 << 20)])
                except socket.timeout:
                    if deadline is None:
                        raise Closed("send blocked for 30 s")
                    return sent
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            raise Closed(str(e)) from e
        return sent

    def _recv(self, deadline):
        if self.eof:
            raise Closed("eof")
        left = deadline - now()
        self.sock.settimeout(max(left, 0.0005))
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout as e:
            raise Timeout("no answer in time") from e
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
            self.eof = True
            raise Closed(str(e)) from e
        if not data:
            self.eof = True
            raise Closed("eof")
        self.buf += data

    def fill(self, n, deadline):
        while len(self.buf) < n:
            self._recv(deadline)

    def take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def skip(self, n, deadline):
        """Consumes n bytes (a READ's data) without keeping them."""
        while n > 0:
            if not self.buf:
                self._recv(deadline)
            k = min(n, len(self.buf))
            del self.buf[:k]
            n -= k

    def close(self, reset=True):
        try:
            if reset:  # no TIME_WAIT on our side: thousands of episodes would use up the ports
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- the checker
class Req:
    __slots__ = ("cmd", "flags", "offset", "length", "covered", "content", "errored", "bs_chunks", "due")

    def __init__(self, cmd, flags, offset, length):
        self.cmd, self.flags, self.offset, self.length = cmd, flags, offset, length
        self.covered = []  # (start, end) of content chunks and error offsets
        self.content = 0
        self.errored = False
        self.bs_chunks = 0
        self.due = True  # False while a WRITE's payload is incomplete (an early error reply may come)


class Checker:
    """Follows what the server must do with the bytes the client sent, and checks its answers.

    send() records the client's bytes; run() reads the server's messages and checks each one
    against the model: the greeting, the replies to each complete option in turn, then (after
    NBD_OPT_GO's ACK or the NBD_OPT_EXPORT_NAME reply) the replies to the requests parsed from
    the bytes sent after it. A reply that the model does not allow raises Violation.
    """

    def __init__(self, conn, kind, stats):
        self.c, self.kind, self.stats = conn, kind, stats
        self.sent = bytearray()
        self.pos = 0
        self.phase = "greeting"  # flags options transmission stop
        self.server_flags = 0
        self.no_zeroes = False
        self.structured = False
        self.contexts = set()
        self.pending_contexts = set()
        self.opt = None  # (code, data) of the option being answered
        self.opt_seen_export = False
        self.opt_infos = set()
        self.size = None
        self.tflags = 0
        self.inflight = collections.defaultdict(collections.deque)
        self.write_left = 0  # payload bytes of the last WRITE not yet sent
        self.write_req = None
        self.dead_reason = ""
        self.stopped_in = None  # the phase that ended with _stop

    # -- the client's side
    def send(self, data, deadline=None):
        self.sent += data
        n = self.c.send(data, deadline)
        if n < len(data):
            del self.sent[len(self.sent) - (len(data) - n):]
        self.stats.add(self.kind, "sent")
        return n

    def send_zeros(self, n, deadline=None):
        """Sends n zero bytes of the current WRITE's payload, without keeping them in the model."""
        self._advance()
        if n > self.write_left:
            raise ValueError("send_zeros outside a WRITE payload")
        n = self.c.send(memoryview(PAYLOAD)[:n], deadline)
        self.write_left -= n
        if not self.write_left:
            self.write_req.due = True
        return n

    def _advance(self):
        """Parses the sent bytes as far as the phase allows."""
        s = self.sent
        while True:
            if self.phase == "flags":
                if len(s) - self.pos < 4:
                    return
                (flags,) = struct.unpack_from(">I", s, self.pos)
                self.pos += 4
                if flags & ~self.server_flags:
                    self._stop("client flags 0x%x not offered (server must close)" % flags)
                    return
                self.no_zeroes = bool(flags & 2)
                self.phase = "options"
            elif self.phase == "options":
                if self.opt is not None or len(s) - self.pos < 16:
                    return
                magic, code, length = struct.unpack_from(">QII", s, self.pos)
                if magic != IHAVEOPT:
                    self._stop("bad option magic (server must close)")
                    return
                if len(s) - self.pos - 16 < length:
                    return  # data not (yet) complete: nothing to answer
                self.opt = (code, bytes(s[self.pos + 16:self.pos + 16 + length]))
                self.opt_seen_export = False
                self.opt_infos = set()
                self.pos += 16 + length
                if code == OPT_SET_META:
                    self.pending_contexts = set()
            elif self.phase == "transmission":
                if self.write_left:
                    k = min(self.write_left, len(s) - self.pos)
                    self.pos += k
                    self.write_left -= k
                    if self.write_left:
                        return
                    self.write_req.due = True
                if len(s) - self.pos < 28:
                    return
                magic, flags, cmd, cookie, offset, length = struct.unpack_from(">IHHQQI", s, self.pos)
                self.pos += 28
                if magic != REQUEST_MAGIC:
                    self._stop("bad request magic (server must close)")
                    return
                if cmd == CMD_DISC:
                    continue  # no reply; requests after it may or may not be served
                r = Req(cmd, flags, offset, length)
                self.inflight[cookie].append(r)
                if cmd == CMD_WRITE and length:
                    self.write_left = length
                    self.write_req = r
                    r.due = False
            else:
                return

    def _stop(self, reason):
        self.stopped_in = self.phase
        self.phase = "stop"
        self.dead_reason = reason

    def expecting(self):
        if self.phase == "greeting":
            return True
        if self.phase == "options":
            return self.opt is not None
        if self.phase == "transmission":
            return any(r.due for q in self.inflight.values() for r in q)
        return False

    # -- the server's side
    def run(self, until="idle", timeout=5.0):
        """Reads and checks the server's messages.

        until: "transmission" returns once the handshake has ended; "idle" once nothing more
        is due; "eof" waits for the close (data that nothing asked for is a violation).
        Returns "ok" (reached), "idle", "closed", "timeout" (something due, nothing came) or
        "quiet" (until="eof": nothing due and nothing came).
        """
        deadline = now() + timeout
        try:
            while True:
                self._advance()
                if until == "transmission" and self.phase == "transmission":
                    return "ok"
                if self.expecting():
                    self._message(deadline)
                elif until == "eof":
                    self.c.fill(len(self.c.buf) + 1, deadline)
                    if self.stopped_in == "transmission" and self.inflight:
                        # replies to requests before the bad one: the server may send them or not
                        self._transmission_reply(deadline)
                        self.stats.add(self.kind, "replies")
                        continue
                    raise Violation("unsolicited data from the server: %r (%s)"
                                    % (bytes(self.c.buf[:32]), self.dead_reason or "nothing was due"))
                elif until == "transmission" and self.phase == "stop":
                    return "stop"
                else:
                    return "idle"
        except Closed:
            self.stats.add(self.kind, "closes")
            return "closed"
        except Timeout:
            if until == "eof" and not self.expecting():
                return "quiet"
            return "timeout"

    def _violation(self, msg):
        raise Violation(msg)

    def _message(self, deadline):
        c = self.c
        if self.phase == "greeting":
            c.fill(18, deadline)
            magic, opt, flags = struct.unpack_from(">QQH", c.buf, 0)
            c.take(18)
            if magic != NBDMAGIC or opt != IHAVEOPT:
                self._violation("greeting magic 0x%x 0x%x" % (magic, opt))
            if flags & ~3:
                self._violation("handshake flags 0x%x: bits other than FIXED_NEWSTYLE|NO_ZEROES" % flags)
            self.server_flags = flags
            self.phase = "flags"
            self.stats.add(self.kind, "replies")
            return
        if self.phase == "options":
            self._option_reply(deadline)
            self.stats.add(self.kind, "replies")
            return
        self._transmission_reply(deadline)
        self.stats.add(self.kind, "replies")

    def _option_reply(self, deadline):
        c = self.c
        code, data = self.opt
        if code == OPT_EXPORT_NAME:
            n = 10 if self.no_zeroes else 134
            c.fill(n, deadline)
            size, tflags = struct.unpack_from(">QH", c.buf, 0)
            zeroes = c.take(n)[10:]
            if zeroes.strip(b"\0"):
                self._violation("NBD_OPT_EXPORT_NAME reply: the 124 reserved bytes are not zero")
            self._check_tflags(tflags, "NBD_OPT_EXPORT_NAME reply")
            self.size, self.tflags = size, tflags
            self.opt = None
            self.phase = "transmission"
            return
        c.fill(20, deadline)
        magic, opt, rtype, length = struct.unpack_from(">QIII", c.buf, 0)
        if magic != OPT_REPLY_MAGIC:
            self._violation("option reply magic 0x%x (want 0x3e889045565a9)" % magic)
        if opt != code:
            self._violation("option reply for option %d while option %d is being answered" % (opt, code))
        if length > MAX_OPTION_REPLY:
            self._violation("option reply type 0x%x claims %d bytes" % (rtype, length))
        c.fill(20 + length, deadline)
        payload = c.take(20 + length)[20:]
        final = True
        if rtype & REP_ERR:
            if rtype not in REP_ERRORS:
                self._violation("option reply type 0x%x is not an error the spec defines" % rtype)
            if length > MAX_STRING:
                self._violation("error reply message of %d bytes (strings are at most 4096)" % length)
        elif rtype == REP_ACK:
            if length:
                self._violation("NBD_REP_ACK with %d bytes of data" % length)
            if code not in DEFINED_OPTIONS:
                self._violation("NBD_REP_ACK to option %d, which the spec does not define" % code)
            if code in (OPT_INFO, OPT_GO) and not self.opt_seen_export:
                self._violation("NBD_REP_ACK to NBD_OPT_%s before any NBD_INFO_EXPORT" % ("GO" if code == OPT_GO else "INFO"))
        elif rtype == REP_SERVER:
            if code != OPT_LIST:
                self._violation("NBD_REP_SERVER in reply to option %d" % code)
            if length < 4:
                self._violation("NBD_REP_SERVER of %d bytes" % length)
            (nlen,) = struct.unpack_from(">I", payload, 0)
            if nlen > length - 4 or nlen > MAX_STRING:
                self._violation("NBD_REP_SERVER name length %d in a reply of %d bytes" % (nlen, length))
            final = False
        elif rtype == REP_INFO:
            if code not in (OPT_INFO, OPT_GO):
                self._violation("NBD_REP_INFO in reply to option %d" % code)
            self._check_info(payload)
            final = False
        elif rtype == REP_META_CONTEXT:
            if code not in (OPT_LIST_META, OPT_SET_META):
                self._violation("NBD_REP_META_CONTEXT in reply to option %d" % code)
            if length < 4 or length - 4 > MAX_STRING:
                self._violation("NBD_REP_META_CONTEXT of %d bytes" % length)
            (cid,) = struct.unpack_from(">I", payload, 0)
            if code == OPT_SET_META:
                self.pending_contexts.add(cid)
            final = False
        else:
            self._violation("option reply type %d is not defined by the spec" % rtype)
        if not final:
            return
        self.opt = None
        ok = rtype == REP_ACK
        if code == OPT_GO and ok:
            self.phase = "transmission"
        elif code == OPT_ABORT or (ok and code in (OPT_STARTTLS, OPT_EXTENDED_HEADERS)):
            self._stop("after option %d (abort, TLS or extended headers: not followed)" % code)
        elif code == OPT_STRUCTURED_REPLY and ok:
            self.structured = True
        elif code == OPT_SET_META:
            self.contexts = self.pending_contexts if ok else set()

    def _check_info(self, payload):
        if len(payload) < 2:
            self._violation("NBD_REP_INFO of %d bytes" % len(payload))
        (itype,) = struct.unpack_from(">H", payload, 0)
        if itype in self.opt_infos and itype in (INFO_EXPORT, INFO_BLOCK_SIZE):
            self._violation("NBD_INFO type %d sent twice for one option" % itype)
        self.opt_infos.add(itype)
        if itype == INFO_EXPORT:
            if len(payload) != 12:
                self._violation("NBD_INFO_EXPORT of %d bytes (must be 12)" % len(payload))
            size, tflags = struct.unpack_from(">QH", payload, 2)
            self._check_tflags(tflags, "NBD_INFO_EXPORT")
            self.opt_seen_export = True
            if self.opt[0] == OPT_GO:
                self.size, self.tflags = size, tflags
        elif itype in (INFO_NAME, INFO_DESCRIPTION):
            if len(payload) - 2 > MAX_STRING:
                self._violation("NBD_INFO %d string of %d bytes" % (itype, len(payload) - 2))
        elif itype == INFO_BLOCK_SIZE:
            if len(payload) != 14:
                self._violation("NBD_INFO_BLOCK_SIZE of %d bytes (must be 14)" % len(payload))
            mn, pref, mx = struct.unpack_from(">III", payload, 2)
            if mn < 1 or mn > 64 * KIB or mn & (mn - 1):
                self._violation("NBD_INFO_BLOCK_SIZE minimum %d: not a power of 2 in 1..64 KiB" % mn)
            if pref < max(512, mn) or pref & (pref - 1):
                self._violation("NBD_INFO_BLOCK_SIZE preferred %d: not a power of 2 >= 512 and >= the minimum" % pref)
            if mx != 0xFFFFFFFF and (mx < pref or mx % mn):
                self._violation("NBD_INFO_BLOCK_SIZE maximum %d: below the preferred size or not a multiple of the minimum" % mx)

    def _check_tflags(self, tflags, where):
        if not tflags & TFLAG_HAS_FLAGS:
            self._violation(f"{where}: transmission flags 0x{tflags:x} without NBD_FLAG_HAS_FLAGS")
        if tflags & TFLAG_SEND_DF and not self.structured:
            self._violation(f"{where}: NBD_FLAG_SEND_DF without structured replies")
        if tflags & TFLAG_SEND_FAST_ZERO and not tflags & TFLAG_SEND_WRITE_ZEROES:
            self._violation(f"{where}: NBD_FLAG_SEND_FAST_ZERO without NBD_FLAG_SEND_WRITE_ZEROES")

    def _req_for(self, cookie, magic_name):
        q = self.inflight.get(cookie)
        if not q:
            self._violation("%s reply with cookie 0x%x, which matches no request in flight" % (magic_name, cookie))
        return q[0]

    def _finish(self, cookie, r, error):
        q = self.inflight[cookie]
        q.popleft()
        if not q:
            del self.inflight[cookie]
        if self.write_req is r and self.write_left:
            # An early answer to a WRITE whose payload is still coming: the model keeps parsing.
            self.write_req = Req(r.cmd, r.flags, r.offset, r.length)  # not in flight any more
        if error:
            return
        what = "command %d flags 0x%x offset %d length %d" % (r.cmd, r.flags, r.offset, r.length)
        if r.cmd > CMD_BLOCK_STATUS:
            self._violation("success for unknown command: " + what + " (spec: SHOULD be EINVAL)")
        if r.flags & ~KNOWN_CMD_FLAGS:
            self._violation("success with unknown command flags: " + what + " (spec: SHOULD be EINVAL)")
        if r.cmd in RANGED and self.size is not None and r.offset + r.length > self.size:
            self._violation("success past the end of the export (%d bytes): %s (spec: SHOULD be EINVAL/ENOSPC)"
                            % (self.size, what))
        if r.cmd == CMD_READ and self.structured and r.content != r.length:
            self._violation("READ of %d bytes answered with success after chunks covering %d" % (r.length, r.content))
        if r.cmd == CMD_BLOCK_STATUS and r.bs_chunks != len(self.contexts):
            self._violation("BLOCK_STATUS success with %d status chunks for %d contexts" % (r.bs_chunks, len(self.contexts)))

    def _transmission_reply(self, deadline):
        c = self.c
        c.fill(4, deadline)
        (magic,) = struct.unpack_from(">I", c.buf, 0)
        if magic == SIMPLE_MAGIC:
            c.fill(16, deadline)
            _, error, cookie = struct.unpack_from(">IIQ", c.buf, 0)
            r = self._req_for(cookie, "simple")
            if self.structured and r.cmd == CMD_READ:
                self._violation("simple reply to a READ with structured replies on (error %d)" % error)
            if error and error not in NBD_ERRORS:
                self._violation("simple reply error %d is not one of the spec's" % error)
            if r.cmd == CMD_READ and not error and (self.size is None or r.offset + r.length > self.size):
                self._violation("READ past the end (offset %d length %d, export %s bytes) answered with data"
                                % (r.offset, r.length, self.size))
            c.take(16)
            self._finish(cookie, r, error)
            if r.cmd == CMD_READ and not error:
                c.skip(r.length, max(deadline, now() + 10 + r.length / (50 * MIB)))
            return
        if magic != STRUCTURED_MAGIC:
            self._violation("reply magic 0x%08x is neither simple (0x67446698) nor structured (0x668e33ef)" % magic)
        c.fill(20, deadline)
        _, flags, ctype, cookie, length = struct.unpack_from(">IHHQI", c.buf, 0)
        if not self.structured:
            self._violation("structured reply chunk without NBD_OPT_STRUCTURED_REPLY")
        r = self._req_for(cookie, "structured")
        if flags & ~1:
            self._violation("structured reply flags 0x%x (only DONE is defined)" % flags)
        done = bool(flags & 1)
        end = r.offset + r.length
        if ctype == CHUNK_DATA:
            if r.cmd != CMD_READ:
                self._violation("NBD_REPLY_TYPE_OFFSET_DATA for command %d" % r.cmd)
            if length < 9 or length - 8 > max(r.length, 0) or length - 8 > MAX_PAYLOAD:
                self._violation("NBD_REPLY_TYPE_OFFSET_DATA of %d bytes for a READ of %d" % (length, r.length))
            c.fill(28, deadline)
            (off,) = struct.unpack_from(">Q", c.buf, 20)
            self._content(r, off, length - 8, "data")
            c.take(28)
            c.skip(length - 8, max(deadline, now() + 10 + length / (50 * MIB)))
        else:
            if length > 8 * MIB + 64:
                self._violation("chunk type %d claims %d bytes" % (ctype, length))
            c.fill(20 + length, deadline)
            p = c.take(20 + length)[20:]
            if ctype == CHUNK_NONE:
                if length:
                    self._violation("NBD_REPLY_TYPE_NONE with %d bytes" % length)
                if not done:
                    self._violation("NBD_REPLY_TYPE_NONE without NBD_REPLY_FLAG_DONE")
            elif ctype == CHUNK_HOLE:
                if r.cmd != CMD_READ:
                    self._violation("NBD_REPLY_TYPE_OFFSET_HOLE for command %d" % r.cmd)
                if length != 12:
                    self._violation("NBD_REPLY_TYPE_OFFSET_HOLE of %d bytes (must be 12)" % length)
                off, size = struct.unpack(">QI", p)
                if size == 0:
                    self._violation("NBD_REPLY_TYPE_OFFSET_HOLE of size 0")
                self._content(r, off, size, "hole")
            elif ctype == CHUNK_BLOCK_STATUS:
                if r.cmd != CMD_BLOCK_STATUS:
                    self._violation("NBD_REPLY_TYPE_BLOCK_STATUS for command %d" % r.cmd)
                if length < 12 or (length - 4) % 8:
                    self._violation("NBD_REPLY_TYPE_BLOCK_STATUS of %d bytes (4 + a positive multiple of 8)" % length)
                (cid,) = struct.unpack_from(">I", p, 0)
                if cid not in self.contexts:
                    self._violation("block status for context %d, which was not negotiated (%s)" % (cid, sorted(self.contexts)))
                extents = [struct.unpack_from(">II", p, 4 + 8 * i) for i in range((length - 4) // 8)]
                if any(e[0] == 0 for e in extents):
                    self._violation("block status extent of length 0")
                if r.flags & FLAG_REQ_ONE and (len(extents) != 1 or extents[0][0] > r.length):
                    self._violation("REQ_ONE block status with %d extents (first %d bytes) for %d bytes"
                                    % (len(extents), extents[0][0], r.length))
                if sum(e[0] for e in extents[:-1]) >= max(r.length, 1) and len(extents) > 1:
                    self._violation("block status extents before the last already cover the request")
                r.bs_chunks += 1
            elif ctype & 0x8000:
                if length < 6:
                    self._violation("error chunk of %d bytes" % length)
                error, mlen = struct.unpack_from(">IH", p, 0)
                if error == 0 or error not in NBD_ERRORS:
                    self._violation("error chunk with error %d" % error)
                tail = 8 if ctype == CHUNK_ERROR_OFFSET else 0
                if mlen > length - 6 - tail or mlen > MAX_STRING:
                    self._violation("error chunk message of %d bytes in a chunk of %d" % (mlen, length))
                if ctype == CHUNK_ERROR_OFFSET:
                    if r.cmd not in RANGED:
                        self._violation("NBD_REPLY_TYPE_ERROR_OFFSET for command %d" % r.cmd)
                    (off,) = struct.unpack_from(">Q", p, 6 + mlen)
                    if not r.offset <= off < end:
                        self._violation("error offset %d outside the request [%d, %d)" % (off, r.offset, end))
                elif ctype != CHUNK_ERROR:
                    self._violation("error chunk type 0x%x is not defined" % ctype)
                r.errored = True
            else:
                self._violation("structured reply chunk type %d is not defined" % ctype)
        if done:
            self._finish(cookie, r, r.errored)

    def _content(self, r, off, n, what):
        end = r.offset + r.length
        if off < r.offset or off + n > end:
            self._violation("%s chunk [%d, +%d) outside the READ [%d, %d)" % (what, off, n, r.offset, end))
        for a, b in r.covered:
            if off < b and a < off + n:
                self._violation("%s chunk [%d, +%d) overlaps an earlier chunk [%d, %d)" % (what, off, n, a, b))
        if r.flags & FLAG_DF and r.covered:
            self._violation("second content chunk for a READ with NBD_CMD_FLAG_DF")
        r.covered.append((off, off + n))
        r.content += n


# ---------------------------------------------------------------- attacks
class Ctx:
    def __init__(self, args):
        self.args = args
        self.stats = Stats()
        self.stop = threading.Event()
        self.end = now() + args.duration
        self.flood_lock = threading.Lock()
        self.interrupted = None
        # The flood has addresses of its own: a cap per client address must not turn it into a
        # shield for the other attacks (nor the other attacks be refused because of it).
        self.sources = ["127.0.1.%d" % (i + 1) for i in range(args.sources)] if args.sources else [None]
        self.flood_sources = ["127.0.2.%d" % (i + 1) for i in range(args.sources)] if args.sources else [None]

    def left(self):
        return self.end - now()

    def connect(self, kind, rng, timeout=2.0):
        try:
            c = Conn(self.args.host, self.args.port, rng.choice(self.sources), timeout)
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.EADDRINUSE):
                raise  # ours, not the server's: reported as a fuzzer error
            self.stats.add(kind, "refused")
            time.sleep(0.1)  # a server that refuses (or is gone) is not to be hammered in a tight loop
            return None
        self.stats.add(kind, "conns")
        return c


def finish(ctx, chk, kind, result, expect_quiet=1.0):
    """Ends an episode: counts a stall, and waits briefly for unsolicited data or the close."""
    if result == "timeout":
        ctx.stats.add(kind, "stalls")
    elif result in ("idle", "ok", "stop") and expect_quiet > 0 and not ctx.stop.is_set():
        chk.run("eof", expect_quiet)


def episode(ctx, kind, rng, body):
    c = ctx.connect(kind, rng)
    if c is None:
        return
    chk = Checker(c, kind, ctx.stats)
    try:
        body(chk)
    except Violation as v:
        ctx.stats.violation(kind, str(v), "sent %d bytes: %s..." % (len(chk.sent), bytes(chk.sent[:48]).hex()))
    except Closed:
        ctx.stats.add(kind, "closes")
    finally:
        c.close()


def valid_handshake(chk, export, structured=False, meta=False):
    """A well-behaved fixed newstyle negotiation up to transmission; False if it did not get there."""
    data = struct.pack(">I", 3)
    if structured:
        data += option(OPT_STRUCTURED_REPLY)
        if meta:
            data += option(OPT_SET_META, meta_data(export, ["base:allocation"]))
    data += option(OPT_GO, go_data(export, [INFO_BLOCK_SIZE]))
    chk.send(data)
    return chk.run("transmission", 10.0) == "ok"


NAMES = [b"", b"fuzz/", b"/fuzz", b"../fuzz", b"fu\0zz", b"v2\nINJECT", b"x" * 4096, b"y" * 4097,
         "\u00e9t\u00e9".encode(), b"\xff\xfe", b"%s"]


def fuzz_name(rng, export):
    r = rng.random()
    if r < 0.5:
        return export.encode()
    if r < 0.85:
        return rng.choice(NAMES)
    return rng.randbytes(rng.randint(1, 64))


def attack_random(ctx, rng):
    def body(chk):
        c = chk.c
        mode = rng.random()
        if mode < 0.5:
            prefix = b""
        elif mode < 0.8:
            prefix = struct.pack(">I", rng.choice([3, 1, 0, 2]))  # valid flags, then garbage options
        else:
            prefix = struct.pack(">I", 3) + option(OPT_GO, go_data(ctx.args.export))  # garbage requests
        if rng.random() < 0.5:
            r = chk.run("idle", 2.0)  # the greeting first
            if r != "idle":
                return finish(ctx, chk, "random", r)
        data = prefix + rng.randbytes(rng.choice([1, 7, 28, 100, 4096, rng.randint(1, 65536)]))
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 4)))) if len(data) > 1 else []
        last = 0
        for cut in cuts + [len(data)]:
            chk.send(data[last:cut])
            last = cut
            if rng.random() < 0.3:
                time.sleep(rng.random() * 0.05)
        finish(ctx, chk, "random", chk.run("idle", 5.0))
        c.close()
    episode(ctx, "random", rng, body)


def handshake_transcript(rng, export):
    """A fixed newstyle transcript of options, maybe with requests after GO, then mutated."""
    parts = [struct.pack(">I", rng.choice([3, 3, 3, 1, 2, 0, rng.getrandbits(32)]))]
    menu = ["structured", "list", "info", "meta", "unknown", "starttls", "extended", "repeat", "export-junk"]
    for _ in range(rng.randint(0, 6)):
        k = rng.choice(menu)
        if k == "structured":
            parts.append(option(OPT_STRUCTURED_REPLY, b"" if rng.random() < 0.8 else rng.randbytes(3)))
        elif k == "list":
            parts.append(option(OPT_LIST, b"" if rng.random() < 0.8 else rng.randbytes(5)))
        elif k == "info":
            infos = [rng.choice([0, 1, 2, 3, rng.getrandbits(16)]) for _ in range(rng.randint(0, 4))]
            parts.append(option(OPT_INFO, go_data(fuzz_name(rng, export), infos)))
        elif k == "meta":
            q = rng.choice([["base:allocation"], ["base:"], [], ["qemu:dirty-bitmap:x", "base:allocation"], ["z" * 5000]])
            parts.append(option(rng.choice([OPT_LIST_META, OPT_SET_META]), meta_data(fuzz_name(rng, export), q)))
        elif k == "unknown":
            parts.append(option(rng.choice([0, 4, 12, 99, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32)]),
                                rng.randbytes(rng.randint(0, 64))))
        elif k == "starttls" and rng.random() < 0.3:
            parts.append(option(OPT_STARTTLS))
        elif k == "extended" and rng.random() < 0.3:
            parts.append(option(OPT_EXTENDED_HEADERS))
        elif k == "repeat" and len(parts) > 1:
            parts.append(parts[-1])
        elif k == "export-junk":
            parts.append(option(OPT_GO, rng.randbytes(rng.randint(0, 12))))
    end = rng.random()
    if end < 0.5:
        parts.append(option(OPT_GO, go_data(fuzz_name(rng, export), [3] if rng.random() < 0.5 else [])))
    elif end < 0.7:
        parts.append(option(OPT_EXPORT_NAME, fuzz_name(rng, export)))
    elif end < 0.8:
        parts.append(option(OPT_ABORT))
    if end < 0.7:
        for _ in range(rng.randint(0, 3)):
            parts.append(request(rng.choice([CMD_READ, CMD_FLUSH, CMD_CACHE]), rng.getrandbits(64),
                                 rng.choice([0, 4096, 1 << 20]), rng.choice([0, 512, 4096])))
        if rng.random() < 0.3:
            parts.append(request(CMD_DISC, rng.getrandbits(64), 0, 0))
    data = bytearray(b"".join(parts))
    mutations = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        m = rng.choice(["flip", "truncate", "insert", "huge-length", "zero-length"])
        if m == "flip" and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randint(1, 255)
        elif m == "truncate" and data:
            del data[rng.randrange(len(data)):]
        elif m == "insert":
            i = rng.randint(0, len(data))
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif m in ("huge-length", "zero-length"):
            at = [i for i in range(len(data) - 15) if data[i:i + 8] == b"IHAVEOPT"]
            if at:
                i = rng.choice(at) + 12
                val = 0 if m == "zero-length" else rng.choice([1 << 31, 2**32 - 1, 65537, 1 << 24, rng.getrandbits(32)])
                data[i:i + 4] = struct.pack(">I", val)
        mutations.append(m)
    return bytes(data), mutations


def attack_handshake(ctx, rng):
    def body(chk):
        data, _ = handshake_transcript(rng, ctx.args.export)
        if rng.random() < 0.5:
            chk.send(data)
        else:
            pos = 0
            while pos < len(data):
                n = rng.randint(1, 40)
                chk.send(data[pos:pos + n])
                pos += n
                time.sleep(rng.random() * 0.01)
        finish(ctx, chk, "handshake", chk.run("idle", 5.0))
    episode(ctx, "handshake", rng, body)


def fuzz_offset(size, rng):
    return rng.choice([rng.randrange(0, size, 4096), rng.randrange(0, size), size - 1, size, size + 1,
                       size - 4096, 2**63 - 1, 2**63, 2**64 - 1, 2**64 - 4096, 2**63 - 512, rng.getrandbits(64), 0])


LENGTHS = [0, 1, 511, 512, 4096, 65536, 65537, 256 * KIB, MIB, 32 * MIB, 32 * MIB + 1, 128 * MIB,
           128 * MIB + 1, 2**31, 2**32 - 1]


def attack_requests(ctx, rng):
    def body(chk):
        structured = rng.random() < 0.5
        if not valid_handshake(chk, ctx.args.export, structured, structured and rng.random() < 0.7):
            return finish(ctx, chk, "requests", "closed" if chk.c.eof else "timeout", 0)
        size = chk.size
        batch = bytearray()
        last = False
        for _ in range(rng.choice([1, 5, 20, 100, 300])):
            cmd = rng.choice([0, 0, 1, 1, 3, 4, 5, 6, 7, 7, 2, rng.randint(8, 20), rng.getrandbits(16)])
            if cmd == CMD_DISC and rng.random() < 0.7:
                cmd = CMD_READ
            flags = rng.choice([0, 0, FLAG_FUA, FLAG_DF, FLAG_REQ_ONE, FLAG_NO_HOLE | FLAG_FAST_ZERO,
                                rng.getrandbits(5), rng.getrandbits(16)])
            offset = fuzz_offset(size, rng)
            length = rng.choice(LENGTHS + [rng.getrandbits(32), rng.randint(1, 8192)] * 2)
            magic = REQUEST_MAGIC
            if rng.random() < 0.02:
                magic = rng.choice([0x12560953, 0x25609514, 0x21E41C71, 0, rng.getrandbits(32)])
                last = True
            batch += request(cmd, rng.getrandbits(64), offset, length, flags, magic)
            if cmd == CMD_WRITE:
                if length <= MIB:
                    batch += rng.randbytes(min(length, 64)) + bytes(max(length - 64, 0))
                else:  # a long payload, cut short: the last request of the connection
                    batch += bytes(rng.randint(0, min(length - 1, 4 * MIB)))
                    last = True
            if last or cmd == CMD_DISC:
                break
        # Sent in pieces, reading what came in between: a client that never reads while it
        # sends would deadlock against a server that stops reading when its replies back up.
        deadline = now() + 20
        for i in range(0, len(batch), 256 * KIB):
            if chk.send(bytes(batch[i:i + 256 * KIB]), deadline) == 0 or chk.run("idle", 0.01) == "closed":
                return
        finish(ctx, chk, "requests", chk.run("idle", 15.0 if not last else 3.0), 0.5)
    episode(ctx, "requests", rng, body)


def hold_time(ctx, rng):
    return max(0.0, min(rng.uniform(20, 45), ctx.left()))


def attack_pipeline(ctx, rng):
    def body(chk):
        if not valid_handshake(chk, ctx.args.export, rng.random() < 0.3):
            return finish(ctx, chk, "pipeline", "closed" if chk.c.eof else "timeout", 0)
        n = rng.choice([2340, 4000, 8000])
        span = max(chk.size - 256 * KIB, 1)
        reqs = b"".join(request(CMD_READ, rng.getrandbits(64), rng.randrange(0, span, 4096), 256 * KIB) for _ in range(n))
        hold_until = now() + hold_time(ctx, rng)
        sent = chk.send(reqs, hold_until)  # the server may stop reading: keep what it took
        ctx.stats.add("pipeline", "sent", sent // 28 - 1)
        while now() < hold_until and not ctx.stop.is_set():  # hold the connection, read nothing
            time.sleep(min(0.5, max(hold_until - now(), 0)))
        # then read (and check) what came for a few seconds, so the replies were right too
        finish(ctx, chk, "pipeline", chk.run("idle", 5.0), 0)
    episode(ctx, "pipeline", rng, body)


PAYLOAD = bytes(32 * MIB)


def attack_partial_write(ctx, rng):
    conns = []
    try:
        hold_until = now() + hold_time(ctx, rng)
        for _ in range(rng.choice([4, 8, 12])):
            if ctx.stop.is_set() or now() > hold_until:
                break
            c = ctx.connect("partial-write", rng)
            if c is None:
                continue
            chk = Checker(c, "partial-write", ctx.stats)
            conns.append(chk)
            try:
                if not valid_handshake(chk, ctx.args.export):
                    continue
                length = 32 * MIB
                offset = rng.randrange(0, max(chk.size - length, 1), 4096)
                chk.send(request(CMD_WRITE, rng.getrandbits(64), offset, length, rng.choice([0, FLAG_FUA])))
                # all but the last byte, then nothing: the server must not hold that forever
                chk.send_zeros(length - 1, hold_until)
            except Closed:
                ctx.stats.add("partial-write", "closes")
            except Violation as v:
                ctx.stats.violation("partial-write", str(v))
        while now() < hold_until and not ctx.stop.is_set():
            time.sleep(min(1.0, max(hold_until - now(), 0)))
        for chk in conns:  # nothing is due: anything the server sent must be a valid reply
            try:
                if not chk.c.eof:
                    chk.run("eof", 0.05)
            except Violation as v:
                ctx.stats.violation("partial-write", str(v))
    finally:
        for chk in conns:
            chk.c.close()


def attack_slowloris(ctx, rng):
    """K connections, each sending a valid handshake one byte every few seconds."""
    k = rng.choice([8, 16, 32])
    interval = rng.uniform(2.0, 4.0)
    export = ctx.args.export
    transcript = struct.pack(">I", 3) + option(OPT_GO, go_data(export, [INFO_BLOCK_SIZE])) \
        + request(CMD_READ, 7, 0, 4096)
    live = []
    try:
        for _ in range(k):
            c = ctx.connect("slowloris", rng)
            if c is not None:
                live.append([Checker(c, "slowloris", ctx.stats), 0])
        end = now() + min(len(transcript) * interval + 5, ctx.left())
        while live and now() < end and not ctx.stop.is_set():
            t0 = now()
            for item in list(live):
                chk, i = item
                try:
                    if i < len(transcript):
                        chk.send(transcript[i:i + 1])
                        item[1] = i + 1
                    r = chk.run("idle", 0.01)
                    if r == "closed" or chk.phase == "stop":
                        live.remove(item)
                        chk.c.close()
                except Closed:
                    ctx.stats.add("slowloris", "closes")
                    live.remove(item)
                    chk.c.close()
                except Violation as v:
                    ctx.stats.violation("slowloris", str(v))
                    live.remove(item)
                    chk.c.close()
            time.sleep(max(0.0, interval - (now() - t0)))
    finally:
        for chk, _ in live:
            chk.c.close()


GREETING_PREFIX = struct.pack(">QQ", NBDMAGIC, IHAVEOPT)


def attack_flood(ctx, rng):
    """Thousands of idle connections held open (up to the fuzzer's fd budget), then dropped."""
    if not ctx.flood_lock.acquire(blocking=False):
        time.sleep(0.5)
        return  # one flood at a time
    socks = []
    try:
        target = min(ctx.args.flood_max, ctx.fd_budget)
        hold_until = now() + hold_time(ctx, rng)
        fails = 0
        while len(socks) < target and now() < hold_until and not ctx.stop.is_set() and fails < 50:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                src = rng.choice(ctx.flood_sources)
                if src:
                    s.bind((src, 0))
                s.settimeout(1.0)
                s.connect((ctx.args.host, ctx.args.port))
                s.setblocking(False)
                socks.append(s)
                fails = 0
                ctx.stats.add("flood", "conns")
            except OSError as e:
                s.close()
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
                    break
                fails += 1
                ctx.stats.add("flood", "refused")
                time.sleep(0.05)
        while now() < hold_until and not ctx.stop.is_set():
            time.sleep(min(0.5, max(hold_until - now(), 0)))
        # What did each connection get? Nothing, or the greeting (18 bytes), or a close.
        for s in socks:
            try:
                data = s.recv(64)
            except BlockingIOError:
                continue
            except OSError:
                ctx.stats.add("flood", "closes")
                continue
            if not data:
                ctx.stats.add("flood", "closes")
                continue
            ctx.stats.add("flood", "replies")
            ok = data[:16] == GREETING_PREFIX[:len(data[:16])]
            if ok and len(data) >= 18:
                (flags,) = struct.unpack_from(">H", data, 16)
                ok = not flags & ~3 and len(data) == 18
            if not ok:
                ctx.stats.violation("flood", "an idle connection got %r (want only the 18-byte greeting)" % data)
    finally:
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass
        ctx.flood_lock.release()


ATTACKS = {
    "random": attack_random, "handshake": attack_handshake, "requests": attack_requests,
    "pipeline": attack_pipeline, "partial-write": attack_partial_write, "slowloris": attack_slowloris,
    "flood": attack_flood,
}


QUICK = {"random", "handshake", "requests"}  # one connection of a few seconds at most


def worker(ctx, i, kinds):
    """Runs the kinds in rotation, starting at its own; a quick kind runs episode after episode
    for 10-30 s, about as long as the holding kinds keep their connections, so every kind gets
    its share of the time."""
    rng = random.Random(ctx.args.seed * 1000 + i)
    n = i
    while not ctx.stop.is_set() and ctx.left() > 0:
        kind = kinds[n % len(kinds)]
        n += 1
        slice_end = now() + rng.uniform(10, 30) if kind in QUICK else 0
        try:
            ATTACKS[kind](ctx, rng)
            while now() < slice_end and not ctx.stop.is_set() and ctx.left() > 0:
                ATTACKS[kind](ctx, rng)
        except Exception as e:  # a bug of the fuzzer (or our own fd limit): counted and shown, never silent
            tb = traceback.format_exc(limit=-3).strip().replace("\n", " | ")
            ctx.stats.error(kind, f"{type(e).__name__}: {e} ({tb})")
            time.sleep(0.2)


# ---------------------------------------------------------------- canary (its own process)
def canary_main(args):
    """Well-behaved clients: results as one JSON line on stdout at the end."""
    end = now() + args.duration
    rounds, conn_rounds = [], []
    errors, conn_errors = [], []
    slow, conn_slow = [], []  # when rounds took over half the limit, and how long
    stats = Stats()  # violations seen by the canary's own checkers
    host, port = args.host, args.port
    rng = random.Random(args.seed + 17)
    state = {"chk": None}

    def connect(export):
        c = Conn(host, port, "127.0.0.1", timeout=5.0)
        chk = Checker(c, "random", stats)
        chk.send(struct.pack(">I", 3) + option(OPT_GO, go_data(export, [INFO_BLOCK_SIZE])))
        r = chk.run("transmission", 10.0)
        if r != "ok":
            c.close()
            raise Closed("handshake: %s" % {"timeout": "no answer within 10 s", "closed": "closed by the server"}.get(r, r))
        return chk

    def io(chk, cmd, offset, length, payload=b""):
        """One request, its simple reply checked by hand: data of a READ, or raises on an error."""
        cookie = rng.getrandbits(64)
        chk.c.send(request(cmd, cookie, offset, length) + payload)
        deadline = now() + 10.0
        chk.c.fill(16, deadline)
        magic, error, ck = struct.unpack_from(">IIQ", chk.c.buf, 0)
        if magic != SIMPLE_MAGIC or ck != cookie:
            raise Violation("reply magic 0x%x cookie 0x%x to request 0x%x" % (magic, ck, cookie))
        chk.c.take(16)
        if error:
            raise Closed("NBD error %d for command %d" % (error, cmd))
        if cmd != CMD_READ:
            return b""
        chk.c.fill(length, deadline)
        return chk.c.take(length)

    def one_round(block):
        if state["chk"] is None:
            state["chk"] = connect(args.canary_export)
        chk = state["chk"]
        data = rng.randbytes(4096)
        io(chk, CMD_WRITE, block * 4096, 4096, data)
        if io(chk, CMD_READ, block * 4096, 4096) != data:
            raise Violation("read back other data than written at block %d" % block)

    def probe():
        chk = connect(args.export)
        try:
            io(chk, CMD_READ, 0, 4096)
            chk.c.send(request(CMD_DISC, 0, 0, 0))
        finally:
            chk.c.close(reset=False)

    signal.signal(signal.SIGTERM, interrupt)
    try:
        canary_loop(args, end, state, rounds, errors, conn_rounds, conn_errors, one_round, probe, slow, conn_slow)
    except KeyboardInterrupt:
        pass  # report what was measured
    print(json.dumps({"rounds": rounds, "errors": errors, "conn_rounds": conn_rounds, "conn_errors": conn_errors,
                      "slow": slow, "conn_slow": conn_slow, "violations": stats.violation_samples}), flush=True)


def interrupt(signum, frame):
    raise KeyboardInterrupt()


def canary_loop(args, end, state, rounds, errors, conn_rounds, conn_errors, one_round, probe, slow, conn_slow):
    next_probe = now() + 1.0
    block = 0
    tick = now()
    while now() < end:
        tick += 0.2
        t0 = now()
        try:
            one_round(block % 256)
            rounds.append(now() - t0)
            if rounds[-1] > 0.5 * args.latency_limit:
                slow.append("%.1f s: %.0f ms" % (args.duration - (end - t0), rounds[-1] * 1000))
        except (Closed, Timeout, Violation, OSError) as e:
            rounds.append(now() - t0)
            errors.append("%.1f s: %s: %s" % (args.duration - (end - now()), type(e).__name__, e))
            if state["chk"] is not None:
                state["chk"].c.close()
                state["chk"] = None
        block += 1
        if now() >= next_probe:
            next_probe = now() + 2.0
            t0 = now()
            try:
                probe()
                conn_rounds.append(now() - t0)
                if conn_rounds[-1] > 0.5 * args.latency_limit:
                    conn_slow.append("%.1f s: %.0f ms" % (args.duration - (end - t0), conn_rounds[-1] * 1000))
            except (Closed, Timeout, Violation, OSError) as e:
                conn_rounds.append(now() - t0)
                conn_errors.append("%.1f s: %s: %s" % (args.duration - (end - now()), type(e).__name__, e))
        time.sleep(max(0.0, tick - now()))
        if tick < now() - 1.0:
            tick = now()  # far behind: do not burst


# ---------------------------------------------------------------- server monitor
class Monitor(threading.Thread):
    def __init__(self, pid, log):
        super().__init__(daemon=True)
        self.pid, self.log = pid, log
        self.samples = 0
        self.peak_kb = 0
        self.last_kb = 0
        self.hwm_kb = 0
        self.dead_at = None
        self.stop = threading.Event()
        self.t0 = now()

    def alive(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            return state not in ("Z", "X")
        except OSError:
            return False

    def sample(self):
        rss = hwm = None
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm = int(line.split()[1])
        except OSError:
            pass
        alive = self.alive()
        if rss is not None:
            self.samples += 1
            self.last_kb = rss
            self.peak_kb = max(self.peak_kb, rss)
        if hwm is not None:
            self.hwm_kb = max(self.hwm_kb, hwm)
        if not alive and self.dead_at is None:
            self.dead_at = now() - self.t0
        if self.log:
            self.log.write("%.1f\t%s\t%s\n" % (now() - self.t0, rss if rss is not None else "-", "alive" if alive else "gone"))
            self.log.flush()

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(1.0)


# ---------------------------------------------------------------- main
def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (want, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(target, soft), max(target, hard)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="nbd_fuzz.py",
        description="Hostile and broken NBD clients against one server, every answer checked against the spec, "
                    "while a canary client measures service; ends with a table and RESULT: PASS|FAIL "
                    "(exit 0 PASS, 1 FAIL, 2 setup error). Usually run by bench/nbd-fuzz.sh.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=10809)
    p.add_argument("--export", default="fuzz", help="the volume the attacks use (default fuzz)")
    p.add_argument("--canary-export", default="canary",
                   help="the volume the canary writes and reads back (default canary; the attacks never name it)")
    p.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    p.add_argument("--workers", type=int, default=8, help="attack threads, each running the kinds in rotation (default 8)")
    p.add_argument("--seed", type=int, default=1, help="seed of the mutations (default 1)")
    p.add_argument("--kinds", default=",".join(KINDS), help="attack kinds, comma-separated (default: all: %s)" % ",".join(KINDS))
    p.add_argument("--sources", type=int, default=4,
                   help="attacks connect from 127.0.1.1..N, the flood from 127.0.2.1..N (default 4; 0: all from the "
                        "default address); the canary from 127.0.0.1")
    p.add_argument("--flood-max", type=int, default=30000, help="most idle connections of one flood (default 30000)")
    p.add_argument("--max-fds", type=int, default=65536, help="raise the fuzzer's open-file limit to this (default 65536)")
    p.add_argument("--server-pid", type=int, help="sample this process's RSS every second and check it is alive")
    p.add_argument("--rss-log", help="write the samples (seconds, VmRSS KiB, alive) to this file")
    p.add_argument("--rss-limit-mib", type=int, default=512, help="peak RSS above this fails the run (default 512)")
    p.add_argument("--latency-limit", type=float, default=1.0, help="a canary round above this many seconds fails the run (default 1)")
    p.add_argument("--canary", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.duration <= 0 or a.workers < 1 or not 0 < a.port < 65536 or a.sources < 0 or a.sources > 254:
        p.error("--duration and --workers must be positive, --port a port, --sources 0..254")
    kinds = [k for k in a.kinds.split(",") if k]
    bad = [k for k in kinds if k not in ATTACKS]
    if bad or not kinds:
        p.error("unknown attack kind(s): %s (known: %s)" % (",".join(bad) or "none given", ",".join(KINDS)))
    a.kind_list = kinds
    return a


def main(argv):
    args = parse_args(argv)
    if args.canary:
        canary_main(args)
        return 0
    limit = raise_fd_limit(args.max_fds)
    ctx = Ctx(args)
    ctx.fd_budget = max(0, limit - 512 - 64 * args.workers)
    # Setup check: the export and the canary's volume must be served before anything starts.
    for name in (args.export, args.canary_export):
        try:
            c = Conn(args.host, args.port, None, 5.0)
            chk = Checker(c, "random", Stats())
            ok = valid_handshake(chk, name)
            c.close(reset=False)
        except (OSError, Closed, Violation) as e:
            print(f"nbd_fuzz: cannot reach nbd://{args.host}:{args.port}/{name}: {e}", file=sys.stderr)
            return 2
        if not ok:
            print(f"nbd_fuzz: nbd://{args.host}:{args.port}/{name} did not complete NBD_OPT_GO", file=sys.stderr)
            return 2
    for src in ctx.sources + ctx.flood_sources:
        if src:
            try:
                s = socket.socket()
                s.bind((src, 0))
                s.close()
            except OSError as e:
                print(f"nbd_fuzz: cannot bind the source address {src} ({e}); use --sources 0", file=sys.stderr)
                return 2
    rss_log = open(args.rss_log, "w") if args.rss_log else None
    mon = None
    if args.server_pid:
        mon = Monitor(args.server_pid, rss_log)
        if not mon.alive():
            print(f"nbd_fuzz: no process {args.server_pid}", file=sys.stderr)
            return 2
        mon.start()
    canary_cmd = [sys.executable, os.path.abspath(__file__), "--canary", "--host", args.host, "--port", str(args.port),
                  "--export", args.export, "--canary-export", args.canary_export, "--duration", str(args.duration),
                  "--seed", str(args.seed)]
    signal.signal(signal.SIGTERM, interrupt)
    canary = subprocess.Popen(canary_cmd, stdout=subprocess.PIPE, text=True)
    print(f"nbd_fuzz: {args.workers} workers ({','.join(args.kind_list)}) for {args.duration:.0f} s against "
          f"{args.host}:{args.port} (export {args.export}, canary {args.canary_export}), seed {args.seed}, "
          f"open-file limit {limit} (flood up to {min(args.flood_max, ctx.fd_budget)})", file=sys.stderr, flush=True)
    threads = [threading.Thread(target=worker, args=(ctx, i, args.kind_list), daemon=True, name=f"w{i}")
               for i in range(args.workers)]
    for t in threads:
        t.start()
    t_start = now()
    try:
        while ctx.left() > 0:
            time.sleep(min(10.0, max(ctx.left(), 0.01)))
            if ctx.left() > 1:
                k = ctx.stats.kinds
                print("nbd_fuzz: %3.0f s: conns %d, violations %d, closes %d%s" % (
                    now() - t_start, sum(s.conns for s in k.values()), sum(s.violations for s in k.values()),
                    sum(s.closes for s in k.values()),
                    (", server RSS %d MiB" % (mon.last_kb // 1024)) if mon else ""), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        ctx.interrupted = now() - t_start
        print("nbd_fuzz: interrupted after %.0f s; stopping" % ctx.interrupted, file=sys.stderr, flush=True)
        canary.send_signal(signal.SIGTERM)
    ctx.stop.set()
    join_end = now() + 30.0
    for t in threads:
        t.join(timeout=max(0.1, join_end - now()))
    stuck = [t.name for t in threads if t.is_alive()]
    try:
        out, _ = canary.communicate(timeout=60)
        cres = json.loads(out.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
        canary.kill()
        cres = {"rounds": [], "errors": ["the canary process did not report (%s)" % type(e).__name__],
                "conn_rounds": [], "conn_errors": [], "violations": []}
    if mon:
        mon.sample()
        mon.stop.set()
    return report(args, ctx, cres, mon, stuck)


def report(args, ctx, cres, mon, stuck):
    st = ctx.stats
    lines = []
    w = lines.append
    w("")
    w("attack          conns     sent  replies  violations  closes  stalls  refused  errors")
    tot = KindStats()
    for k in KINDS:
        s = st.kinds[k]
        if k not in args.kind_list:
            continue
        w("%-13s %7d %8d %8d %11d %7d %7d %8d %7d" % (k, s.conns, s.sent, s.replies, s.violations, s.closes,
                                                   s.stalls, s.refused, s.errors))
        for f in KindStats.FIELDS:
            setattr(tot, f, getattr(tot, f) + getattr(s, f))
    w("%-13s %7d %8d %8d %11d %7d %7d %8d %7d" % ("all", tot.conns, tot.sent, tot.replies, tot.violations,
                                               tot.closes, tot.stalls, tot.refused, tot.errors))
    w("(sent: options, requests or chunks of bytes; replies: server messages checked; stalls: something was due"
      " and nothing came in time; refused: connect failed)")
    w("")
    lim = args.latency_limit

    def canary_line(name, rounds, errors, slow):
        ms = [r * 1000 for r in rounds]
        over = sum(1 for r in rounds if r > lim)
        w("%-44s rounds %5d  errors %3d  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  over %g s: %d" % (
            name, len(rounds), len(errors), pct(ms, 50), pct(ms, 99), max(ms) if ms else 0.0, lim, over))
        for e in errors[:5]:
            w("    error at " + e)
        if slow:
            w("    slowest rounds (over %g s, at seconds into the run): %s%s" % (
                lim / 2, ", ".join(slow[:12]), ", ..." if len(slow) > 12 else ""))
        return over, len(errors), len(rounds)

    o1, e1, n1 = canary_line(f"canary: write+read 4 KiB every 200 ms ({args.canary_export})",
                             cres["rounds"], cres["errors"], cres.get("slow", []))
    o2, e2, n2 = canary_line(f"canary: new connection + 4 KiB READ / 2 s ({args.export})",
                             cres["conn_rounds"], cres["conn_errors"], cres.get("conn_slow", []))
    cviol = cres.get("violations", [])
    for v in cviol[:3]:
        w("    canary saw a spec violation: " + v)
    alive = peak = None
    if mon:
        alive = mon.alive()
        peak = max(mon.hwm_kb, mon.peak_kb) // 1024
        w("server: alive at the end: %s%s; peak RSS %d MiB (VmHWM; highest 1 s sample %d MiB, %d samples); RSS at the end %d MiB"
          % ("yes" if alive else "NO", "" if mon.dead_at is None else " (gone after %.0f s)" % mon.dead_at,
             peak, mon.peak_kb // 1024, mon.samples, mon.last_kb // 1024 if alive else 0))
    else:
        w("server: not watched (no --server-pid)")
    if st.violation_samples:
        w("")
        w("spec violations (first %d):" % len(st.violation_samples))
        for v in st.violation_samples:
            w("  " + v)
    if st.error_samples or stuck:
        w("")
        w("fuzzer errors (bugs of the fuzzer or its own limits, not of the server):")
        for e in st.error_samples:
            w("  " + e)
        if stuck:
            w("  workers still running at the end: " + ", ".join(stuck))
    reasons = []
    if mon and not alive:
        reasons.append("server not alive")
    if mon and peak >= args.rss_limit_mib:
        reasons.append("peak RSS %d MiB >= %d MiB" % (peak, args.rss_limit_mib))
    if tot.violations or cviol:
        reasons.append("%d spec violation(s)" % (tot.violations + len(cviol)))
    if o1 + o2:
        reasons.append("%d canary round(s) over %g s" % (o1 + o2, lim))
    if e1 + e2:
        reasons.append("%d canary round(s) failed" % (e1 + e2))
    if n1 == 0:
        reasons.append("the canary made no round")
    if ctx.interrupted is not None:
        reasons.append("interrupted after %.0f of %.0f s" % (ctx.interrupted, args.duration))
    if tot.errors or stuck:
        reasons.append("%d fuzzer error(s)%s: the run is not valid" % (tot.errors, ", workers stuck" if stuck else ""))
    w("")
    if reasons:
        w("RESULT: FAIL (" + "; ".join(reasons) + ")")
    else:
        w("RESULT: PASS (server alive, peak RSS %s MiB < %d MiB, no spec violation, every canary round within %g s)"
          % (peak if peak is not None else "?", args.rss_limit_mib, lim))
    print("\n".join(lines), flush=True)
    return 1 if reasons else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
