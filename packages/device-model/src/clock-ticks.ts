// Exact conversions between a nanosecond clock reading and the ticks of a fixed-frequency counter, without BigInt.

const NS_PER_SECOND = 1_000_000_000;

/**
 * The largest clock reading (ns) whose tick count stays an exact integer for a counter at `hz`: whole seconds
 * times hz must stay below 2^53.
 */
export function maxExactNs(hz: number): number {
  return Math.floor(Number.MAX_SAFE_INTEGER / hz) * NS_PER_SECOND;
}

/** Ticks of a `hz` counter elapsed at `ns` nanoseconds: floor(ns * hz / 1e9). NaN and negatives give 0. */
export function ticksAtNs(ns: number, hz: number): number {
  if (!(ns > 0)) return 0;
  const whole = Math.floor(Math.min(ns, maxExactNs(hz)));
  const seconds = Math.floor(whole / NS_PER_SECOND);
  const rest = whole - seconds * NS_PER_SECOND;
  // rest * hz stays below 2^53 for any hz under 9 MHz, so the product is exact.
  return seconds * hz + Math.floor((rest * hz) / NS_PER_SECOND);
}

/** The first nanosecond at which ticksAtNs(ns, hz) reaches `tick`. */
export function nsAtTick(tick: number, hz: number): number {
  if (!(tick > 0)) return 0;
  const seconds = Math.floor(tick / hz);
  const rest = tick - seconds * hz;
  let ns = seconds * NS_PER_SECOND + Math.ceil((rest * NS_PER_SECOND) / hz);
  // Guard the floating-point division's last bit.
  if (ticksAtNs(ns, hz) < tick) ns += 1;
  else if (ns > 0 && ticksAtNs(ns - 1, hz) >= tick) ns -= 1;
  return ns;
}
