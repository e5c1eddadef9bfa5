/**
 * Can the host harness run here? It needs root, iproute2's `ip`, and a kernel that lets it add
 * a network namespace with a bridge and a veth pair in it. `hostsUnavailable()` tries exactly
 * that once per process (in a namespace of its own, named like a run so a crash mid-probe is
 * cleaned like one) and answers undefined, or one line saying why not, for `test(…, { skip })`.
 */
import { ip } from './ip-command.ts';
import { runPrefix } from './host-plan.ts';

let answer: Promise<string | undefined> | undefined;

export function hostsUnavailable(): Promise<string | undefined> {
  answer ??= probe();
  return answer;
}

async function probe(): Promise<string | undefined> {
  const uid = process.getuid?.();
  if (uid !== 0) return `the host harness needs root to create network namespaces (running as uid ${uid ?? 'unknown'})`;
  try {
    await ip(['-V']);
  } catch (error) {
    return `the host harness needs iproute2's ip command: ${(error as Error).message.split('\n')[0]}`;
  }
  const namespace = `${runPrefix(process.pid, 0)}probe`;
  try {
    await ip(['netns', 'add', namespace]);
  } catch (error) {
    return `the host harness cannot add a network namespace: ${(error as Error).message.split('\n')[0]}`;
  }
  try {
    await ip(['-n', namespace, '-batch', '-'], 'link add name br0 type bridge\nlink add name probe0 type veth peer name probe1\nlink set dev probe0 master br0\n');
    return undefined;
  } catch (error) {
    return `the host harness cannot make a bridge and veth pairs in a namespace: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    await ip(['netns', 'del', namespace]);
  }
}
