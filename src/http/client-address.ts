import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";

/**
 * TRUST_PROXY, as Express reads it: off (the socket's address), on (every hop: the left-most
 * X-Forwarded-For address), a hop count, or the proxies' addresses and CIDRs (`loopback`,
 * `uniquelocal` and `linklocal` name the usual ranges).
 */
export type TrustProxy = boolean | number | string[];

/** Reads a TRUST_PROXY value; throws with the reason when it is neither a switch, a count nor addresses. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = raw?.trim().toLowerCase() ?? "";
  if (["", "false", "0", "no", "off"].includes(value)) return false;
  if (["true", "yes", "on"].includes(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  const list = value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  proxyAddr.compile(list); // throws "invalid IP address: …" on a bad entry
  return list;
}

/** Whether the address `hop` proxies away from the server may be believed about the next one. */
export type TrustFunction = (address: string, hop: number) => boolean;

export function trustFunction(trust: TrustProxy): TrustFunction {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === "number") return (_address, hop) => hop < trust;
  return proxyAddr.compile(trust);
}

/** The client's address: the socket's, or the X-Forwarded-For entry the trusted proxies vouch for. */
export function clientAddressOf(req: IncomingMessage, trust: TrustFunction): string | undefined {
  if (!req.socket.remoteAddress) return undefined;
  return proxyAddr(req, trust);
}
