/**
 * QEMU's option-value syntax ("QemuOpts"): `value` or `[implied=]value,key=value,key=value`, where a
 * doubled comma stands for a literal comma. Returns the leading implied value (if any) and the pairs.
 */
export function parseQemuOpts(text: string, impliedKey: string): Map<string, string> {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "," && text[i + 1] === ",") {
      current += ",";
      i++;
    } else if (c === ",") {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  const options = new Map<string, string>();
  parts.forEach((part, index) => {
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (index === 0) options.set(impliedKey, part);
      else options.set(part, "on");
    } else {
      options.set(part.slice(0, eq), part.slice(eq + 1));
    }
  });
  return options;
}

/** Parses QEMU's integers: decimal, 0x hex or 0 octal, as strtoul with base 0 does. */
export function parseQemuInteger(text: string): number | undefined {
  const t = text.trim();
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(t)) value = Number.parseInt(t.slice(2), 16);
  else if (/^0[0-7]+$/.test(t)) value = Number.parseInt(t.slice(1), 8);
  else if (/^[0-9]+$/.test(t)) value = Number.parseInt(t, 10);
  else return undefined;
  return Number.isSafeInteger(value) ? value : undefined;
}

const SIZE_SUFFIXES: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * Parses a size such as `-m` takes: a number with an optional K/M/G/T suffix; without a suffix the
 * unit is `defaultUnit` (MiB for -m). Fractions are allowed with a suffix ("1.5G").
 */
export function parseSize(text: string, defaultUnit: number): number | undefined {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([bkmgt])?i?b?\s*$/i.exec(text);
  if (match === null) return undefined;
  const unit = match[2] ? SIZE_SUFFIXES[match[2].toLowerCase()] : defaultUnit;
  if (!match[2] && match[1].includes(".")) return undefined;
  const value = Math.round(Number.parseFloat(match[1]) * unit);
  return Number.isSafeInteger(value) ? value : undefined;
}
