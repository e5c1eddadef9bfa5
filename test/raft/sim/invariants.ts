/**
 * The five safety properties of Raft (Figure 3 of the paper), checked by the simulator after
 * every step over the members that are up:
 *
 *   Election Safety       at most one leader per term (from every role change and from every
 *                         leader-only message seen on the network)
 *   Leader Append-Only    a leader never overwrites or deletes entries of its log in its term
 *   Log Matching          two logs with an entry of the same index and term hold the same
 *                         entries (terms and bytes) up to there
 *   Leader Completeness   an entry committed in term T is in the log of every leader of a
 *                         term after T (the commit term is the term of the first member seen
 *                         committing it, never earlier than the truth, so the check is sound)
 *   State Machine Safety  no two members apply different commands at one index; digests
 *                         chained over all applied commands agree, across snapshot restores
 *
 * `check` returns the first violation as text, or undefined.
 */
import type { RaftLogView, SoftState } from '../../../cluster/raft/index.ts';

export interface Observed {
  id: string;
  incarnation: number;
  soft: SoftState;
  log: RaftLogView;
}

interface Committed {
  term: number;
  commitTerm: number;
}

interface LeaderLog {
  term: number;
  incarnation: number;
  snapshotIndex: number;
  terms: number[];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly leaderLogs = new Map<string, LeaderLog>();
  private readonly committed = new Map<number, Committed>();
  private readonly seenCommit = new Map<string, number>();
  private readonly appliedCommands = new Map<number, { command: string; digest: number }>();
  private violation: string | undefined;

  get firstViolation(): string | undefined {
    return this.violation;
  }

  private fail(text: string): void {
    this.violation ??= text;
  }

  /** A member acted as leader of `term` (a role change or a leader-only message). */
  leader(term: number, id: string): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) this.leaderOfTerm.set(term, id);
    else if (known !== id) this.fail(`Election Safety: ${known} and ${id} both led term ${term}`);
  }

  applied(id: string, index: number, command: string, digest: number): void {
    const known = this.appliedCommands.get(index);
    if (!known) this.appliedCommands.set(index, { command, digest });
    else if (known.command !== command) this.fail(`State Machine Safety: ${id} applied ${command} at ${index}, another member applied ${known.command}`);
    else if (known.digest !== digest) this.fail(`State Machine Safety: ${id}'s state after ${index} differs from another member's (digest ${digest} vs ${known.digest})`);
  }

  restored(id: string, lastIndex: number, digest: number): void {
    const known = this.appliedCommands.get(lastIndex);
    if (lastIndex > 0 && !known) this.fail(`State Machine Safety: ${id} restored a snapshot ending at ${lastIndex}, a command no member applied`);
    else if (known && known.digest !== digest) this.fail(`State Machine Safety: ${id} restored a snapshot at ${lastIndex} whose state differs (digest ${digest} vs ${known.digest})`);
  }

  check(members: readonly Observed[]): string | undefined {
    for (const m of members) if (m.soft.role === 'leader') this.leader(m.soft.term, m.id);
    const newlyCommitted = this.recordCommits(members);
    for (const m of members) if (m.soft.role === 'leader') this.checkLeader(m, newlyCommitted);
    for (let a = 0; a < members.length; a++) for (let b = a + 1; b < members.length; b++) this.checkLogMatching(members[a]!, members[b]!);
    return this.violation;
  }

  private recordCommits(members: readonly Observed[]): number[] {
    const fresh: number[] = [];
    for (const m of members) {
      const key = `${m.id}#${m.incarnation}`;
      const from = Math.max(this.seenCommit.get(key) ?? 0, m.log.firstIndex() - 1);
      for (let i = from + 1; i <= m.log.committed; i++) {
        const term = m.log.term(i)!;
        const known = this.committed.get(i);
        if (!known) {
          this.committed.set(i, { term, commitTerm: m.soft.term });
          fresh.push(i);
        } else if (known.term !== term) {
          this.fail(`State Machine Safety: ${m.id} committed ${i}/${term}, but ${i}/${known.term} was committed before`);
        }
      }
      this.seenCommit.set(key, m.log.committed);
    }
    return fresh;
  }

  private checkLeader(m: Observed, newlyCommitted: readonly number[]): void {
    const { log, soft: status } = m;
    const previous = this.leaderLogs.get(m.id);
    const sameReign = previous && previous.term === status.term && previous.incarnation === m.incarnation;
    if (sameReign) {
      const previousLast = previous.snapshotIndex + previous.terms.length;
      if (log.lastIndex() < previousLast) this.fail(`Leader Append-Only: leader ${m.id} of term ${status.term} shrank its log from ${previousLast} to ${log.lastIndex()}`);
      for (let i = Math.max(previous.snapshotIndex, log.snapshot.index) + 1; i <= Math.min(previousLast, log.lastIndex()); i++) {
        if (log.term(i) !== previous.terms[i - previous.snapshotIndex - 1]) this.fail(`Leader Append-Only: leader ${m.id} of term ${status.term} changed entry ${i}`);
      }
    }
    const terms: number[] = [];
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) terms.push(log.term(i)!);
    this.leaderLogs.set(m.id, { term: status.term, incarnation: m.incarnation, snapshotIndex: log.snapshot.index, terms });
    // Completeness: everything committed before this term, at first sight of the reign; then each new commit.
    const indexes = sameReign ? newlyCommitted : [...this.committed.keys()];
    for (const i of indexes) {
      const c = this.committed.get(i)!;
      if (c.commitTerm >= status.term || i <= log.snapshot.index) continue;
      if (log.term(i) !== c.term) this.fail(`Leader Completeness: leader ${m.id} of term ${status.term} lacks ${i}/${c.term}, committed in term ${c.commitTerm} (has term ${log.term(i)})`);
    }
  }

  private checkLogMatching(a: Observed, b: Observed): void {
    const low = Math.max(a.log.snapshot.index, b.log.snapshot.index);
    let i = Math.min(a.log.lastIndex(), b.log.lastIndex());
    while (i >= low && a.log.term(i) !== b.log.term(i)) i--;
    for (; i >= low; i--) {
      const ea = a.log.entry(i);
      const eb = b.log.entry(i);
      const same = a.log.term(i) === b.log.term(i) && (!ea || !eb || (ea.type === eb.type && sameBytes(ea.data, eb.data)));
      if (!same) {
        this.fail(`Log Matching: ${a.id} and ${b.id} agree on a later entry but differ at ${i} (${a.log.term(i)} vs ${b.log.term(i)})`);
        return;
      }
    }
  }
}
