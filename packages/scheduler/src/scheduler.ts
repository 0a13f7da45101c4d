/**
 * Decides which vCPU runs next and for how long. In a single-threaded host (a browser tab, one Node
 * thread) vCPUs take turns: the VM asks the scheduler for the next runnable vCPU and runs it for
 * its timeslice, measured in guest instructions. Swap in another implementation to change policy.
 */
export interface Scheduler<T> {
  /** Starts scheduling an entity (runnable). Adding one already present is a no-op. */
  add(entity: T): void;
  /** Stops scheduling an entity. */
  remove(entity: T): void;
  /** A halted vCPU is not runnable until something (an interrupt) wakes it. */
  setRunnable(entity: T, runnable: boolean): void;
  isRunnable(entity: T): boolean;
  /** The next runnable entity, or undefined when every entity is blocked (or there are none). */
  next(): T | undefined;
  /** How many guest instructions `entity` may run before it must yield. */
  timeslice(entity: T): number;
}

export interface RoundRobinOptions {
  /** Guest instructions per turn. Larger slices run faster; smaller ones react sooner to host events. */
  timeslice?: number;
}

export const DEFAULT_TIMESLICE = 200_000;

/** Runnable entities take turns in the order they were added; each turn is the same length. */
export class RoundRobinScheduler<T> implements Scheduler<T> {
  private readonly entities: T[] = [];
  private readonly runnable: boolean[] = [];
  private cursor = 0;
  private readonly slice: number;

  constructor(options: RoundRobinOptions = {}) {
    const slice = options.timeslice ?? DEFAULT_TIMESLICE;
    if (!Number.isInteger(slice) || slice < 1)
      throw new RangeError(`timeslice must be a positive integer, got ${slice}`);
    this.slice = slice;
  }

  add(entity: T): void {
    if (this.entities.includes(entity)) return;
    this.entities.push(entity);
    this.runnable.push(true);
  }

  remove(entity: T): void {
    const i = this.entities.indexOf(entity);
    if (i < 0) return;
    this.entities.splice(i, 1);
    this.runnable.splice(i, 1);
    if (this.cursor > i) this.cursor--;
    if (this.cursor >= this.entities.length) this.cursor = 0;
  }

  setRunnable(entity: T, runnable: boolean): void {
    const i = this.entities.indexOf(entity);
    if (i >= 0) this.runnable[i] = runnable;
  }

  isRunnable(entity: T): boolean {
    const i = this.entities.indexOf(entity);
    return i >= 0 && this.runnable[i];
  }

  next(): T | undefined {
    const n = this.entities.length;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      if (this.runnable[i]) {
        this.cursor = (i + 1) % n;
        return this.entities[i];
      }
    }
    return undefined;
  }

  timeslice(_entity: T): number {
    return this.slice;
  }
}
