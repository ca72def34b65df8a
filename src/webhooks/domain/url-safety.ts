import ipaddr from 'ipaddr.js';

/** Why a webhook URL is refused, or null when it is acceptable as written (before DNS). */
export function urlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'url is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url must be http or https';
  if (url.username || url.password) return 'url must not carry credentials';
  if (!url.hostname) return 'url has no host';
  return null;
}

/**
 * Whether an address is an ordinary public unicast one. Private, loopback, link-local, unique
 * local, carrier-grade NAT, multicast, reserved and unspecified addresses are not, nor an
 * IPv4-mapped IPv6 address of one of them.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}
