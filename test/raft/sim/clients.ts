/**
 * The simulator's clients: each writes (propose) or reads (a linearizable read, then the
 * register) one of a few keys at a time, against a member the simulator picks, and records the
 * operation in a History the way Jepsen does: `ok` when it took effect, `fail` when it certainly
 * did not (NOT_LEADER, PROPOSAL_DROPPED…, and every failed read), `info` when it may have
 * (LEADERSHIP_LOST, TIMEOUT, STOPPED). The history is checked for linearizability at the end.
 */
import { outcomeUnknown, RaftError, type RaftGroup } from '../../../cluster/raft/index.ts';
import { counterClock, History } from '../../checker/index.ts';
import { encodeCommand, type RegisterMachine } from './register-machine.ts';

const KEYS = ['a', 'b', 'c'];

export interface OperationCounts {
  ok: number;
  fail: number;
  info: number;
}

export class SimClients {
  readonly history = new History({ clock: counterClock() });
  readonly counts: OperationCounts = { ok: 0, fail: 0, info: 0 };
  private readonly busy = new Set<number>();
  private written = 0;

  constructor(
    private readonly clientCount: number,
    private readonly random: () => number,
    /** Called with anything but a RaftError: a bug. */
    private readonly unexpected: (error: unknown) => void,
  ) {}

  get idle(): boolean {
    return this.busy.size === 0;
  }

  /** Each idle client starts an operation with probability `rate`, on the member `pick` names (none: it waits). */
  start(rate: number, pick: () => { group: RaftGroup; sm: RegisterMachine } | undefined): void {
    for (let client = 0; client < this.clientCount; client++) {
      if (this.busy.has(client) || this.random() >= rate) continue;
      const target = pick();
      if (!target) continue;
      this.busy.add(client);
      void this.operate(client, target.group, target.sm).finally(() => this.busy.delete(client));
    }
  }

  private async operate(client: number, group: RaftGroup, sm: RegisterMachine): Promise<void> {
    const key = KEYS[Math.floor(this.random() * KEYS.length)]!;
    if (this.random() < 0.5) {
      const value = `w${++this.written}`;
      const id = this.history.invoke(client, { type: 'write', key, value });
      try {
        await group.propose(encodeCommand(key, value));
        this.history.ok(id);
        this.counts.ok++;
      } catch (error) {
        this.check(error);
        const unknown = outcomeUnknown(error);
        if (unknown) this.history.info(id, (error as RaftError).code);
        else this.history.fail(id, (error as RaftError).code);
        this.counts[unknown ? 'info' : 'fail']++;
      }
      return;
    }
    const id = this.history.invoke(client, { type: 'read', key });
    try {
      await group.read();
      this.history.ok(id, sm.get(key));
      this.counts.ok++;
    } catch (error) {
      this.check(error);
      this.history.fail(id, (error as RaftError).code);
      this.counts.fail++;
    }
  }

  private check(error: unknown): void {
    if (!(error instanceof RaftError)) this.unexpected(error);
  }
}
