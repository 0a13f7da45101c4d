// Calendar arithmetic for the RTC: seconds since 1970-01-01 00:00:00 in the proleptic Gregorian calendar (no time
// zone: the RTC just counts civil time), and the BCD/binary and 12/24-hour register encodings.

export const SECONDS_PER_DAY = 86_400;

/** A broken-down civil time. month is 1-12, dayOfWeek 0-6 with 0 = Sunday. */
export interface CivilTime {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
  dayOfWeek: number;
}

/** Days from 1970-01-01 to year-month-day; month and day may lie outside their ranges and carry over. */
export function daysFromCivil(year: number, month: number, day: number): number {
  // Carry months beyond 1-12 into the year first.
  const monthIndex = month - 1;
  year += Math.floor(monthIndex / 12);
  const m = monthIndex - 12 * Math.floor(monthIndex / 12) + 1;
  // Count from 0000-03-01 so that the leap day is the last day of each (March-based) year.
  const y = m <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5);
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  // 719468 days separate 0000-03-01 from 1970-01-01; day - 1 lets days past the month's end carry over.
  return era * 146_097 + dayOfEra - 719_468 + (day - 1);
}

/** The civil date of a day number (days since 1970-01-01). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Breaks seconds since 1970 into civil fields. */
export function civilFromSeconds(totalSeconds: number): CivilTime {
  const days = Math.floor(totalSeconds / SECONDS_PER_DAY);
  const secondOfDay = totalSeconds - days * SECONDS_PER_DAY;
  const { year, month, day } = civilFromDays(days);
  return {
    year,
    month,
    day,
    hours: Math.floor(secondOfDay / 3600),
    minutes: Math.floor((secondOfDay % 3600) / 60),
    seconds: secondOfDay % 60,
    // 1970-01-01 was a Thursday.
    dayOfWeek: mod(days + 4, 7),
  };
}

/** Seconds since 1970 of civil fields (dayOfWeek is ignored); out-of-range fields carry over. */
export function secondsFromCivil(time: Omit<CivilTime, "dayOfWeek">): number {
  return (
    daysFromCivil(time.year, time.month, time.day) * SECONDS_PER_DAY +
    time.hours * 3600 +
    time.minutes * 60 +
    time.seconds
  );
}

/** Non-negative remainder. */
export function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** 0-99 as two BCD digits. */
export function toBcd(value: number): number {
  return (Math.floor(value / 10) << 4) | (value % 10);
}

/** Two BCD digits as a number; invalid digits (A-F) count with their hex value, so any byte decodes (0-165). */
export function fromBcd(byte: number): number {
  return (byte >>> 4) * 10 + (byte & 0x0f);
}

/** Encodes 0-99 as a register byte: BCD, or binary when the DM bit is set. */
export function encodeField(value: number, binary: boolean): number {
  return binary ? value : toBcd(value);
}

export function decodeField(byte: number, binary: boolean): number {
  return binary ? byte : fromBcd(byte);
}

/** Encodes hours 0-23: in 12-hour mode as 1-12 with bit 7 set for PM (12 AM is midnight, 12 PM noon). */
export function encodeHours(hours: number, binary: boolean, twentyFourHour: boolean): number {
  if (twentyFourHour) return encodeField(hours, binary);
  const pm = hours >= 12 ? 0x80 : 0;
  const twelve = hours % 12 === 0 ? 12 : hours % 12;
  return encodeField(twelve, binary) | pm;
}

/** Decodes an hours register byte to 0-23 for valid encodings (garbage decodes to some number, which carries). */
export function decodeHours(byte: number, binary: boolean, twentyFourHour: boolean): number {
  if (twentyFourHour) return decodeField(byte, binary);
  const twelve = decodeField(byte & 0x7f, binary);
  const pm = (byte & 0x80) !== 0;
  return (twelve === 12 ? 0 : twelve) + (pm ? 12 : 0);
}
