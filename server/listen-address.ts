import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** The addresses of this machine's network interfaces. */
function localAddresses(): Set<string> {
  return new Set(
    Object.values(networkInterfaces())
      .flat()
      .flatMap((info) => (info ? [info.address] : [])),
  );
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * Where `server start` listens by default: where the public URL says, so that the sites the invitation
 * links send there find it. An IP address is used as it is (the loopback range counts as local); a name
 * is resolved, and used if it names this machine; a name that resolves elsewhere (behind NAT or a port
 * forward) means every address. `note` says why when the choice is not the URL's own address.
 */
export async function defaultListenHost(publicUrl: string): Promise<{ host: string; note?: string }> {
  const hostname = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
  if (isIP(hostname)) return { host: hostname };
  if (hostname === 'localhost') return { host: '127.0.0.1' };
  let addresses: string[];
  try {
    addresses = (await lookup(hostname, { all: true })).map((entry) => entry.address);
  } catch {
    addresses = [];
  }
  const local = localAddresses();
  const here = addresses.find((address) => local.has(address) || address.startsWith('127.'));
  if (here) return { host: here };
  return {
    host: '0.0.0.0',
    note: `the public URL's host ${hostname} ${addresses.length > 0 ? `resolves to ${addresses.join(', ')}, not an address of this machine` : 'does not resolve here'}: listening on all addresses (choose one with --host)`,
  };
}

/**
 * Why sites following the public URL may not reach a coordinator listening on `host`, or undefined when
 * they can (the same address, or every address).
 */
export async function hostMismatch(host: string, publicUrl: string): Promise<string | undefined> {
  if (WILDCARDS.has(host)) return undefined;
  const wanted = await defaultListenHost(publicUrl);
  if (WILDCARDS.has(wanted.host) || wanted.host === host) return undefined;
  return `listening on ${host}, but the public URL ${publicUrl} points at ${wanted.host}: sites and invitation links use the public URL, and will not reach this address`;
}
