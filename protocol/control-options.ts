/**
 * The control plane's settings, from cluster.toml's `[control]` table (parsed in config.ts),
 * units last in the names. docs/failover.md gives the arithmetic behind the defaults.
 *
 * Raft runs on ticks of `tick_ms`: a follower that hears no leader for `election_ticks` (to twice
 * that, at random) campaigns; a leader sends heartbeats every `heartbeat_ticks`. A shard leader
 * holds a lease of `lease_ms`, asked for again every `lease_renew_ms`; the control plane elects
 * a new leader for a shard only once `lease_ms × (1 + d) / (1 − d)` (d = clock_drift_percent / 100)
 * has passed since it last granted one (or since it became the control plane's leader), so a
 * leader whose clock runs slow by d still stops before anyone else starts, even if the
 * controller's runs fast by d.
 */
export interface ControlOptions {
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  leaseMs: number;
  leaseRenewMs: number;
  clockDriftPercent: number;
}

export const DEFAULT_CONTROL: Readonly<ControlOptions> = Object.freeze({
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 2,
  leaseMs: 1_500,
  leaseRenewMs: 300,
  clockDriftPercent: 5,
} satisfies ControlOptions);

/** Bounds on each setting, so a typo cannot ask for a week-long lease. */
export const CONTROL_RANGES: { readonly [K in keyof ControlOptions]: readonly [number, number] } = {
  tickMs: [5, 10_000],
  electionTicks: [3, 1_000],
  heartbeatTicks: [1, 100],
  leaseMs: [100, 600_000],
  leaseRenewMs: [10, 300_000],
  clockDriftPercent: [0, 50],
};

/** The cluster.toml key of each setting. */
export const CONTROL_KEYS: Readonly<Record<string, keyof ControlOptions>> = {
  tick_ms: 'tickMs',
  election_ticks: 'electionTicks',
  heartbeat_ticks: 'heartbeatTicks',
  lease_ms: 'leaseMs',
  lease_renew_ms: 'leaseRenewMs',
  clock_drift_percent: 'clockDriftPercent',
};

/**
 * How long after its last grant (or its own election) the control plane waits before electing a
 * new shard leader: the lease as the slowest leader clock could stretch it, read on the fastest
 * controller clock (docs/failover.md has the arithmetic).
 */
export function leaseWaitMs(options: Pick<ControlOptions, 'leaseMs' | 'clockDriftPercent'>): number {
  const drift = options.clockDriftPercent / 100;
  return Math.ceil((options.leaseMs * (1 + drift)) / (1 - drift));
}

/** Relations between settings that ranges alone cannot check; a message per broken one. */
export function controlProblems(o: ControlOptions): string[] {
  const problems: string[] = [];
  if (o.heartbeatTicks >= o.electionTicks) problems.push(`control.heartbeat_ticks (${o.heartbeatTicks}) must be below control.election_ticks (${o.electionTicks})`);
  if (o.leaseRenewMs * 2 > o.leaseMs) problems.push(`control.lease_renew_ms (${o.leaseRenewMs}) must be at most half of control.lease_ms (${o.leaseMs}), so a lease is renewed well before it ends`);
  return problems;
}
