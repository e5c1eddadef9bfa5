/**
 * What the host harness could leave behind, as one comparable snapshot: `ip netns list` and
 * `ip -o link show` of the root namespace. A test takes one before its runs and one after they
 * are closed; they must be equal (leak.test.ts, and every suite that builds hosts).
 *
 * Other runs may be building their own hosts at the same time (npm test runs two files at
 * once): the snapshot leaves out namespaces and links whose owner is another live process.
 * Those carry their owner's pid (host-network.ts), so nothing of this process's runs is left out.
 */
import { ROOT_LINK_PREFIX } from './constants.ts';
import { isAlive, parseRootLinks } from './host-network.ts';
import { ownerOfNamespace } from './host-plan.ts';
import { ip, parseNamespaceList } from './ip-command.ts';

export interface Leftovers {
  namespaces: string[];
  links: string[];
}

/** Another live process's run: not ours to compare. */
function othersLive(owner: number | undefined): boolean {
  return owner !== undefined && owner !== process.pid && isAlive(owner);
}

export async function hostLeftovers(): Promise<Leftovers> {
  const namespaces = parseNamespaceList(await ip(['netns', 'list'])).filter((n) => !othersLive(ownerOfNamespace(n))).sort();
  const text = await ip(['-o', 'link', 'show']);
  const owners = new Map(parseRootLinks(text).map((l) => [l.name, l.owner]));
  const links = text.split('\n').filter(Boolean).filter((line) => {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '';
    if (!new RegExp(`^${ROOT_LINK_PREFIX}\\d+$`).test(name)) return true;
    // A harness link without its alias yet belongs to a run in its first milliseconds.
    return owners.has(name) && !othersLive(owners.get(name));
  });
  return { namespaces, links };
}
