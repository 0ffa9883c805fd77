// The per-query wire code: a minimal parse of a query (header, question, OPT) into a reusable
// scratch object, and the assembly of a reply from a prebuilt template. Pure, no I/O; the only
// allocation is the reply buffer (the lookup key is made by the caller, only when needed).

export const TYPE = { A: 1, NS: 2, SOA: 6, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** The outcome of parseQuery, in order of precedence. */
export const STATUS = {
  OK: 0,
  SHORT: 1,        // fewer than 12 bytes: no reply
  RESPONSE: 2,     // QR=1: not a query, no reply
  NOTIMP: 3,       // opcode other than QUERY
  FORMERR: 4,      // QDCOUNT != 1, broken question, broken records, bad or repeated OPT
  BADVERS: 5,      // EDNS version above 0
} as const;

export const HEADER_SIZE = 12;
export const OPT_RR_SIZE = 11;
/** Largest reply without EDNS (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
export const MAX_TCP_MESSAGE = 65535;

/** Scratch state for one query; one instance is reused for every query on a thread. */
export interface Query {
  status: number;
  /** End of the question (after QTYPE and QCLASS); HEADER_SIZE when there is no question to echo. */
  questionEnd: number;
  qtype: number;
  qclass: number;
  /** The query name in wire form, ASCII lower-cased: `name[0 .. nameLength)`. */
  readonly name: Buffer;
  nameLength: number;
  /** The query carried exactly one well-formed OPT record. */
  edns: boolean;
  udpSize: number;
  ednsVersion: number;
  dnssecOk: boolean;
}

export function createQuery(): Query {
  return {
    status: STATUS.SHORT, questionEnd: HEADER_SIZE, qtype: -1, qclass: -1, name: Buffer.alloc(256), nameLength: 0,
    edns: false, udpSize: 0, ednsVersion: 0, dnssecOk: false,
  };
}

/**
 * Parses `msg` into `q`. Never throws and never reads outside `msg`: every length is checked
 * against the message before use, and each loop consumes at least one byte per turn.
 */
export function parseQuery(msg: Uint8Array, q: Query): void {
  const len = msg.length;
  q.questionEnd = HEADER_SIZE;
  q.qtype = -1;
  q.qclass = -1;
  q.nameLength = 0;
  q.edns = false;
  q.udpSize = 0;
  q.ednsVersion = 0;
  q.dnssecOk = false;
  if (len < HEADER_SIZE) { q.status = STATUS.SHORT; return; }
  if ((msg[2] & 0x80) !== 0) { q.status = STATUS.RESPONSE; return; }
  const opcodeOk = (msg[2] & 0x78) === 0;
  const failed = opcodeOk ? STATUS.FORMERR : STATUS.NOTIMP;
  if (msg[4] !== 0 || msg[5] !== 1) { q.status = failed; return; }

  // Question: uncompressed labels, each at most 63 bytes, the whole name at most 255.
  const name = q.name;
  let p = HEADER_SIZE;
  let n = 0;
  for (;;) {
    if (p >= len) { q.status = failed; return; }
    const l = msg[p];
    if (l === 0) { name[n++] = 0; p++; break; }
    if (l > 63 || p + 1 + l > len || n + l + 2 > 255) { q.status = failed; return; }
    name[n++] = l;
    const end = p + 1 + l;
    for (let i = p + 1; i < end; i++) {
      const c = msg[i];
      name[n++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    p = end;
  }
  if (p + 4 > len) { q.status = failed; return; }
  q.nameLength = n;
  q.qtype = (msg[p] << 8) | msg[p + 1];
  q.qclass = (msg[p + 2] << 8) | msg[p + 3];
  p += 4;
  q.questionEnd = p;

  // Answer, authority and additional records: skipped, except the OPT (additional section only).
  const an = (msg[6] << 8) | msg[7];
  const ns = (msg[8] << 8) | msg[9];
  const total = an + ns + ((msg[10] << 8) | msg[11]);
  let edns = false;
  for (let i = 0; i < total; i++) {
    const owner = p;
    for (;;) {
      if (p >= len) { q.status = failed; return; }
      const l = msg[p];
      if (l === 0) { p++; break; }
      if ((l & 0xc0) === 0xc0) { p += 2; break; }
      if ((l & 0xc0) !== 0) { q.status = failed; return; }
      p += 1 + l;
    }
    if (p + 10 > len) { q.status = failed; return; }
    const type = (msg[p] << 8) | msg[p + 1];
    const rdlength = (msg[p + 8] << 8) | msg[p + 9];
    const rdata = p + 10;
    if (rdata + rdlength > len) { q.status = failed; return; }
    if (type === TYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT, owner the root, in the additional section; options well framed.
      if (edns || i < an + ns || p !== owner + 1 || msg[owner] !== 0) { q.status = failed; return; }
      let o = rdata;
      const end = rdata + rdlength;
      while (o < end) {
        if (o + 4 > end) { q.status = failed; return; }
        o += 4 + ((msg[o + 2] << 8) | msg[o + 3]);
      }
      if (o !== end) { q.status = failed; return; }
      edns = true;
      q.udpSize = (msg[p + 2] << 8) | msg[p + 3];
      q.ednsVersion = msg[p + 5];
      q.dnssecOk = (msg[p + 6] & 0x80) !== 0;
    }
    p = rdata + rdlength;
  }
  q.edns = edns;
  if (!opcodeOk) q.status = STATUS.NOTIMP;
  else if (edns && q.ednsVersion > 0) q.status = STATUS.BADVERS;
  else q.status = STATUS.OK;
}

/** A prebuilt reply: header flags and counts, and the sections after the question. */
export interface Template {
  /** High header byte without the bits copied from the query (opcode, RD): QR, AA. */
  readonly flagsHigh: number;
  /** The full rcode (above 15 only with an OPT: BADVERS). */
  readonly rcode: number;
  readonly an: number;
  readonly ns: number;
  readonly ar: number;
  /** Answer, authority and additional records, encoded for a question of this name's length. */
  readonly body: Uint8Array;
}

/** The UDP payload size a reply to `q` may use (RFC 6891 §6.2.5), capped by `maxUdpSize`. */
export function udpLimit(q: Query, maxUdpSize: number): number {
  if (!q.edns) return CLASSIC_UDP_SIZE;
  const asked = q.udpSize < CLASSIC_UDP_SIZE ? CLASSIC_UDP_SIZE : q.udpSize;
  return asked < maxUdpSize ? asked : maxUdpSize;
}

/**
 * Writes the reply to `msg` (parsed into `q`) from template `t`: ID, opcode, RD and CD copied from
 * the query, the question bytes echoed as received (when the question parsed), the template's
 * records, and an OPT when the query had one. When the reply exceeds `limit` (or `truncate` is set), it is sent with TC=1 and
 * the question only. `headroom` bytes are reserved in front (TCP: 2, filled with the length).
 */
export function assembleReply(
  msg: Uint8Array, q: Query, t: Template, limit: number, truncate: boolean, ourUdpSize: number, headroom: number,
): Buffer {
  const qEnd = q.questionEnd;
  const qLen = qEnd - HEADER_SIZE;
  const optLen = q.edns ? OPT_RR_SIZE : 0;
  let size = HEADER_SIZE + qLen + t.body.length + optLen;
  const tc = truncate || size > limit;
  if (tc) size = HEADER_SIZE + qLen + optLen;
  const out = Buffer.allocUnsafe(headroom + size);
  let o = 0;
  if (headroom === 2) { out[0] = size >>> 8; out[1] = size & 0xff; o = 2; }
  out[o] = msg[0];
  out[o + 1] = msg[1];
  out[o + 2] = t.flagsHigh | (msg[2] & 0x79) | (tc ? 0x02 : 0);
  out[o + 3] = (msg[3] & 0x10) | (t.rcode & 0x0f);
  out[o + 4] = 0;
  out[o + 5] = qLen === 0 ? 0 : 1;
  const an = tc ? 0 : t.an;
  const ns = tc ? 0 : t.ns;
  const ar = (tc ? 0 : t.ar) + (q.edns ? 1 : 0);
  out[o + 6] = an >>> 8; out[o + 7] = an & 0xff;
  out[o + 8] = ns >>> 8; out[o + 9] = ns & 0xff;
  out[o + 10] = ar >>> 8; out[o + 11] = ar & 0xff;
  o += HEADER_SIZE;
  if (qLen > 0) { out.set(msg.subarray(HEADER_SIZE, qEnd), o); o += qLen; }
  if (!tc && t.body.length > 0) { out.set(t.body, o); o += t.body.length; }
  if (q.edns) {
    out[o] = 0;                                   // owner: root
    out[o + 1] = 0; out[o + 2] = TYPE.OPT;
    out[o + 3] = ourUdpSize >>> 8; out[o + 4] = ourUdpSize & 0xff;
    out[o + 5] = t.rcode >>> 4;                   // extended rcode
    out[o + 6] = 0;                               // version 0
    out[o + 7] = q.dnssecOk ? 0x80 : 0;           // DO copied (RFC 3225 §3)
    out[o + 8] = 0;
    out[o + 9] = 0; out[o + 10] = 0;              // no options
  }
  return out;
}

/** Whether the wire name `name[0..len)` equals `zone` or lies under it (on a label boundary). */
export function inZone(name: Uint8Array, len: number, zone: Uint8Array): boolean {
  const start = len - zone.length;
  if (start < 0) return false;
  for (let i = 0; i < zone.length; i++) if (name[start + i] !== zone[i]) return false;
  let p = 0;
  while (p < start) p += name[p] + 1;
  return p === start;
}

/** A DNS name (lower-case, no trailing dot) in wire form. */
export function encodeName(name: string): Buffer {
  const labels = name === '' ? [] : name.split('.');
  const parts: number[] = [];
  for (const l of labels) {
    parts.push(l.length);
    for (let i = 0; i < l.length; i++) parts.push(l.charCodeAt(i));
  }
  parts.push(0);
  return Buffer.from(parts);
}
