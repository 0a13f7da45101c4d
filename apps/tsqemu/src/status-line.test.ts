import { describe, expect, it } from "vitest";
import { formatStatus, StatusLine } from "./index.js";

function terminal(columns = 80) {
  const written: string[] = [];
  return { written, write: (text: string) => written.push(text), columns: () => columns };
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("formatStatus", () => {
  it("reports time, instructions, speed since the last sample, guest time and halts", () => {
    const first = { elapsedMs: 2000, instructions: 30e6, guestNs: 1.5e9, halted: false };
    expect(formatStatus(first, undefined)).toBe(
      "[tsqemu 2.0 s] 30.0 M instructions, 15.0 MIPS, guest time 1.500 s",
    );
    const second = { elapsedMs: 2500, instructions: 40e6, guestNs: 1.75e9, halted: true };
    expect(formatStatus(second, first)).toBe(
      "[tsqemu 2.5 s] 40.0 M instructions, 20.0 MIPS, guest time 1.750 s, halted",
    );
    expect(formatStatus({ ...first, elapsedMs: 0 }, undefined)).toContain("0.0 MIPS");
  });
});

describe("StatusLine", () => {
  it("appears only after the guest has been quiet, at the start of a line", () => {
    const t = terminal();
    const status = new StatusLine(t, 0, 1000);
    status.update("early", 500);
    expect(t.written).toEqual([]);
    status.update("quiet", 1000);
    expect(t.written).toEqual(["\r\x1b[Kquiet"]);
    expect(status.visible).toBe(true);
  });

  it("erases itself before guest output and stays away while a line is unfinished", () => {
    const t = terminal();
    const status = new StatusLine(t, 0, 1000);
    status.update("s1", 2000);
    status.beforeOutput(bytes("tsvmm# "), 2100);
    expect(t.written).toEqual(["\r\x1b[Ks1", "\r\x1b[K"]);
    status.update("s2", 9000); // the prompt is still on the line: the status would overwrite it
    expect(t.written.length).toBe(2);
    status.beforeOutput(bytes("ok\r\n"), 9100);
    status.update("s3", 9500); // not quiet for long enough yet
    status.update("s4", 10_200);
    expect(t.written).toEqual(["\r\x1b[Ks1", "\r\x1b[K", "\r\x1b[Ks4"]);
    status.clear();
    status.clear();
    expect(t.written.at(-1)).toBe("\r\x1b[K");
    expect(t.written.length).toBe(4);
  });

  it("never wraps: the text is cut to the terminal's width", () => {
    const t = terminal(10);
    const status = new StatusLine(t, 0, 0);
    status.update("0123456789abcdef", 1);
    expect(t.written).toEqual(["\r\x1b[K012345678"]);
  });
});
