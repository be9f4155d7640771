// The child processes of a test control plane: launching one with its output in a log file,
// waiting for it to become ready, retrying when another process took a chosen port, and
// stopping or killing it. Every failure carries the tail of the process's log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ControlPlaneBinary } from './binaries.ts';

/** How long a process has to become ready, and how long a ready check keeps polling. */
export const START_DEADLINE_MS = 60_000;
/** How long to wait for a process to exit after SIGKILL. */
export const KILL_WAIT_MS = 10_000;
const POLL_MS = 100;
const LOG_TAIL_LINES = 30;
const BIND_RETRIES = 3;

export interface Proc {
  readonly name: ControlPlaneBinary;
  readonly logPath: string;
  child?: ChildProcess | undefined;
  exited?: Promise<void> | undefined;
  /** Set while we stop it on purpose, so that its exit is not reported as a crash. */
  stopping: boolean;
  /** Size of the log when the current run started: the failure tail is read from here. */
  logOffset: number;
  /** Arguments of the current (or last) run, for a relaunch. */
  args: string[];
}

/** A process not yet launched, logging to `<dir>/<name>.log`. */
export function newProc(dir: string, name: ControlPlaneBinary): Proc {
  return { name, logPath: join(dir, `${name}.log`), stopping: false, logOffset: 0, args: [] };
}

/** What the Supervisor needs from the control plane that owns the processes. */
export interface SupervisorHooks {
  /** Folder holding the binaries. */
  readonly bin: string;
  /** Working directory of the processes. */
  readonly cwd: string;
  /** Progress lines. */
  log(line: string): void;
  /** Unexpected exits and launch failures. */
  report(line: string): void;
  /** Whether an exit now is unexpected: the control plane has started and is not being stopped. */
  watching(): boolean;
  /** A child was spawned; resolves once its pid is recorded for cleanup. */
  spawned(pid: number): Promise<void>;
  /** A child exited. */
  exited(pid: number): void;
}

export class Supervisor {
  readonly #hooks: SupervisorHooks;

  constructor(hooks: SupervisorHooks) {
    this.#hooks = hooks;
  }

  /** Launches, retrying with fresh ports when another process took a chosen port first. */
  async launchWithFreePorts(proc: Proc, args: () => Promise<string[]>, ready: (deadline: number) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launch(proc, await args(), ready);
        return;
      } catch (err) {
        const taken = /address already in use/i.test(logTail(proc));
        if (!taken || attempt >= BIND_RETRIES) throw err;
        this.#hooks.log(`control plane: ${proc.name}: a port was taken meanwhile; retrying with other ports`);
        await this.terminate(proc, 'SIGKILL', KILL_WAIT_MS);
      }
    }
  }

  /** Spawns the process and waits until `ready` resolves (it gets the start deadline). */
  async launch(proc: Proc, args: string[], ready: (deadline: number) => Promise<void>): Promise<void> {
    const hooks = this.#hooks;
    const deadline = Date.now() + START_DEADLINE_MS;
    let fd: number | undefined;
    try {
      fd = openSync(proc.logPath, 'a');
      proc.logOffset = statSync(proc.logPath).size;
      const child = spawn(join(hooks.bin, proc.name), args, { stdio: ['ignore', fd, fd], cwd: hooks.cwd });
      proc.child = child;
      proc.args = args;
      proc.stopping = false;
      // Children must not keep this process alive: a forgotten stop() still ends in 'exit' cleanup.
      child.unref();
      proc.exited = new Promise<void>((resolve) => {
        child.once('error', (err) => {
          appendLog(proc, `failed to start ${proc.name}: ${err.message}`);
          if (hooks.watching()) hooks.report(`control plane: failed to start ${proc.name}: ${err.message}`);
          if (proc.child === child) proc.child = undefined;
          resolve();
        });
        child.once('exit', (code, signal) => {
          if (proc.child === child) proc.child = undefined;
          if (child.pid) hooks.exited(child.pid);
          // During start() a failure is reported by the error start() throws.
          if (!proc.stopping && hooks.watching()) {
            const line = `control plane: ${proc.name} exited unexpectedly (${signal ?? `code ${code}`}); log ${proc.logPath}:\n${logTail(proc)}`;
            hooks.report(line);
          }
          resolve();
        });
      });
      if (child.pid) await hooks.spawned(child.pid);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    try {
      await ready(deadline);
    } catch (err) {
      throw withLogTail(err, proc);
    }
  }

  /** Signals the process (then SIGKILL after `graceMs`, for a softer signal) and waits for its exit. */
  async terminate(proc: Proc, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = proc.child;
    if (!child) return;
    proc.stopping = true;
    const exited = proc.exited!;
    child.kill(signal);
    if (await exitsWithin(exited, graceMs)) return;
    if (signal !== 'SIGKILL') {
      this.#hooks.log(`control plane: ${proc.name} did not exit ${graceMs} ms after ${signal}; killing it`);
      child.kill('SIGKILL');
      if (await exitsWithin(exited, KILL_WAIT_MS)) return;
    }
    throw new Error(`control plane: ${proc.name} (pid ${child.pid}) did not exit after SIGKILL`);
  }
}

/** Polls `check` until it returns true, failing when `proc` exits or the deadline passes. */
export async function waitFor(what: string, proc: Proc, deadline: number, check: () => Promise<boolean>): Promise<void> {
  let lastError = '';
  for (;;) {
    if (!proc.child) throw new Error(`control plane: ${proc.name} exited while waiting for ${what}`);
    const ok = await check().then(
      (result) => { lastError = ''; return result; },
      (err: unknown) => { lastError = (err as Error).message; return false; },
    );
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(`control plane: timed out after ${START_DEADLINE_MS} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    }
    await Promise.race([delay(POLL_MS), proc.exited]);
  }
}

/** `err` with the last lines the process logged in its current run appended to the message. */
export function withLogTail(err: unknown, proc: Proc): Error {
  return new Error(`${(err as Error).message}\n--- ${proc.name} log (${proc.logPath}), last lines ---\n${logTail(proc)}`, { cause: err });
}

/** The last lines the process logged in its current run. */
export function logTail(proc: Proc): string {
  try {
    const text = readFileSync(proc.logPath, 'utf8').slice(proc.logOffset);
    return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no log)';
  }
}

function appendLog(proc: Proc, line: string): void {
  try { writeFileSync(proc.logPath, `${line}\n`, { flag: 'a' }); } catch { /* dir removed */ }
}

/** A port that is free on 127.0.0.1 right now (another process may take it before we bind it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Whether `exited` settles within `ms`. The referenced timer keeps this process alive while we wait for an unreferenced child. */
export async function exitsWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
