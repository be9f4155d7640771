// The cleanup layers that keep an interrupted run from leaking processes (stop() itself is in
// control-plane.ts): synchronous cleanups on process 'exit' and SIGINT/SIGTERM/SIGHUP; a
// detached watchdog that kills the children when this process dies without running any handler
// (SIGKILL); and a state file in every control plane's temp dir, by which reapLeftovers() finds
// and removes the leftovers of interrupted runs (temp dirs whose owner process is gone).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitsWithin, KILL_WAIT_MS } from './process.ts';

/** Prefix of every control plane's temp dir under os.tmpdir(); leftovers are found by it. */
export const TEMP_DIR_PREFIX = 'ptemplate-testenv-';
const STATE_FILE = 'testenv.json';

interface StateFile {
  ownerPid: number;
  pids: number[];
}

// --- 'exit' and signal hooks ---

// Synchronous cleanups of every running control plane in this process, for 'exit' and signals.
const liveCleanups = new Set<() => void>();
let hooksInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs `cleanup` (synchronous, best effort) when this process exits or gets SIGINT/SIGTERM/SIGHUP. */
export function addExitCleanup(cleanup: () => void): void {
  liveCleanups.add(cleanup);
  installHooks();
}

/** Undoes addExitCleanup(); the hooks go once no cleanup is left. */
export function removeExitCleanup(cleanup: () => void): void {
  liveCleanups.delete(cleanup);
  if (liveCleanups.size === 0) uninstallHooks();
}

function cleanupAllSync(): void {
  for (const cleanup of liveCleanups) {
    try { cleanup(); } catch { /* best effort while exiting */ }
  }
  liveCleanups.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  uninstallHooks();
  // Re-raise so that the default action (terminate with this signal) happens, unless
  // someone else handles the signal and decides what to do.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.removeListener('exit', cleanupAllSync);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

// --- The watchdog ---

// The watchdog reads pids (one a line; `-pid` forgets one) until end of input, which means that
// this process died (stop() kills the watchdog first): it kills the pids and removes the dir.
const WATCHDOG_SCRIPT = `
pids=" "
while IFS= read -r line; do
  case "$line" in
    -*) pids=$(printf '%s' "$pids" | sed "s/ \${line#-} / /") ;;
    *) pids="$pids$line " ;;
  esac
done
kill -9 $pids 2>/dev/null
rm -rf "$1"
`;

/** A detached shell that kills the tracked pids and removes `dir` when this process dies. */
export class Watchdog {
  readonly #child: ChildProcess;

  /** Spawns the watchdog of `dir`; `log` gets its spawn failure. */
  constructor(dir: string, log: (line: string) => void) {
    const watchdog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'ptemplate-testenv-watchdog', dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', (err) => log(`control plane: watchdog failed: ${err.message}`));
    watchdog.stdin.on('error', () => { /* the watchdog is gone; the other layers still clean up */ });
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
    this.#child = watchdog;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Kills `pid` too when this process dies. */
  track(pid: number): void {
    this.#child.stdin?.write(`${pid}\n`);
  }

  /** `pid` exited: no longer kill it. */
  forget(pid: number): void {
    this.#child.stdin?.write(`-${pid}\n`);
  }

  /** Kills the watchdog (its pids are stopped by then) and waits for its exit. */
  async stop(): Promise<void> {
    const watchdog = this.#child;
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
      this.killSync();
      await exitsWithin(exited, KILL_WAIT_MS);
    }
  }

  /**
   * For 'exit' and signals: kill the watchdog without awaiting anything. Its whole process group:
   * a `$(...)` subshell of the script, forked at that moment, would otherwise outlive it.
   */
  killSync(): void {
    const pid = this.#child.pid;
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

// --- The state file ---

/** The state file of a fresh temp dir: this process owns it, no pids yet. */
export function createStateFile(dir: string): Promise<void> {
  return writeState(dir, { ownerPid: process.pid, pids: [] });
}

/** Records pids in the state file of `dir`, one write after the other. */
export class PidRecorder {
  readonly #dir: string;
  #writes: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.#dir = dir;
  }

  record(pid: number): Promise<void> {
    this.#writes = this.#writes.catch(() => {}).then(async () => {
      const state = JSON.parse(await readFile(join(this.#dir, STATE_FILE), 'utf8')) as StateFile;
      state.pids.push(pid);
      await writeState(this.#dir, state);
    });
    return this.#writes;
  }
}

async function writeState(dir: string, state: StateFile): Promise<void> {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(state));
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, STATE_FILE));
}

// --- Reaping leftovers ---

/** Whether a process with this pid exists (EPERM: it exists but is not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process, to check that a recorded pid is still ours before killing it. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch { /* no procfs (macOS) or gone */ }
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}

/**
 * Removes the temp dirs of control planes whose owner process is gone, killing the
 * processes they recorded (only those whose command line still names that dir).
 */
export async function reapLeftovers(log: (line: string) => void = () => {}): Promise<number> {
  const parent = tmpdir();
  let reaped = 0;
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    if (!entry.startsWith(TEMP_DIR_PREFIX)) continue;
    const dir = join(parent, entry);
    let state: StateFile | undefined;
    try {
      state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as StateFile;
    } catch {
      // No state file: either being created right now, or left by a crash right after mkdtemp.
      const age = await stat(dir).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age < 10 * 60_000) continue;
    }
    if (state && isAlive(state.ownerPid)) continue;
    for (const pid of state?.pids ?? []) {
      if (isAlive(pid) && commandLine(pid)?.includes(dir)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    log(`control plane: removed leftovers of an interrupted run (${dir})`);
    reaped++;
  }
  return reaped;
}
