/**
 * The host harness's pure parts, data-driven (testdata/reachability.txt; REWRITE=1 rewrites
 * it): a run's names and addresses (host-plan.ts), each kind of partition as directed cuts,
 * and exactly which `ip neigh` commands apply it on top of the one before (reachability.ts).
 * Runs anywhere: no namespace is made.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDataDriven, type Case } from '../helpers/datadriven.ts';
import { parseRootLinks } from './host-network.ts';
import { ownerOfNamespace, planHosts, type HostPlan } from './host-plan.ts';
import { bridge, CLIENT, describeCuts, isolate, neighborCommands, NO_CUTS, oneWay, split, union, type Cuts } from './reachability.ts';

/** `a b / c` to [[a, b], [c]]. */
function groups(args: string[]): string[][] {
  return args.join(' ').split('/').map((g) => g.trim().split(/\s+/).filter(Boolean));
}

test('a run\'s plan, its partitions as cuts, and the neighbor commands that make them', () => {
  let plan: HostPlan | undefined;
  let cuts: Cuts = NO_CUTS;
  runDataDriven(fileURLToPath(new URL('./testdata/reachability.txt', import.meta.url)), (c: Case) => {
    const hosts = () => plan!.hosts.map((h) => h.name);
    let next: Cuts;
    switch (c.command) {
      case 'plan': {
        plan = planHosts({ ownerPid: Number(c.named.get('pid')), run: Number(c.named.get('run')), subnetIndex: Number(c.named.get('subnet')), hostCount: Number(c.named.get('hosts')), relays: c.named.get('relays') === 'true' });
        cuts = NO_CUTS;
        const lines = [`bridge ${plan.bridgeNamespace}; root link ${plan.rootLink} ${plan.rootIp} ${plan.rootMac}`];
        for (const h of plan.hosts) lines.push(`${h.name} ${h.namespace} port ${h.bridgePort} ${h.mac} public ${h.publicIp} node ${h.nodeIp} address ${h.address}`);
        return lines.join('\n');
      }
      case 'owner':
        return c.args.map((n) => `${n}: ${ownerOfNamespace(n) ?? 'not a harness name'}`).join('\n');
      case 'root-links':
        return parseRootLinks(c.input.join('\n')).map((l) => `${l.name} owned by ${l.owner}`).join('\n') || 'none';
      case 'isolate':
        next = isolate(c.args[0]!, [...hosts(), ...(c.args[1] === 'clients' ? [CLIENT] : [])]);
        break;
      case 'split':
        next = split(groups(c.args));
        break;
      case 'bridge': {
        const [left, [middle], right] = groups(c.args) as [string[], [string], string[]];
        next = bridge(left, middle, right);
        break;
      }
      case 'one-way':
        next = union(...c.args.map((pair) => oneWay(pair.split('>')[0]!, pair.split('>')[1]!)));
        break;
      case 'heal':
        next = NO_CUTS;
        break;
      default:
        throw new Error(`unknown command ${c.command}`);
    }
    const batches = neighborCommands(plan!, 'eth0', next, cuts);
    cuts = next;
    const lines = [`cuts: ${describeCuts(cuts)}`];
    for (const b of batches) lines.push(`in ${b.namespace ?? 'root'}:`, ...b.commands.map((cmd) => `  ${cmd}`));
    return lines.join('\n');
  });
});
