/**
 * The deterministic simulator of a Raft group: 3 or 5 voters plus one spare member, each a
 * real RaftGroup (the driver the node uses) on its own MemoryFileSystem, over SimNetwork.
 * Everything comes from one seed: the fault profile, the schedule, the members' election
 * timeouts, the crash states. Time is sub-steps; members tick every SUBSTEPS_PER_TICK of them,
 * in a shuffled order.
 *
 * A schedule has a fault phase, then a healed phase:
 * - faults: message drop, duplication, delay and reordering; symmetric splits, leader
 *   isolation and one-way cuts; crash-restarts, either between steps or in the middle of a
 *   storage write (the crash state is taken just before a chosen file-system call, and what
 *   was not fsynced is lost, torn or kept at random); leadership transfers; membership
 *   changes (add the spare, remove a voter, the leader included); snapshots and compaction
 *   every few entries, so lagging members get InstallSnapshot.
 * - healed: no faults, every member up; a leader must commit an entry of its term (liveness).
 * Clients write (propose) and read (ReadIndex) registers throughout. After every sub-step the
 * five safety properties are checked (invariants.ts); at the end the clients' history must be
 * linearizable (test/checker). An assertion or an unexpected error inside a member is a
 * violation too.
 */
import { seededRandom, type CrashOptions, MemoryFileSystem } from '../../../engine/index.ts';
import { RaftError, RaftGroup, type RaftLimits } from '../../../cluster/raft/index.ts';
import { checkLinearizable } from '../../checker/index.ts';
import { SimClients } from './clients.ts';
import { InvariantChecker } from './invariants.ts';
import { SimNetwork } from './network.ts';
import { SlowDisk } from './slow-disk.ts';
import { RegisterMachine } from './register-machine.ts';

export interface SimulationOptions {
  seed: number;
  nodes: 3 | 5;
  /** Sub-steps of the fault phase. */
  faultSteps: number;
  /** Sub-steps at most of the healed phase. */
  healSteps: number;
}

export interface ScheduleStats {
  steps: number;
  highestTerm: number;
  highestCommit: number;
  crashes: number;
  crashesMidWrite: number;
  partitions: number;
  transfers: number;
  membershipChanges: number;
  snapshotRestores: number;
  operations: { ok: number; fail: number; info: number };
  messages: number;
}

export interface ScheduleReport {
  seed: number;
  violation?: string;
  stats: ScheduleStats;
}

export const SUBSTEPS_PER_TICK = 3;
const DIR = '/raft';
const CLIENTS = 3;
const CRASH_VARIANTS: CrashOptions[] = [{ data: 'drop', entries: 'durable' }, { data: 'keep', entries: 'keep' }, { data: 'random', entries: 'random' }];
const MUTATING = new Set(['create', 'append', 'sync', 'rename', 'remove', 'syncDir', 'mkdir']);

class SimulatedCrash extends Error {}

interface Member {
  id: string;
  founder: boolean;
  /** What the machine's disk holds; crash states come from here. */
  disk: MemoryFileSystem;
  /** The same disk with fsyncs that take simulated time, as the group sees it. */
  fs: SlowDisk;
  group: RaftGroup | undefined;
  opening: boolean;
  sm: RegisterMachine | undefined;
  incarnation: number;
  restartAt: number;
}

export function replayCommand(options: SimulationOptions): string {
  return `npm run sim -- --seed ${options.seed} --nodes ${options.nodes} --steps ${options.faultSteps}`;
}

export async function runSchedule(options: SimulationOptions): Promise<ScheduleReport> {
  return new Simulation(options).run();
}

class Simulation {
  private readonly random: () => number;
  private readonly checker = new InvariantChecker();
  private readonly network: SimNetwork;
  private readonly members: Member[];
  private readonly limits: Partial<RaftLimits>;
  private readonly rates: { crash: number; partition: number; transfer: number; membership: number; operation: number };
  private readonly clients: SimClients;
  private readonly sleepers: Array<{ at: number; wake: () => void }> = [];
  private readonly syncDelayMax: number;
  private now = 0;
  private healAt = Infinity;
  private faultPhase = true;
  private violation: string | undefined;
  readonly stats: ScheduleStats = {
    steps: 0, highestTerm: 0, highestCommit: 0, crashes: 0, crashesMidWrite: 0, partitions: 0, transfers: 0,
    membershipChanges: 0, snapshotRestores: 0, operations: { ok: 0, fail: 0, info: 0 }, messages: 0,
  };

  constructor(private readonly options: SimulationOptions) {
    this.random = seededRandom(options.seed);
    const pick = <T>(choices: readonly T[]): T => choices[Math.floor(this.random() * choices.length)]!;
    this.clients = new SimClients(CLIENTS, this.random, (error) => this.expectRaftError(error));
    this.network = new SimNetwork(this.random, (term, from) => this.checker.leader(term, from));
    this.network.faults = { dropRate: pick([0, 0.02, 0.1, 0.25]), duplicateRate: pick([0, 0.05, 0.15]), delayMax: pick([1, 3, 8]) };
    this.rates = { crash: pick([0, 0.004, 0.012]), partition: pick([0, 0.006, 0.02]), transfer: pick([0, 0.006]), membership: pick([0, 0.006]), operation: 0.25 };
    this.limits = {
      electionTicks: 8, heartbeatTicks: 1, requestTimeoutTicks: 25,
      snapshotEntries: pick([4, 12, 1000]), appendBytesMax: pick([64, 1024 * 1024]), inflightAppendsMax: pick([2, 256]),
    };
    this.syncDelayMax = pick([0, 2, 6]);
    const ids = Array.from({ length: options.nodes + 1 }, (_, k) => `n${k + 1}`);
    this.members = ids.map((id, k) => {
      const disk = new MemoryFileSystem();
      return { id, founder: k < options.nodes, disk, fs: this.slowDisk(disk), group: undefined, opening: false, sm: undefined, incarnation: 0, restartAt: 0 };
    });
  }

  private slowDisk(disk: MemoryFileSystem): SlowDisk {
    return new SlowDisk(disk, (subSteps) => this.sleep(subSteps), () => Math.floor(this.random() * (this.syncDelayMax + 1)));
  }

  private sleep(subSteps: number): Promise<void> {
    if (subSteps === 0) return Promise.resolve();
    return new Promise((wake) => this.sleepers.push({ at: this.now + subSteps, wake }));
  }

  private wakeSleepers(): void {
    for (let k = 0; k < this.sleepers.length; k++) {
      if (this.sleepers[k]!.at > this.now) continue;
      this.sleepers.splice(k--, 1)[0]!.wake();
    }
  }

  private fail(text: string): void {
    this.violation ??= text;
  }

  async run(): Promise<ScheduleReport> {
    for (let k = 0; k < this.options.faultSteps && !this.violation; k++) await this.step(true);
    this.faultPhase = false;
    this.network.heal();
    this.network.faults = { dropRate: 0, duplicateRate: 0, delayMax: 1 };
    for (const m of this.members) if (!m.group) m.restartAt = this.now;
    let settled = false;
    for (let k = 0; k < this.options.healSteps && !this.violation && !settled; k++) {
      await this.step(false);
      settled = this.progressed() && this.clients.idle;
    }
    if (!this.violation && !this.progressed()) this.fail(`Liveness: no leader committed an entry of its term within ${this.options.healSteps} sub-steps after healing`);
    if (!this.violation) {
      const result = checkLinearizable(this.clients.history.events);
      if (!result.ok) this.fail(`Linearizability (${result.verdict}): ${result.explanation}`);
    }
    for (const m of this.members) void m.group?.close(); // not awaited: a close may wait on a disk sleeper that never wakes now
    this.stats.messages = this.network.messagesSent;
    this.stats.operations = this.clients.counts;
    return { seed: this.options.seed, ...(this.violation ? { violation: this.violation } : {}), stats: this.stats };
  }

  private async step(faulty: boolean): Promise<void> {
    this.now++;
    this.stats.steps++;
    try {
      this.wakeSleepers();
      for (const m of this.members) if (!m.group && !m.opening && m.restartAt <= this.now) this.restart(m);
      if (this.now >= this.healAt) this.heal();
      if (this.now % SUBSTEPS_PER_TICK === 0) for (const m of this.shuffled(this.up())) m.group?.tick();
      for (const { to, messages } of this.network.due(this.now)) this.member(to).group?.receive(messages);
      if (faulty) this.injectFaults();
      this.clients.start(this.rates.operation, () => this.pickTarget());
      await this.settle();
    } catch (error) {
      this.fail(`a member threw: ${(error as Error).stack ?? String(error)}`);
    }
    for (const m of this.members) {
      const failure = m.group?.failure;
      if (failure && !(failure instanceof SimulatedCrash)) this.fail(`${m.id} stopped: ${failure.stack ?? failure.message}`);
    }
    const observed = this.up().map((m) => ({ id: m.id, incarnation: m.incarnation, soft: m.group!.softState, log: m.group!.log }));
    this.violation ??= this.checker.check(observed);
    for (const o of observed) {
      this.stats.highestTerm = Math.max(this.stats.highestTerm, o.soft.term);
      this.stats.highestCommit = Math.max(this.stats.highestCommit, o.log.committed);
    }
  }

  /**
   * Runs every chain of promises the step started to its end: nothing in the simulation waits
   * on real I/O, so one macrotask turn drains them all (only sleepers wait, for later steps).
   * A member with work and no disk wait left has a stalled Ready loop: a driver bug.
   */
  private async settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    for (const m of this.members) {
      if (m.group?.busy && m.fs.pendingSyncs === 0 && m.group.failure === undefined) this.fail(`${m.id} has work but its Ready loop is not running: ${JSON.stringify(m.group.status())}`);
    }
  }

  private up(): Member[] {
    return this.members.filter((m) => m.group !== undefined && m.group.failure === undefined);
  }

  private member(id: string): Member {
    return this.members.find((m) => m.id === id)!;
  }

  private shuffled<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  private leader(): Member | undefined {
    let best: Member | undefined;
    let bestTerm = -1;
    for (const m of this.members) {
      const soft = m.group?.failure === undefined ? m.group?.softState : undefined;
      if (soft?.role === 'leader' && soft.term > bestTerm) {
        best = m;
        bestTerm = soft.term;
      }
    }
    return best;
  }

  private progressed(): boolean {
    const leader = this.leader();
    if (!leader) return false;
    const log = leader.group!.log;
    return log.term(log.committed) === leader.group!.softState.term;
  }

  // ——— Members ———

  /** Opens the member's group from its disk; it is up once the open completes (opens fsync too). */
  private restart(m: Member): void {
    m.disk.fault = undefined;
    m.opening = true;
    // Sometimes the machine dies again during recovery (open rewrites the state as a new generation).
    if (this.faultPhase && m.incarnation > 0 && this.random() < this.rates.crash * 25) this.armCrash(m, 1 + Math.floor(this.random() * 8));
    const incarnation = m.incarnation;
    const current = () => m.incarnation === incarnation;
    const sm = new RegisterMachine({
      applied: (index, command, digest) => { if (current()) this.checker.applied(m.id, index, command, digest); },
      restored: (lastIndex, digest) => {
        if (!current()) return;
        this.stats.snapshotRestores++;
        this.checker.restored(m.id, lastIndex, digest);
      },
    });
    RaftGroup.open({
      id: m.id, fileSystem: m.fs, dir: DIR, initialVoters: m.founder ? this.members.filter((x) => x.founder).map((x) => x.id) : [],
      stateMachine: sm, random: seededRandom(this.options.seed * 1009 + incarnation * 31 + this.members.indexOf(m)), limits: this.limits,
      send: (messages) => { if (current() && m.group) this.network.send(m.id, messages, this.now); },
      onSoftState: (s) => { if (current() && s.role === 'leader') this.checker.leader(s.term, m.id); },
      onFatal: (error) => this.fail(`${m.id} broke an invariant: ${error.stack ?? error.message}`),
    }).then(
      (group) => {
        m.opening = false;
        if (!current()) return void group.close(); // crashed while opening
        m.group = group;
        m.sm = sm;
      },
      (error: unknown) => {
        m.opening = false;
        if (!(error instanceof SimulatedCrash)) this.fail(`${m.id} could not restart: ${(error as Error).stack ?? String(error)}`);
      },
    );
  }

  /** The member is down from now on; it restarts later from `image`. */
  private crashed(m: Member, image: MemoryFileSystem): void {
    m.incarnation++;
    const group = m.group;
    m.group = undefined;
    m.sm = undefined;
    m.disk = image;
    m.fs = this.slowDisk(image);
    m.restartAt = this.now + 3 + Math.floor(this.random() * 40);
    this.stats.crashes++;
    if (group) void group.close();
  }

  private crashImage(m: Member): MemoryFileSystem {
    const variant = CRASH_VARIANTS[Math.floor(this.random() * CRASH_VARIANTS.length)]!;
    return m.disk.crash(Math.floor(this.random() * 2 ** 31), variant);
  }

  /** Crashes `m` just before its `calls`-th next mutating file-system call. */
  private armCrash(m: Member, calls: number): void {
    let seen = 0;
    const disk = m.disk;
    disk.fault = (op) => {
      if (!MUTATING.has(op) || ++seen < calls) return undefined;
      const image = this.crashImage(m);
      disk.fault = () => new SimulatedCrash('the machine is down');
      this.stats.crashesMidWrite++;
      this.crashed(m, image);
      return new SimulatedCrash(`crashed before ${op}`);
    };
  }

  // ——— Faults ———

  private injectFaults(): void {
    const up = this.up();
    if (up.length > 0 && this.random() < this.rates.crash) {
      const victim = up[Math.floor(this.random() * up.length)]!;
      if (this.random() < 0.5) this.crashed(victim, this.crashImage(victim));
      else this.armCrash(victim, 1 + Math.floor(this.random() * 12));
    }
    if (this.random() < this.rates.partition && !this.network.partitioned) this.partition();
    const leader = this.leader();
    if (leader && this.random() < this.rates.transfer) this.transfer(leader);
    if (leader && this.random() < this.rates.membership) this.changeMembership(leader);
  }

  private partition(): void {
    const ids = this.shuffled(this.members.map((m) => m.id));
    const kind = this.random();
    const leader = this.leader();
    if (kind < 0.3 && leader) this.network.split([leader.id], ids.filter((id) => id !== leader.id));
    else if (kind < 0.7) {
      const cut = 1 + Math.floor(this.random() * (ids.length - 1));
      this.network.split(ids.slice(0, cut), ids.slice(cut));
    } else {
      for (let k = 0; k < 1 + Math.floor(this.random() * 3); k++) this.network.block(ids[k]!, ids[(k + 1) % ids.length]!);
    }
    this.healAt = this.now + 20 + Math.floor(this.random() * 130);
    this.stats.partitions++;
  }

  private heal(): void {
    this.network.heal();
    this.healAt = Infinity;
  }

  private transfer(leader: Member): void {
    const others = leader.group!.status().voters.filter((v) => v !== leader.id);
    if (others.length === 0) return;
    leader.group!.transferLeadership(others[Math.floor(this.random() * others.length)]!);
    this.stats.transfers++;
  }

  private changeMembership(leader: Member): void {
    const voters = leader.group!.status().voters;
    const outside = this.members.map((m) => m.id).filter((id) => !voters.includes(id));
    const change = outside.length > 0 && voters.length <= this.options.nodes
      ? { type: 'add' as const, node: outside[Math.floor(this.random() * outside.length)]! }
      : voters.length > this.options.nodes ? { type: 'remove' as const, node: voters[Math.floor(this.random() * voters.length)]! } : undefined;
    if (!change) return;
    leader.group!.proposeMembership(change).then(() => { this.stats.membershipChanges++; }, (error: unknown) => this.expectRaftError(error));
  }

  private expectRaftError(error: unknown): void {
    if (!(error instanceof RaftError)) this.fail(`a request failed with an unexpected error: ${(error as Error).stack ?? String(error)}`);
  }

  /** Mostly the leader; sometimes any member (NOT_LEADER, stale leaders); rarely while none is known. */
  private pickTarget(): { group: RaftGroup; sm: RegisterMachine } | undefined {
    const up = this.up();
    const leader = this.leader();
    if (up.length === 0 || (!leader && this.random() < 0.8)) return undefined;
    const m = leader && this.random() < 0.9 ? leader : up[Math.floor(this.random() * up.length)]!;
    return { group: m.group!, sm: m.sm! };
  }
}
